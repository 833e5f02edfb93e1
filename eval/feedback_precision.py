"""How often the problem the coach names is really in the reply (the moves model's test split), and
whether its quote is the sentence that carries the problem (eval/data/quote_set.jsonl).

    python eval/feedback_precision.py                       # shipped models and rule table
    python eval/feedback_precision.py --named-from 0        # as before the gate: every problem named
    python eval/feedback_precision.py --out eval/results/feedback_precision.json   # ... and keep the figures

The test split (models/data, 20% of each language, never trained on) carries gold moves for every
reply; the quote set marks the one sentence of each reply that carries its problem.
coach/evaluate/feedback_precision.py explains what counts as right.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import coach.feedback
from coach.evaluate.feedback_precision import FeedbackPrecision, QuoteAccuracy, read_quote_set
from coach.labels import LANGUAGES
from coach.moves import is_test, read_moves_data
from coach.paths import REPO_ROOT

QUOTE_SET = REPO_ROOT / "eval" / "data" / "quote_set.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="JSON file for the figures and every named problem")
    parser.add_argument("--quotes", type=Path, default=QUOTE_SET, help="the quote set (default eval/data/quote_set.jsonl)")
    parser.add_argument("--named-from", type=float, help="name a problem from this detector probability "
                        f"(default coach.feedback.NAMED_FROM, {coach.feedback.NAMED_FROM})")  # fmt: skip
    args = parser.parse_args()
    if args.named_from is not None:
        coach.feedback.NAMED_FROM = args.named_from
    from coach.analysis import analyze_by_language, load_analyzer

    examples, items = [e for e in read_moves_data() if is_test(e)], read_quote_set(args.quotes)
    analyzer = load_analyzer()
    result = FeedbackPrecision()(examples, analyze_by_language(analyzer, [e.lang for e in examples], [e.reply for e in examples]))
    quotes = QuoteAccuracy()(items, analyze_by_language(analyzer, [i["lang"] for i in items], [i["reply"] for i in items]))
    print(f"{len(examples)} test replies; a problem a gold move can confirm was named {result['n']} times")
    for name, group in (("all", result), *((lang, result[lang]) for lang in LANGUAGES)):
        print(f"{name:4s} precision {group['precision']}  ({group['right']}/{group['n']})")
    for title, key in (("by the named detector's probability", "by_detector_probability"), ("by message", "by_message")):
        print(title + ":")
        for name, entry in result[key].items():
            print(f"  {name:20s} {entry['precision']}  ({entry['right']}/{entry['n']})")
    print(f"quote set {args.quotes}: {quotes['n']} replies, one problem sentence each")
    for name, group in (("all", quotes), *((lang, quotes[lang]) for lang in LANGUAGES), *quotes["by_problem"].items()):
        print(f"  {name:22s} problem named {group['named_rate']}, right sentence quoted {group['quote_accuracy']} "
              f"({group['quotes']} quotes)")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**result, "named_from": coach.feedback.NAMED_FROM, "quote_set": quotes}, indent=1))


if __name__ == "__main__":
    main()
