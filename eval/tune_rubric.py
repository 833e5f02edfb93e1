"""Check coach/rubric.yaml against a gold file while editing it: fast, because the model runs once.

    python eval/tune_rubric.py                          # gold_dev, all disagreements listed
    python eval/tune_rubric.py --gold eval/data/gold_test.jsonl --quiet   # the held-out report

The analyses of the gold replies are cached in --cache (keyed by the tone and moves artifacts'
modification times), so after the first run each edit of the rule table is scored in a second.
Tune on gold_dev only; gold_test is for reporting.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from coach.analysis import ReplyAnalysis
from coach.evaluate.replies import parse_record
from coach.labels import DIMENSIONS
from coach.paths import REPO_ROOT
from coach.rubric import RUBRIC_FILE, parse_rubric
from coach.session import assess_reply


def cached_analyses(records, cache: Path) -> list[ReplyAnalysis]:
    artifacts = [REPO_ROOT / "models" / "tone" / "tone_weights.safetensors", REPO_ROOT / "models" / "moves" / "moves_head.json"]
    key = hashlib.sha256(json.dumps([r.reply for r in records] + [p.stat().st_mtime for p in artifacts]).encode()).hexdigest()[:16]
    path = cache / f"analyses-{key}.json"
    if path.is_file():
        return [ReplyAnalysis.from_record(r) for r in json.loads(path.read_text())]
    from coach.analysis import load_analyzer

    analyses = load_analyzer().analyze([r.reply for r in records])
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([a.to_record() for a in analyses]))
    return analyses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=REPO_ROOT / "eval" / "data" / "gold_dev.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/palvelupeili-tune"))
    parser.add_argument("--quiet", action="store_true", help="only the summary, no disagreement list")
    args = parser.parse_args()
    import yaml

    rubric = parse_rubric(yaml.safe_load(RUBRIC_FILE.read_text()), RUBRIC_FILE)
    records = [parse_record(i, json.loads(line)) for i, line in enumerate(args.gold.read_text().splitlines(), 1) if line.strip()]
    analyses = cached_analyses(records, args.cache)
    totals: dict[tuple[str, str], list[int]] = {}
    for record, analysis in zip(records, analyses):
        feedback = assess_reply(analysis, record.lang, record.customer_mood, rubric=rubric)
        wrong = []
        for d in DIMENSIONS:
            gold, got = record.gold[d], feedback[d].verdict
            for group in ("all", record.lang):
                bucket = totals.setdefault((group, d), [0, 0, 0])
                bucket[0] += 1
                bucket[1] += gold == got
                bucket[2] += {gold, got} == {"good", "poor"}
            if gold != got:
                wrong.append(f"{d}: gold {gold}, coach {got} ({feedback[d].score:.2f})")
        if wrong and not args.quiet:
            moves = ", ".join(f"{m} {p:.2f}" for m, p in analysis.moves.items() if p >= 0.3)
            print(f"{record.id} [{analysis.tone} {analysis.tone_confidence:.2f}; {moves}] {record.reply[:90]!r}\n    " + "\n    ".join(wrong))
    for (group, d), (n, right, severe) in sorted(totals.items()):
        print(f"{group:3s} {d:8s} accuracy {right / n:.3f}  severe {severe / n:.3f}  n={n}")


if __name__ == "__main__":
    main()
