"""``coach eval all``: the whole evaluation in one run, written up as a report and a flat summary.

    coach eval all --out runs/eval [--seed 0] [--quick] [--data FILE ...]

    suite = EvaluationSuite(SuiteConfig(out_dir=Path("runs/eval"), quick=True))
    plan = suite.prepare()                         # checks every input before a model is loaded
    summary = suite.run(plan, analyzer, analyzer.tone)
    summary["coach.gold_test.mean_accuracy"]       # the primary metric

Four parts, each reusing the project's own evaluator:

1. Tone classifier (``EmotionEvaluator``): macro/micro-F1 per taxonomy and language on the dev
   splits that training carved out (``coach.tone_training.load_splits`` with the seed and dev
   fraction recorded in the model's tone_config.json), or on the corpus files given with
   ``--data`` (taxonomy from the file's path or its column count, language from its name). The
   per-label thresholds were tuned on those dev splits, so dev figures are optimistic.
2. Coach on the gold sets ``eval/data/gold_*.jsonl`` (``ReplyBatchEvaluator`` and
   ``coach_metrics``), each file on its own, ``gold_test`` first as the headline: accuracy,
   Cohen's kappa, severe good/poor error rate and confusion matrices per dimension and language,
   and the worst disagreements (severe first, then by how far the score lies from the gold
   verdict's band) with the feedback the coach gave.
3. Simulated learners (``coach.evaluate.simulate``): every bundled scenario played by the
   skilled, average and struggling learners of its reply bank; flags where they are not told apart.
4. The latest benchmark files in ``eval/results/``: classifier_bench.json, coaching_bench.json and
   app_load.json ("not measured" for a file that is not there).

``--quick`` is the CI size: ``quick_lines`` dev lines per corpus (seeded sample), ``gold_test``
only, each learner once in the scenario's first language. The seed also picks the customer's line
variants in the simulated sessions.

Writes into the output folder: report.md, report.html (self-contained), plots/*.png,
summary.json (flat: "coach.gold_test.fi.own.accuracy": 0.81, ...), results.json (everything
the report is made from) and each part's own files: tone/<corpus>/, coach/<gold set>/
(predictions.jsonl, errors.jsonl, metrics.json, worst.jsonl) and learners/ (runs.json and one
transcript per run).
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from coach.corpora import TAXONOMIES, read_corpus
from coach.errors import UserError
from coach.evaluate.emotions import EmotionEvaluator, language_from_filename
from coach.evaluate.replies import ReplyBatchEvaluator
from coach.evaluate.simulate import (
    LEARNERS,
    REPLY_BANKS_DIR,
    Flag,
    LearnerRun,
    LearnerSimulator,
    ReplyBank,
    load_reply_bank,
    reply_bank_path,
    scenario_flags,
)
from coach.labels import DIMENSIONS
from coach.paths import REPO_ROOT, shared_data_dir
from coach.scenario import Scenario, load_scenario, scenario_files, scenarios_dir

GOLD_DIR = REPO_ROOT / "eval" / "data"
RESULTS_DIR = REPO_ROOT / "eval" / "results"
TONE_ARTIFACT = REPO_ROOT / "models" / "tone"
HEADLINE_GOLD = "gold_test"
BENCH_FILES = {"classifier": "classifier_bench.json", "coaching": "coaching_bench.json", "app_load": "app_load.json"}
NOT_MEASURED = "not measured"


@dataclass
class SuiteConfig:
    out_dir: Path
    seed: int = 0
    quick: bool = False
    data: list[Path] = field(default_factory=list)  # corpus files instead of the training's dev splits
    corpus_dir: Path = field(default_factory=shared_data_dir)
    tone_artifact: Path = TONE_ARTIFACT  # its tone_config.json says how the dev splits were carved
    gold_dir: Path = GOLD_DIR
    scenarios: Path = field(default_factory=scenarios_dir)
    reply_banks: Path = REPLY_BANKS_DIR
    results_dir: Path = RESULTS_DIR
    quick_lines: int = 300
    worst: int = 20
    batch_size: int = 64
    show_progress: bool = True


@dataclass(frozen=True)
class Corpus:
    key: str  # e.g. "xed.fi": the name in summary keys
    taxonomy: str
    lang: str | None
    lines: list[tuple[str, tuple[int, ...]]]  # (text, label ids), in the shared-corpus format
    source: str


@dataclass
class GoldSet:
    name: str  # the file's stem, e.g. gold_test
    path: Path
    rows: object  # datasets.Dataset with id, lang, reply and optionally customer and note (the labeller's why)


@dataclass
class Plan:
    corpora: list[Corpus]
    gold_sets: list[GoldSet]
    scenarios: list[tuple[Scenario, ReplyBank | None]]
    bench: dict[str, dict | None]


# ------------------------------------------------------------------------------ inputs


def corpus_taxonomy(path: Path) -> str:
    """From the path (``.../xed/fi.train.tsv``, ``goemotions_dev.tsv``), else the column count."""
    for part in reversed(path.parts[-2:]):
        for taxonomy in TAXONOMIES:
            if taxonomy in part.lower():
                return taxonomy
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the corpus file ({err}).") from err
    columns = len(first.rstrip("\n").split("\t"))
    if columns == 3:
        return "goemotions"
    if columns == 2:
        return "xed"
    raise UserError(
        f"{path}: cannot tell the taxonomy: the name mentions neither xed nor goemotions and the first line "
        f"has {columns} tab-separated column(s); expected 3 (GoEmotions: text, label ids, comment id) "
        "or 2 (XED: text, label ids)."
    )


def _sampled(lines: list, key: str, config: SuiteConfig) -> list:
    if not config.quick or len(lines) <= config.quick_lines:
        return lines
    rng = random.Random(f"{config.seed}:{key}")
    return [lines[i] for i in sorted(rng.sample(range(len(lines)), config.quick_lines))]


def file_corpora(config: SuiteConfig) -> list[Corpus]:
    corpora: list[Corpus] = []
    for path in config.data:
        taxonomy = corpus_taxonomy(path)
        lang = "en" if taxonomy == "goemotions" else language_from_filename(path)
        key = f"{taxonomy}.{lang or 'all'}"
        if any(c.key == key for c in corpora):
            key = f"{key}.{path.stem}"
        lines = [(e.text, e.labels) for e in read_corpus(path, taxonomy)]
        corpora.append(Corpus(key, taxonomy, lang, _sampled(lines, key, config), str(path)))
    return corpora


def dev_corpora(config: SuiteConfig) -> list[Corpus]:
    """The dev splits the tone training carved out, with the seed and fraction it recorded."""
    import numpy as np

    from coach.tone_training import ToneTrainingConfig, load_splits

    if not (config.corpus_dir / "goemotions").is_dir() or not (config.corpus_dir / "xed").is_dir():
        raise UserError(
            f"{config.corpus_dir}: no goemotions/ and xed/ corpus folders; set PALVELUPEILI_DATA to the "
            "shared data folder, or pass corpus files with --data."
        )
    manifest_path = config.tone_artifact / "tone_config.json"
    recorded = json.loads(manifest_path.read_text()).get("config", {}) if manifest_path.is_file() else {}
    settings = {k: recorded[k] for k in ("seed", "xed_dev_fraction", "limit") if k in recorded}
    training = ToneTrainingConfig(data_dir=config.corpus_dir, **settings)
    _, dev = load_splits(training)
    source = (f"dev split carved by training (seed {training.seed}, XED dev fraction {training.xed_dev_fraction}"
              f"{', limit ' + str(training.limit) if training.limit else ''})")  # fmt: skip
    corpora = []
    for split in dev:
        key = f"{split.taxonomy}.{split.lang}"
        lines = [(text, tuple(int(i) for i in np.flatnonzero(row))) for text, row in zip(split.texts, split.targets)]
        corpora.append(Corpus(key, split.taxonomy, split.lang, _sampled(lines, key, config), source))
    return corpora


def load_gold_set(path: Path) -> GoldSet:
    """A gold JSONL file through ``datasets``; UserError for unreadable files or duplicate ids."""
    from datasets import load_dataset

    try:
        rows = load_dataset("json", data_files=str(path), split="train")
    except Exception as err:  # datasets wraps parse errors in several exception types
        cause = err.__cause__ or err
        raise UserError(f"{path}: not a readable JSON-lines gold file ({type(cause).__name__}: {cause}).") from err
    missing = [c for c in ("id", "lang", "reply") if c not in rows.column_names]
    if missing or not ({"gold"} | {f"gold_{d}" for d in DIMENSIONS}) & set(rows.column_names):
        raise UserError(
            f"{path}: a gold file needs id, lang, reply and gold ({{\"own\": \"good\", ...}}) on every line; "
            f"missing {', '.join(missing) or 'gold'}."
        )
    ids = [str(i) for i in rows["id"]]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if duplicates:
        raise UserError(f"{path}: ids must be unique; repeated: {', '.join(duplicates[:10])}")
    return GoldSet(path.stem, path, rows)


def read_bench(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a readable benchmark JSON file ({err}).") from err
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object of benchmark figures.")
    return data


# ------------------------------------------------------------------------------ evaluators


def band_distance(score: float, verdict: str, good_at: float, poor_below: float) -> float:
    """How far ``score`` lies outside the score band of ``verdict`` (0 inside it)."""
    if verdict == "good":
        return max(0.0, good_at - score)
    if verdict == "poor":
        return max(0.0, score - poor_below)
    return max(0.0, score - good_at, poor_below - score)


@dataclass
class GoldSetEvaluator:
    """The coach against one gold file: coach_metrics plus the worst disagreements."""

    analyzer: object
    batch_size: int = 64
    worst: int = 20
    primary_metric: str = "mean_accuracy"

    def __call__(self, gold: GoldSet, out_dir: Path, show_progress: bool = True) -> dict:
        result = ReplyBatchEvaluator(self.analyzer, batch_size=self.batch_size)(
            gold.path, out_dir, resume=False, show_progress=show_progress
        )
        if result["metrics"] is None:
            raise UserError(f"{gold.path}: no line has gold verdicts, so the coach cannot be scored on it.")
        worst = self.worst_disagreements(gold, out_dir / "predictions.jsonl")
        with (out_dir / "worst.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in worst)
        return {"name": gold.name, "file": str(gold.path), "rows": result["rows"], "skipped": result["skipped"],
                "metrics": result["metrics"], "worst": worst}  # fmt: skip

    def worst_disagreements(self, gold: GoldSet, predictions: Path) -> list[dict]:
        from coach.rubric import load_rubric

        rubric = load_rubric()
        with predictions.open(encoding="utf-8") as handle:
            predicted = {row["id"]: row for row in map(json.loads, handle)}

        def disagreements(batch: dict) -> dict:
            out: dict[str, list] = {k: [] for k in ("id", "lang", "dimension", "gold", "coach", "score", "severe",
                                                    "distance", "reply", "customer", "feedback", "note")}  # fmt: skip
            missing = [None] * len(batch["id"])
            for raw_id, reply, customer, note in zip(batch["id"], batch["reply"], batch.get("customer") or missing,
                                                     batch.get("note") or missing):  # fmt: skip
                row = predicted.get(str(raw_id))
                for dimension, verdict in ((row or {}).get("gold") or {}).items():
                    coach = row["dimensions"][dimension]
                    if coach["verdict"] == verdict:
                        continue
                    values = (str(raw_id), row["lang"], dimension, verdict, coach["verdict"], coach["score"],
                              int({verdict, coach["verdict"]} == {"good", "poor"}),
                              round(band_distance(coach["score"], verdict, rubric.good_at, rubric.poor_below), 4),
                              reply, customer, row["feedback"][dimension], note)  # fmt: skip
                    for key, value in zip(out, values):
                        out[key].append(value)
            return out

        rows = gold.rows.map(disagreements, batched=True, remove_columns=gold.rows.column_names,
                             load_from_cache_file=False, desc=f"disagreements in {gold.name}")  # fmt: skip
        ranked = sorted(rows.to_list(), key=lambda row: (-row["severe"], -row["distance"]))
        return ranked[: self.worst]


# ------------------------------------------------------------------------------ the suite


@contextlib.contextmanager
def _datasets_progress(enabled: bool):
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if was_enabled else datasets.disable_progress_bars)()


@dataclass
class EvaluationSuite:
    config: SuiteConfig
    primary_metric: str = f"coach.{HEADLINE_GOLD}.mean_accuracy"

    def prepare(self) -> Plan:
        """Read and check every input; nothing here needs a model."""
        config = self.config
        corpora = file_corpora(config) if config.data else dev_corpora(config)
        gold_paths = sorted(config.gold_dir.glob("gold_*.jsonl"), key=lambda p: (p.stem != HEADLINE_GOLD, p.name))
        if config.quick:
            gold_paths = [p for p in gold_paths if p.stem == HEADLINE_GOLD]
        with _datasets_progress(config.show_progress):
            gold_sets = [load_gold_set(p) for p in gold_paths]
        scenarios = []
        for path in scenario_files([config.scenarios]):
            scenario = load_scenario(path)
            bank_path = reply_bank_path(scenario.id, config.reply_banks)
            scenarios.append((scenario, load_reply_bank(bank_path, scenario) if bank_path.is_file() else None))
        bench = {name: read_bench(config.results_dir / file) for name, file in BENCH_FILES.items()}
        return Plan(corpora, gold_sets, scenarios, bench)

    def run(self, plan: Plan, analyzer, classifier) -> dict:
        """Evaluate, write every output file, and return the flat summary."""
        from coach.evaluate.report import write_report

        config, out = self.config, self.config.out_dir
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        results: dict = {"meta": {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": config.seed,
            "quick": config.quick, "analyzer": type(analyzer).__name__, "classifier": type(classifier).__name__,
        }}  # fmt: skip

        self._stage(1, f"tone classifier on {len(plan.corpora)} corpus sample(s)")
        tone = []
        for corpus in plan.corpora:
            folder = out / "tone" / corpus.key
            data = _write_corpus(corpus, folder / f"{corpus.key}.tsv")
            metrics = EmotionEvaluator(data, corpus.taxonomy, lang=corpus.lang, batch_size=config.batch_size)(
                classifier, out_dir=folder, show_progress=config.show_progress
            )
            supported = [f1 for label, f1 in metrics["per_label"].items() if metrics["support"][label] > 0]
            tone.append({"key": corpus.key, "source": corpus.source, "metrics": metrics,
                         "labels_in_sample": len(supported),
                         "macro_f1_supported": round(sum(supported) / len(supported), 4) if supported else 0.0})  # fmt: skip
        results["tone"] = tone
        timings["tone_s"] = time.perf_counter() - started

        self._stage(2, f"coach on {len(plan.gold_sets)} gold set(s)")
        evaluator = GoldSetEvaluator(analyzer, batch_size=config.batch_size, worst=config.worst)
        with _datasets_progress(config.show_progress):
            results["coach"] = [evaluator(g, out / "coach" / g.name, config.show_progress) for g in plan.gold_sets]
        results["gold_dir"] = str(config.gold_dir)
        timings["coach_s"] = time.perf_counter() - started - sum(timings.values())

        self._stage(3, f"simulated learners in {len(plan.scenarios)} scenario(s)")
        results["learners"] = self._learners(plan, analyzer)
        timings["learners_s"] = time.perf_counter() - started - sum(timings.values())

        results["bench"] = plan.bench
        timings["total_s"] = time.perf_counter() - started
        results["meta"]["timings"] = {k: round(v, 2) for k, v in timings.items()}

        summary = summary_figures(results)
        (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
        (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        self._stage(4, "report")
        write_report(results, out)
        return summary

    def _learners(self, plan: Plan, analyzer) -> dict:
        config = self.config
        simulator = LearnerSimulator(analyzer, seed=config.seed, all_languages=not config.quick)
        total = sum(len(s.languages if simulator.all_languages else s.languages[:1]) * len(LEARNERS)
                    for s, bank in plan.scenarios if bank)  # fmt: skip
        runs: list[LearnerRun] = []
        with tqdm(total=total, desc="simulated learners", unit="run", disable=not config.show_progress) as bar:
            for scenario, bank in plan.scenarios:
                if bank is not None:
                    runs += simulator(scenario, bank, progress=bar)
        folder = config.out_dir / "learners"
        folder.mkdir(parents=True, exist_ok=True)
        for run in runs:
            (folder / f"{run.scenario_id}.{run.lang}.{run.learner}.md").write_text(run.transcript, encoding="utf-8")
        flags = scenario_flags(runs)
        missing = [s.id for s, bank in plan.scenarios if bank is None]
        flags += [Flag(sid, None, None, f"{sid}: no reply bank ({reply_bank_path(sid, config.reply_banks)}); "
                                        "its learners were not played") for sid in missing]  # fmt: skip
        played = [{k: v for k, v in run.to_dict().items() if k != "transcript"} for run in runs]
        (folder / "runs.json").write_text(json.dumps(played, indent=2, ensure_ascii=False))
        return {"scenarios": [s.id for s, _ in plan.scenarios], "runs": played,
                "flags": [asdict(f) for f in flags], "missing_banks": missing}  # fmt: skip

    def _stage(self, number: int, text: str) -> None:
        if self.config.show_progress:
            print(f"[{number}/4] {text}", file=sys.stderr, flush=True)


def _write_corpus(corpus: Corpus, path: Path) -> Path:
    """The evaluated lines in the shared-corpus format, so `coach eval emotions` can re-score them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for number, (text, labels) in enumerate(corpus.lines, start=1):
            columns = [" ".join(text.split()), ",".join(map(str, labels))]
            if corpus.taxonomy == "goemotions":
                columns.append(f"{corpus.key}-{number}")
            handle.write("\t".join(columns) + "\n")
    return path


