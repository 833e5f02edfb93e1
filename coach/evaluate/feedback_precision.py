"""Precision of the feedback's words: is the problem the coach names really in the reply?

    result = FeedbackPrecision()(examples, analyses)   # examples with gold moves (coach.moves.MovesExample)
    result["precision"], result["by_message"], result["by_detector_probability"]

Verdict accuracy says whether *mixed* or *poor* was right; this says whether the reason given was.
Each named problem ("puts the blame on the customer", "reads as sarcasm", "sends the customer
elsewhere" …) is checked against the reply's gold moves, overall, per language, per message and by
the probability of the detector behind it (the rule's evidence signal), which is how
coach.feedback.NAMED_FROM was chosen. The tone-based messages (irritation, dismissive) have no move
of their own; they count as right when the reply has any move that carries an own-state leak.
``eval/feedback_precision.py`` runs it on the moves model's test split.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import coach.feedback
from coach.labels import LANGUAGES
from coach.rubric import Rubric, load_rubric, rubric_signals
from coach.session import assess_reply

LEAK_MOVES = frozenset({"defensive_or_irritated", "sarcasm", "blames_customer"})
MOVES_OF_MESSAGE = {
    "others_blame": {"blames_customer"}, "customer_blame": {"blames_customer"},
    "own_sarcasm": {"sarcasm"}, "others_sarcasm": {"sarcasm"},
    "own_defensive": {"defensive_or_irritated", "blames_customer"},
    "own_helpless": {"panicked_or_helpless"}, "own_panic": {"panicked_or_helpless"},
    "customer_flustered": {"panicked_or_helpless"},
    "customer_deflects": {"deflects"},
    "others_policy": {"hides_behind_policy"}, "customer_policy": {"hides_behind_policy"},
    "own_irritation": LEAK_MOVES, "others_irritation": LEAK_MOVES, "own_dismissive": LEAK_MOVES,
    "others_dismissive": LEAK_MOVES | {"deflects"},
}  # fmt: skip


@dataclass
class FeedbackPrecision:
    rubric: Rubric | None = None
    primary_metric: str = "precision"

    def __call__(self, examples, analyses) -> dict:
        rows = self.named_problems(examples, analyses)
        return {**_precision(rows), **{lang: _precision([r for r in rows if r["lang"] == lang]) for lang in LANGUAGES},
                "by_message": _grouped(rows, lambda r: r["message"]),
                # a leak kind is chosen by coach.feedback._leak_kind, not by one rule's detector
                "by_detector_probability": _grouped(rows, lambda r: "leak kind" if r["detector"] is None
                                                    else f"{min(int(r['detector'] * 10), 9) / 10:.1f}"),
                "rows": rows}  # fmt: skip

    def named_problems(self, examples, analyses) -> list[dict]:
        """One row per not-good verdict whose feedback names a problem that a gold move can confirm."""
        rubric, rows = self.rubric or load_rubric(), []
        for example, analysis in zip(examples, analyses):
            assessment = rubric.assess(rubric_signals(analysis.tone_scores, analysis.moves, analysis.reply, None, analysis.readings))
            for dimension, feedback in assess_reply(analysis, example.lang, rubric=rubric).items():
                if feedback.verdict == "good" or feedback.rule not in MOVES_OF_MESSAGE:
                    continue
                carrier = next((c for c in assessment[dimension].contributions  # the one coach.feedback named
                                if c.amount <= -coach.feedback.MIN_EFFECT and c.evidence_value >= coach.feedback.NAMED_FROM
                                and c.rule.message == feedback.rule), None)  # fmt: skip
                rows.append({"id": example.id, "lang": example.lang, "dimension": dimension, "verdict": feedback.verdict,
                             "message": feedback.rule,
                             "detector": round(carrier.evidence_value, 3) if carrier else None,
                             "right": bool(MOVES_OF_MESSAGE[feedback.rule] & set(example.moves))})  # fmt: skip
        return rows


def _precision(rows: list[dict]) -> dict:
    right = sum(r["right"] for r in rows)
    return {"n": len(rows), "right": right, "precision": round(right / len(rows), 3) if rows else None}


def _grouped(rows: list[dict], key) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: _precision(group) for name, group in sorted(groups.items())}
