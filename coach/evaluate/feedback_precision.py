"""Precision of the feedback's words: is the problem the coach names really in the reply, and does it
quote the sentence that carries it?

    result = FeedbackPrecision()(examples, analyses)   # examples with gold moves (coach.moves.MovesExample)
    result["precision"], result["by_message"], result["by_detector_probability"]
    items = read_quote_set(Path("eval/data/quote_set.jsonl"))
    result = QuoteAccuracy()(items, analyses)          # replies with one marked problem sentence
    result["quote_accuracy"], result["named_rate"]

Verdict accuracy says whether *mixed* or *poor* was right; this says whether the reason given was.
Each named problem ("puts the blame on the customer", "reads as sarcasm", "sends the customer
elsewhere" …) is checked against the reply's gold moves, overall, per language, per message and by
the probability of the detector behind it (the rule's evidence signal), which is how
coach.feedback.NAMED_FROM was chosen. The tone-based messages (irritation, dismissive) have no move
of their own; they count as right when the reply has any move that carries an own-state leak.
``eval/feedback_precision.py`` runs it on the moves model's test split.

The quote set (``eval/data/quote_set.jsonl``) holds replies of two to four sentences in which exactly
one sentence carries a problem (one of ``QUOTED_PROBLEMS``) and the others are clean. For each reply
the coach either names that problem in some dimension or not (``named_rate``); each message that
names it should quote the marked sentence (``quote_accuracy``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import coach.feedback
from coach.errors import UserError
from coach.labels import LANGUAGES
from coach.rubric import Rubric, load_rubric
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
QUOTED_PROBLEMS = ("blames_customer", "sarcasm", "defensive_or_irritated", "panicked_or_helpless", "deflects", "hides_behind_policy")


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
            for dimension, feedback in assess_reply(analysis, example.lang, rubric=rubric).items():
                if feedback.verdict == "good" or feedback.rule not in MOVES_OF_MESSAGE:
                    continue
                sure = feedback.named_sureness
                rows.append({"id": example.id, "lang": example.lang, "dimension": dimension, "verdict": feedback.verdict,
                             "message": feedback.rule, "detector": None if sure is None else round(sure, 3),
                             "right": bool(MOVES_OF_MESSAGE[feedback.rule] & set(example.moves))})  # fmt: skip
        return rows


def read_quote_set(path: Path) -> list[dict]:
    """The quote set's items; UserError naming the line and field of anything malformed."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            for name in ("id", "lang", "reply", "problem", "problem_sentence"):
                if not isinstance(item.get(name), str) or not item[name].strip():
                    raise ValueError(f"field '{name}' must be non-empty text")
            if item["lang"] not in LANGUAGES:
                raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, found {item['lang']!r}")
            if item["problem"] not in QUOTED_PROBLEMS:
                raise ValueError(f"problem must be one of {', '.join(QUOTED_PROBLEMS)}, found {item['problem']!r}")
            if item["problem_sentence"] not in item["reply"]:
                raise ValueError("problem_sentence must be copied exactly from reply")
        except ValueError as err:
            raise UserError(f"{path}:{number}: {err}") from None
        items.append(item)
    return items


@dataclass
class QuoteAccuracy:
    rubric: Rubric | None = None
    primary_metric: str = "quote_accuracy"

    def __call__(self, items: list[dict], analyses) -> dict:
        rubric, rows = self.rubric or load_rubric(), []
        for item, analysis in zip(items, analyses):
            naming = [f for f in assess_reply(analysis, item["lang"], rubric=rubric).values()
                      if f.verdict != "good" and item["problem"] in MOVES_OF_MESSAGE.get(f.rule, ())]  # fmt: skip
            marked = coach.feedback.shorten(item["problem_sentence"])
            rows.append({"id": item["id"], "lang": item["lang"], "problem": item["problem"], "named": bool(naming),
                         "quotes": len(naming), "right": sum(marked in f.text for f in naming),
                         "messages": [f.rule for f in naming]})  # fmt: skip
        return {**_quotes(rows), **{lang: _quotes([r for r in rows if r["lang"] == lang]) for lang in LANGUAGES},
                "by_problem": {p: _quotes([r for r in rows if r["problem"] == p]) for p in QUOTED_PROBLEMS}, "rows": rows}


def _quotes(rows: list[dict]) -> dict:
    quotes, right = sum(r["quotes"] for r in rows), sum(r["right"] for r in rows)
    return {"n": len(rows), "named_rate": round(sum(r["named"] for r in rows) / len(rows), 3) if rows else None,
            "quotes": quotes, "quote_accuracy": round(right / quotes, 3) if quotes else None}  # fmt: skip


def _precision(rows: list[dict]) -> dict:
    right = sum(r["right"] for r in rows)
    return {"n": len(rows), "right": right, "precision": round(right / len(rows), 3) if rows else None}


def _grouped(rows: list[dict], key) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: _precision(group) for name, group in sorted(groups.items())}