# ------------------------------------------------------------------------------ summary


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = value


def summary_figures(results: dict) -> dict:
    """Every headline figure under a flat, stable key; see compare.py for how they are compared."""
    meta = results["meta"]
    summary: dict = {"meta.created": meta["created"], "meta.seed": meta["seed"], "meta.quick": meta["quick"],
                     "meta.analyzer": meta["analyzer"]}  # fmt: skip
    for entry in results["tone"]:
        m = entry["metrics"]
        for name in ("macro_f1", "micro_f1", "n"):
            summary[f"tone.{entry['key']}.{name}"] = round(m[name], 4) if isinstance(m[name], float) else m[name]
        summary[f"tone.{entry['key']}.macro_f1_supported"] = entry["macro_f1_supported"]
    for entry in results["coach"]:
        prefix = f"coach.{entry['name']}"
        summary[f"{prefix}.rows"] = entry["rows"]
        summary[f"{prefix}.skipped"] = entry["skipped"]
        summary[f"{prefix}.mean_accuracy"] = entry["metrics"]["mean_accuracy"]
        for group, by_dimension in entry["metrics"].items():
            if not isinstance(by_dimension, dict):
                continue
            for dimension, m in by_dimension.items():
                for name in ("n", "accuracy", "kappa", "severe_error_rate"):
                    summary[f"{prefix}.{group}.{dimension}.{name}"] = m[name]
    learners = results["learners"]
    for run in learners["runs"]:
        prefix = f"sim.{run['scenario_id']}.{run['lang']}.{run['learner']}"
        summary[f"{prefix}.ending"] = run["ending_kind"] or "none"
        summary[f"{prefix}.resolved"] = int(run["ending_kind"] == "resolved")
        summary[f"{prefix}.turns"] = len(run["turns"])
        summary[f"{prefix}.final_mood"] = run["mood_curve"][-1]
        for dimension in DIMENSIONS:
            summary[f"{prefix}.{dimension}"] = run["averages"][dimension]
    summary["sim.scenarios"] = len(learners["scenarios"])
    summary["sim.flags"] = len(learners["flags"])
    summary["sim.missing_banks"] = len(learners["missing_banks"])
    for name, data in results["bench"].items():
        if data is None:
            summary[f"bench.{name}"] = NOT_MEASURED
        else:
            _flatten(f"bench.{name}", {k: v for k, v in data.items() if k != "settings"}, summary)
    for name, seconds in meta["timings"].items():
        summary[f"time.{name}"] = seconds
    return summary

