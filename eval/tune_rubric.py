"""Check coach/rubric.yaml against a gold file while editing it: fast, because the model runs once.

    python eval/tune_rubric.py                          # gold_dev, all disagreements listed
    python eval/tune_rubric.py --gold eval/data/gold_test.jsonl --quiet   # the held-out report
    python eval/tune_rubric.py --search                 # fit the numbers of the table on gold_dev
    python eval/tune_rubric.py --search --write         # ... and write them into rubric.yaml and docs/rubric.md
    python eval/tune_rubric.py --folds 4                # how well a fit generalises: fit on 3/4, score the rest

The analyses of the gold replies are cached in --cache (keyed by the modification times of the
tone and moves weights, int8 calibrations, tone thresholds and the Finnish n-gram blend), so
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
from coach.int8 import CALIBRATION_FILE
from coach.labels import DIMENSIONS, LANGUAGES
from coach.lexical import LEXICAL_WEIGHTS
from coach.paths import REPO_ROOT
from coach.rubric import RUBRIC_FILE, anchor_violations, parse_rubric
from coach.session import assess_reply

DOCS_FILE = REPO_ROOT / "docs" / "rubric.md"
# A rule weaker than this says nothing (drop it from the table instead); one stronger than this
# decides a verdict on its own whatever else the reply does.
MIN_WEIGHT, MAX_WEIGHT = 0.02, 1.5


def cached_analyses(records, cache: Path) -> list[ReplyAnalysis]:
    artifacts = [REPO_ROOT / "models" / model / name for model in ("tone", "moves")
                 for name in (f"{model}_weights.safetensors", CALIBRATION_FILE)]  # fmt: skip
    artifacts += [REPO_ROOT / "models" / "tone" / name for name in ("tone_config.json", LEXICAL_WEIGHTS)]
    stamps = [p.stat().st_mtime if p.is_file() else None for p in artifacts]
    key = hashlib.sha256(json.dumps([r.reply for r in records] + stamps).encode()).hexdigest()[:16]
    path = cache / f"analyses-{key}.json"
    if path.is_file():
        return [ReplyAnalysis.from_record(r) for r in json.loads(path.read_text())]
    from coach.analysis import load_analyzer

    analyzer, analyses = load_analyzer(), [None] * len(records)
    for lang in LANGUAGES:  # the language picks the tone thresholds and the Finnish n-gram blend
        rows = [i for i, r in enumerate(records) if r.lang == lang]
        for i, analysis in zip(rows, analyzer.analyze([records[i].reply for i in rows], lang=lang)):
            analyses[i] = analysis
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([a.to_record() for a in analyses]))
    return analyses


def objective(rubric, records, analyses) -> float:
    """Mean accuracy over the dimensions, with each severe (good<->poor) error costing five near misses,
    minus one for every anchor verdict (coach.rubric.ANCHORS) the table breaks."""
    score = 0.0
    for record, analysis in zip(records, analyses):
        feedback = assess_reply(analysis, record.lang, record.customer_mood, rubric=rubric)
        for d in DIMENSIONS:
            gold, got = record.gold[d], feedback[d].verdict
            score += (gold == got) - 4 * ({gold, got} == {"good", "poor"})
    # A broken verdict definition outweighs any gain on the gold data.
    return score / (len(records) * len(DIMENSIONS)) - len(anchor_violations(rubric))


def search(raw: dict, records, analyses, rounds: int = 8) -> dict:
    """Coordinate descent over the table's numbers; every weight keeps its sign and its rule, and
    every candidate must keep the verdict definitions (coach.rubric.ANCHORS)."""
    import copy

    best = copy.deepcopy(raw)
    for table in best["dimensions"].values():
        for rule in table["rules"]:
            magnitude = min(MAX_WEIGHT, max(MIN_WEIGHT, abs(rule["weight"])))
            rule["weight"] = magnitude if rule["weight"] > 0 else -magnitude
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
                sign = 1.0 if current > 0 else -1.0
                candidates = [round(current * f, 3) for f in (0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 3.0)]
                candidates += [sign * magnitude for magnitude in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)]
            else:
                candidates = [round(current + step, 3) for step in (-0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2)]
            for value in candidates:
                if knob[-1] != "weight" and not 0.0 <= value <= 1.0:
                    continue
                if knob[-1] == "weight" and not MIN_WEIGHT <= abs(value) <= MAX_WEIGHT:
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
    parser.add_argument("--write", action="store_true", help="with --search: write the fitted numbers into rubric.yaml and docs")
    parser.add_argument("--folds", type=int, help="cross-validate the fit: fit on all folds but one, score that one, pool")
    args = parser.parse_args()
    import yaml

    raw = yaml.safe_load(RUBRIC_FILE.read_text())
    records = [parse_record(i, json.loads(line)) for i, line in enumerate(args.gold.read_text().splitlines(), 1) if line.strip()]
    analyses = cached_analyses(records, args.cache)
    if args.folds:
        print_metrics(cross_validated(raw, records, analyses, args.folds))
        return
    if args.search:
        raw = search(raw, records, analyses)
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
        feedback = assess_reply(analysis, record.lang, record.customer_mood, rubric=rubric)
        rows.append({"lang": record.lang, "gold": record.gold, "dimensions": {d: feedback[d].to_dict() for d in DIMENSIONS}})
        wrong = [f"{d}: gold {record.gold[d]}, coach {feedback[d].verdict} ({feedback[d].score:.2f})"
                 for d in DIMENSIONS if record.gold[d] != feedback[d].verdict]  # fmt: skip
        if wrong and show_errors:
            moves = ", ".join(f"{m} {p:.2f}" for m, p in analysis.moves.items() if p >= 0.3)
            print(f"{record.id} [{analysis.tone} {analysis.tone_confidence:.2f}; {moves}] {record.reply[:90]!r}\n    " + "\n    ".join(wrong))
    return rows


def cross_validated(raw: dict, records, analyses, folds: int) -> dict:
    """Metrics of fits scored only on replies they were not fitted on (folds interleaved by position).

    Each fold's search starts from the shipped numbers, which were fitted on the whole gold set: the
    held-out fold leaks into its start, so the estimate is optimistic and favours the models that
    table was fitted for. From a cold start (every weight ±0.3) this search reached only 0.72 mean
    accuracy instead of 0.80, too weak to use; compare models on the held-out test set too."""
    rows = []
    for fold in range(folds):
        fit_on = [i for i in range(len(records)) if i % folds != fold]
        held_out = [i for i in range(len(records)) if i % folds == fold]
        fitted = search(raw, [records[i] for i in fit_on], [analyses[i] for i in fit_on])
        rows += scored_rows(parse_rubric(fitted, RUBRIC_FILE), [records[i] for i in held_out], [analyses[i] for i in held_out])
    return verdict_metrics(rows)


def print_metrics(metrics: dict) -> None:
    for group in ("all", *LANGUAGES):
        for d, m in metrics[group].items():
            print(f"{group:3s} {d:8s} accuracy {m['accuracy']:.3f}  severe {m['severe_error_rate']:.3f}  kappa {m['kappa']:.2f}  n={m['n']}")

if __name__ == "__main__":
    main()
