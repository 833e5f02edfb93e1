"""Check coach/rubric.yaml against a gold file while editing it: fast, because the model runs once.

    python eval/tune_rubric.py                          # gold_dev, all disagreements listed
    python eval/tune_rubric.py --gold eval/data/gold_test.jsonl --quiet   # the held-out report
    python eval/tune_rubric.py --search                 # fit the numbers of the table on gold_dev
    python eval/tune_rubric.py --search --write         # ... and write them into rubric.yaml and docs/rubric.md
    python eval/tune_rubric.py --folds 4                # how well a fit generalises: fit on 3/4, score the rest

The fit itself (random starts, coordinate descent, basin hopping) is coach/evaluate/rubric_fit.py.

The analyses of the gold replies are cached in --cache (keyed by the modification times of the
tone and moves weights, int8 calibrations, tone thresholds and both n-gram blends), so
after the first run each edit of the rule table is scored in a second.
Tune on gold_dev only; gold_test is for reporting.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

from coach.analysis import ReplyAnalysis
from coach.evaluate.replies import parse_record, verdict_metrics
from coach.evaluate.rubric_fit import FitConfig, GoldScorer, cross_validated_rows, fit_table, table_vector
from coach.files import weight_files
from coach.int8 import CALIBRATION_FILE
from coach.labels import DIMENSIONS, LANGUAGES
from coach.lexical import LEXICAL_WEIGHTS
from coach.moves import NGRAM_FILES
from coach.paths import REPO_ROOT
from coach.rubric import RUBRIC_FILE, parse_rubric
from coach.session import assess_reply

DOCS_FILE = REPO_ROOT / "docs" / "rubric.md"


def cached_analyses(records, cache: Path) -> list[ReplyAnalysis]:
    artifacts = [path for model in ("tone", "moves") for path in weight_files(REPO_ROOT / "models" / model, f"{model}_weights")]
    artifacts += [REPO_ROOT / "models" / model / CALIBRATION_FILE for model in ("tone", "moves")]
    artifacts += [REPO_ROOT / "models" / "tone" / name for name in ("tone_config.json", LEXICAL_WEIGHTS)]
    artifacts += [REPO_ROOT / "models" / "moves" / name for name in NGRAM_FILES]
    stamps = [p.stat().st_mtime if p.is_file() else None for p in artifacts]
    key = hashlib.sha256(json.dumps([r.reply for r in records] + stamps).encode()).hexdigest()[:16]
    path = cache / f"analyses-{key}.json"
    if path.is_file():
        return [ReplyAnalysis.from_record(r) for r in json.loads(path.read_text())]
    from coach.analysis import analyze_by_language, load_analyzer

    analyses = analyze_by_language(load_analyzer(), [r.lang for r in records], [r.reply for r in records])
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([a.to_record() for a in analyses]))
    return analyses


def write_numbers(raw: dict, rubric_file: Path = RUBRIC_FILE, docs_file: Path = DOCS_FILE) -> None:
    """Put fitted numbers into the rule table and the docs table, keeping every comment and reason."""
    lines = rubric_file.read_text(encoding="utf-8").splitlines(keepends=True)
    dimension, rule_index = None, -1
    for i, line in enumerate(lines):
        stripped = line.strip()
        for key in ("good_at", "poor_below"):
            if stripped.startswith(f"{key}:"):
                lines[i] = re.sub(r"[-0-9.]+\s*$", f"{raw['verdicts'][key]:.2f}\n", line)
        if stripped.startswith("signal_floor:"):
            lines[i] = re.sub(r"[-0-9.]+\s*$", f"{raw['signal_floor']:.2f}\n", line)
        if re.fullmatch(r"(own|others|customer):", stripped):
            dimension, rule_index = stripped[:-1], -1
        elif dimension and stripped.startswith("base:"):
            lines[i] = re.sub(r"[-0-9.]+\s*$", f"{raw['dimensions'][dimension]['base']:.2f}\n", line)
        elif dimension and stripped.startswith("- {signal:"):
            rule_index += 1
            weight = raw["dimensions"][dimension]["rules"][rule_index]["weight"]
            lines[i] = re.sub(r"weight: [-0-9.]+", f"weight: {weight:.2f}", line)
    rubric_file.write_text("".join(lines), encoding="utf-8")

    docs = docs_file.read_text(encoding="utf-8").splitlines(keepends=True)
    for name, table in raw["dimensions"].items():
        cells = [("base", f"{table['base']:.2f}")]
        cells += [(f"`{rule['signal']}`", f"{'+' if rule['weight'] > 0 else '−'}{abs(rule['weight']):.2f}") for rule in table["rules"]]
        for label, number in cells:
            for i, line in enumerate(docs):
                if line.startswith(f"| {name} | {label} |"):
                    parts = line.split("|")
                    parts[3] = f" {number} "
                    docs[i] = "|".join(parts)
    text = re.sub(r"\*\*good\*\* at a score of [0-9.]+ or more, \*\*poor\*\* below [0-9.]+\. Probabilities below [0-9.]+",
                  f"**good** at a score of {raw['verdicts']['good_at']:.2f} or more, **poor** below "
                  f"{raw['verdicts']['poor_below']:.2f}. Probabilities below {raw['signal_floor']:.2f}", "".join(docs))  # fmt: skip
    docs_file.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=REPO_ROOT / "eval" / "data" / "gold_dev.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/palvelupeili-tune"))
    parser.add_argument("--quiet", action="store_true", help="only the summary, no disagreement list")
    parser.add_argument("--search", action="store_true", help="fit the table's numbers and print them")
    parser.add_argument("--write", action="store_true", help="with --search: write the fitted numbers into rubric.yaml and docs")
    parser.add_argument("--folds", type=int, help="cross-validate the fit: fit on all folds but one, score that one, pool")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit's random starts and hops")
    args = parser.parse_args()
    import yaml

    raw = yaml.safe_load(RUBRIC_FILE.read_text())
    records = [parse_record(i, json.loads(line)) for i, line in enumerate(args.gold.read_text().splitlines(), 1) if line.strip()]
    analyses = cached_analyses(records, args.cache)
    if args.folds:
        print_metrics(verdict_metrics(cross_validated_rows(raw, records, analyses, args.folds, FitConfig(seed=args.seed))))
        return
    if args.search:
        scorer = GoldScorer(records, analyses, raw)
        fitted = fit_table(raw, scorer, FitConfig(seed=args.seed))
        print(f"objective {scorer.objective(table_vector(raw)):.4f} -> {scorer.objective(table_vector(fitted)):.4f}")
        raw = fitted
        for name, table in raw["dimensions"].items():
            print(f"{name}: base {table['base']}; " + ", ".join(f"{r['signal']} {r['weight']}" for r in table["rules"]))
        print(f"verdicts {raw['verdicts']}; signal_floor {raw['signal_floor']}")
        if args.write:
            write_numbers(raw)
            print(f"wrote {RUBRIC_FILE} and {DOCS_FILE}")
        args.quiet = True
    print_metrics(verdict_metrics(scored_rows(parse_rubric(raw, RUBRIC_FILE), records, analyses, show_errors=not args.quiet)))


def scored_rows(rubric, records, analyses, show_errors: bool = False) -> list[dict]:
    rows = []
    for record, analysis in zip(records, analyses):
        feedback = assess_reply(analysis, record.lang, record.customer_mood, rubric=rubric, customer_line=record.customer)
        rows.append({"lang": record.lang, "gold": record.gold, "dimensions": {d: feedback[d].to_dict() for d in DIMENSIONS}})
        wrong = [f"{d}: gold {record.gold[d]}, coach {feedback[d].verdict} ({feedback[d].score:.2f})"
                 for d in DIMENSIONS if record.gold[d] != feedback[d].verdict]  # fmt: skip
        if wrong and show_errors:
            moves = ", ".join(f"{m} {p:.2f}" for m, p in analysis.moves.items() if p >= 0.3)
            print(f"{record.id} [{analysis.tone} {analysis.tone_confidence:.2f}; {moves}] {record.reply[:90]!r}\n    " + "\n    ".join(wrong))
    return rows


def print_metrics(metrics: dict) -> None:
    for group in ("all", *LANGUAGES):
        for d, m in metrics[group].items():
            print(f"{group:3s} {d:8s} accuracy {m['accuracy']:.3f}  severe {m['severe_error_rate']:.3f}  kappa {m['kappa']:.2f}  n={m['n']}")

if __name__ == "__main__":
    main()
