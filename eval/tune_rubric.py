"""Check coach/rubric.yaml against a gold file while editing it: fast, because the model runs once.

    python eval/tune_rubric.py                          # gold_dev, all disagreements listed
    python eval/tune_rubric.py --gold eval/data/gold_test.jsonl --quiet   # the held-out report
    python eval/tune_rubric.py --search                 # fit the numbers of the table on gold_dev

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


def objective(rubric, records, analyses) -> float:
    """Mean accuracy over the dimensions, with each severe (good<->poor) error costing five near misses."""
    score = 0.0
    for record, analysis in zip(records, analyses):
        feedback = assess_reply(analysis, record.lang, record.customer_mood, rubric=rubric)
        for d in DIMENSIONS:
            gold, got = record.gold[d], feedback[d].verdict
            score += (gold == got) - 4 * ({gold, got} == {"good", "poor"})
    return score / (len(records) * len(DIMENSIONS))


def search(raw: dict, records, analyses, rounds: int = 4) -> dict:
    """Coordinate descent over the table's numbers; every weight keeps its sign and its rule."""
    import copy

    best = copy.deepcopy(raw)
    best_score = objective(parse_rubric(best, RUBRIC_FILE), records, analyses)
    knobs = [("verdicts", "good_at"), ("verdicts", "poor_below"), ("signal_floor",)]
    for name, table in raw["dimensions"].items():
        knobs.append(("dimensions", name, "base"))
        knobs += [("dimensions", name, "rules", i, "weight") for i in range(len(table["rules"]))]
    for _ in range(rounds):
        improved = False
        for knob in knobs:
            current = _get(best, knob)
            if knob[-1] == "weight":
                candidates = [round(current * f, 3) for f in (0.25, 0.5, 0.75, 1.25, 1.5, 2.0)]
            else:
                candidates = [round(current + step, 3) for step in (-0.1, -0.05, 0.05, 0.1)]
            for value in candidates:
                if knob[-1] != "weight" and not 0.0 <= value <= 1.0:
                    continue
                trial = copy.deepcopy(best)
                _set(trial, knob, value)
                score = objective(parse_rubric(trial, RUBRIC_FILE), records, analyses)
                if score > best_score + 1e-9:
                    best, best_score, improved = trial, score, True
        print(f"objective {best_score:.4f}")
        if not improved:
            break
    return best


def _get(raw, path):
    for key in path:
        raw = raw[key]
    return raw


def _set(raw, path, value):
    for key in path[:-1]:
        raw = raw[key]
    raw[path[-1]] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=REPO_ROOT / "eval" / "data" / "gold_dev.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/palvelupeili-tune"))
    parser.add_argument("--quiet", action="store_true", help="only the summary, no disagreement list")
    parser.add_argument("--search", action="store_true", help="fit the table's numbers and print them")
    args = parser.parse_args()
    import yaml

    raw = yaml.safe_load(RUBRIC_FILE.read_text())
    records = [parse_record(i, json.loads(line)) for i, line in enumerate(args.gold.read_text().splitlines(), 1) if line.strip()]
    analyses = cached_analyses(records, args.cache)
    if args.search:
        raw = search(raw, records, analyses)
        for name, table in raw["dimensions"].items():
            print(f"{name}: base {table['base']}; " + ", ".join(f"{r['signal']} {r['weight']}" for r in table["rules"]))
        print(f"verdicts {raw['verdicts']}; signal_floor {raw['signal_floor']}")
        args.quiet = True
    rubric = parse_rubric(raw, RUBRIC_FILE)
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
