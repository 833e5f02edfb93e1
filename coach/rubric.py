"""Evaluate the declarative rule table (coach/rubric.yaml) on one analysed reply.

    rubric = load_rubric()
    signals = rubric_signals(tone_scores, moves, reply, customer_mood=2)
    assessment = rubric.assess(signals)
    assessment["own"].score, assessment["own"].verdict, assessment["own"].contributions

The rules only ever see numbers in [0, 1] named in the table; how those numbers are computed
(classifier heads, context) is the business of coach/analysis.py, and what is said about them
is the business of coach/feedback.py. docs/rubric.md explains every rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from coach.labels import COARSE_TONES, DIMENSIONS, SERVICE_MOVES

RUBRIC_FILE = Path(__file__).with_name("rubric.yaml")
CONTEXT_SIGNALS = ("context.mirroring", "context.panic_apology", "context.curt", "context.irritation_leak",
                   "context.bounce", "context.clear_sarcasm")  # fmt: skip
CLEAR_SARCASM_FROM = 0.7
KNOWN_SIGNALS = (
    tuple(f"tone.{t}" for t in COARSE_TONES) + tuple(f"move.{m}" for m in SERVICE_MOVES) + CONTEXT_SIGNALS
)
UPSET_CUSTOMER_MOOD = 3
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Rule:
    signal: str
    weight: float
    message: str
    evidence: str  # the signal whose strongest sentence is quoted


@dataclass(frozen=True)
class Contribution:
    rule: Rule
    value: float  # the signal's value for this reply

    @property
    def amount(self) -> float:
        return self.rule.weight * self.value


@dataclass(frozen=True)
class DimensionAssessment:
    dimension: str
    score: float
    verdict: str
    contributions: tuple[Contribution, ...]  # every rule, strongest effect first
    missing_message: str

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "verdict": self.verdict}


@dataclass(frozen=True)
class DimensionRules:
    base: float
    rules: tuple[Rule, ...]
    missing: str


@dataclass(frozen=True)
class Rubric:
    good_at: float
    poor_below: float
    signal_floor: float
    dimensions: dict[str, DimensionRules]

    def verdict(self, score: float) -> str:
        if score >= self.good_at:
            return "good"
        return "poor" if score < self.poor_below else "mixed"

    def assess(self, signals: dict[str, float]) -> dict[str, DimensionAssessment]:
        floor = self.signal_floor
        signals = {name: max(0.0, (value - floor) / (1.0 - floor)) for name, value in signals.items()}
        out = {}
        for name, table in self.dimensions.items():
            contributions = tuple(
                sorted((Contribution(r, signals.get(r.signal, 0.0)) for r in table.rules), key=lambda c: -abs(c.amount))
            )
            score = min(1.0, max(0.0, table.base + sum(c.amount for c in contributions)))
            out[name] = DimensionAssessment(name, score, self.verdict(score), contributions, table.missing)
        return out


def rubric_signals(tone_scores: dict[str, float], moves: dict[str, float], reply: str,
                   customer_mood: int | None = None) -> dict[str, float]:  # fmt: skip
    """Every signal the rule table can name, from the classifier outputs and the context."""
    signals = {f"tone.{t}": float(tone_scores.get(t, 0.0)) for t in COARSE_TONES}
    signals.update({f"move.{m}": float(moves.get(m, 0.0)) for m in SERVICE_MOVES})
    hostile = max(signals["tone.irritated"], signals["tone.dismissive"], signals["move.sarcasm"])
    upset = customer_mood is not None and customer_mood <= UPSET_CUSTOMER_MOOD
    signals["context.mirroring"] = hostile if upset else 0.0
    signals["context.panic_apology"] = min(signals["move.apologises"], signals["tone.anxious"])
    signals["context.curt"] = 1.0 if len(_WORD.findall(reply)) <= 2 else 0.0
    # Emotion words inside an acknowledgement ("I get why you're angry") describe the customer.
    signals["context.irritation_leak"] = signals["tone.irritated"] * (1.0 - signals["move.acknowledges_feeling"])
    # Sending someone onward is a bounce only when nobody owns the case on the way.
    signals["context.bounce"] = signals["move.deflects"] * (1.0 - signals["move.takes_ownership"])
    # Only a confident sarcasm reading counts in full: the detector also fires weakly on sincere replies.
    signals["context.clear_sarcasm"] = max(0.0, (signals["move.sarcasm"] - CLEAR_SARCASM_FROM) / (1.0 - CLEAR_SARCASM_FROM))
    return signals


def parse_rubric(raw: dict, source: Path) -> Rubric:
    problems = []
    dimensions = {}
    for name in DIMENSIONS:
        table = raw.get("dimensions", {}).get(name)
        if table is None:
            problems.append(f"dimensions.{name}: missing")
            continue
        rules = []
        for i, rule in enumerate(table.get("rules", [])):
            if rule.get("signal") not in KNOWN_SIGNALS:
                problems.append(f"dimensions.{name}.rules[{i}].signal: unknown signal {rule.get('signal')!r}")
            rules.append(Rule(rule.get("signal"), float(rule["weight"]), rule["message"], rule.get("evidence", rule.get("signal"))))
        dimensions[name] = DimensionRules(float(table["base"]), tuple(rules), table["missing"])
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    verdicts = raw["verdicts"]
    return Rubric(float(verdicts["good_at"]), float(verdicts["poor_below"]), float(raw["signal_floor"]), dimensions)


@lru_cache(maxsize=4)
def load_rubric(path: Path = RUBRIC_FILE) -> Rubric:
    return parse_rubric(yaml.safe_load(path.read_text(encoding="utf-8")), path)
