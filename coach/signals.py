"""What the classifier read in one learner reply: the input to branching and to the rubric.

Scenario branches (coach/scenario.py) and the coach's rubric (coach/rubric.py) look only at a
``ReplySignals``; they never call a model. The real analyser builds one from the tone and
moves models; tests and scripted play build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coach.labels import COARSE_TONES, SERVICE_MOVES

# A move counts as present in a reply when its probability reaches this value.
MOVE_PRESENT_AT = 0.5


@dataclass(frozen=True)
class ReplySignals:
    tone: str
    tone_confidence: float = 1.0
    moves: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tone not in COARSE_TONES:
            raise ValueError(f"unknown tone {self.tone!r}; expected one of {', '.join(COARSE_TONES)}")
        unknown = sorted(set(self.moves) - set(SERVICE_MOVES))
        if unknown:
            raise ValueError(
                f"unknown service move(s) {', '.join(unknown)}; expected names from {', '.join(SERVICE_MOVES)}"
            )

    def has(self, move: str) -> bool:
        return self.moves.get(move, 0.0) >= MOVE_PRESENT_AT

    @property
    def present_moves(self) -> tuple[str, ...]:
        return tuple(m for m in SERVICE_MOVES if self.has(m))
