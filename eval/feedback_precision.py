"""How often the problem the coach names is really in the reply, on the moves model's test split.

    python eval/feedback_precision.py                       # shipped models and rule table
    python eval/feedback_precision.py --named-from 0        # as before the gate: every problem named
    python eval/feedback_precision.py --out eval/results/feedback_precision.json   # ... and keep the figures

The test split (models/data, 20% of each language, never trained on) carries gold moves for every
reply; coach/evaluate/feedback_precision.py explains what counts as right.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import coach.feedback
from coach.evaluate.feedback_precision import FeedbackPrecision
from coach.labels import LANGUAGES
from coach.moves import is_test, read_moves_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="JSON file for the figures and every named problem")
    parser.add_argument("--named-from", type=float, help="name a problem from this detector probability "
                        f"(default coach.feedback.NAMED_FROM, {coach.feedback.NAMED_FROM})")  # fmt: skip
    args = parser.parse_args()
    if args.named_from is not None:
        coach.feedback.NAMED_FROM = args.named_from
    from coach.analysis import load_analyzer

    examples = [e for e in read_moves_data() if is_test(e)]
    analyzer, analyses = load_analyzer(), [None] * len(examples)
    for lang in LANGUAGES:  # the language picks the tone thresholds, as in the app
        rows = [i for i, e in enumerate(examples) if e.lang == lang]
        for i, analysis in zip(rows, analyzer.analyze([examples[i].reply for i in rows], lang=lang)):
            analyses[i] = analysis
    result = FeedbackPrecision()(examples, analyses)
    print(f"{len(examples)} test replies; a problem a gold move can confirm was named {result['n']} times")
    for name, group in (("all", result), *((lang, result[lang]) for lang in LANGUAGES)):
        print(f"{name:4s} precision {group['precision']}  ({group['right']}/{group['n']})")
    for title, key in (("by the named detector's probability", "by_detector_probability"), ("by message", "by_message")):
        print(title + ":")
        for name, entry in result[key].items():
            print(f"  {name:20s} {entry['precision']}  ({entry['right']}/{entry['n']})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**result, "named_from": coach.feedback.NAMED_FROM}, indent=1))


if __name__ == "__main__":
    main()
