"""Coach a batch of replies: ``coach eval replies --data FILE --out DIR``.

Input (streamed, never loaded whole): JSONL, CSV (header row), or a Hugging Face ``datasets``
folder saved with ``save_to_disk``. Each record has ``id``, ``lang`` (fi|en), ``reply``,
optionally ``customer`` (the line being answered: its mood stands in when ``customer_mood`` is
missing, and a yes to its yes/no question counts as the answer), ``customer_mood`` (0-10) and ``gold``
(``{"own": "good|mixed|poor", ...}``; in CSV as columns gold_own, gold_others, gold_customer).

Output: ``DIR/predictions.jsonl``, one line per valid input with ``id``, ``lang``, ``tone``,
``moves``, ``dimensions`` and ``feedback``; ``DIR/errors.jsonl`` with every skipped line and
why; ``DIR/metrics.json`` when gold labels are present (accuracy, Cohen's kappa and severe
good↔poor error rate per dimension, overall and per language, with confusion matrices).

Work is written batch by batch with a progress file, so an interrupted run started again with
the same arguments continues after the last finished batch instead of starting over.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from coach.errors import UserError
from coach.labels import DIMENSIONS, LANGUAGES, VERDICTS
from coach.session import assess_reply

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class ReplyRecord:
    line: int
    id: str
    lang: str
    reply: str
    customer: str | None
    customer_mood: int | None
    gold: dict[str, str] | None


def parse_record(line: int, raw: dict) -> ReplyRecord:
    """Validate one input record; ValueError says which field is wrong and what was expected."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object with id, lang and reply, found {type(raw).__name__}")
    for name in ("id", "lang", "reply"):
        if raw.get(name) in (None, ""):
            raise ValueError(f"field '{name}' is missing or empty")
    if raw["lang"] not in LANGUAGES:
        raise ValueError(f"field 'lang' must be one of {', '.join(LANGUAGES)}, found {raw['lang']!r}")
    if not isinstance(raw["reply"], str):
        raise ValueError(f"field 'reply' must be text, found {type(raw['reply']).__name__}")
    mood = raw.get("customer_mood")
    if mood not in (None, ""):
        try:
            mood = int(mood)
        except (TypeError, ValueError):
            raise ValueError(f"field 'customer_mood' must be a whole number 0-10, found {mood!r}") from None
        if not 0 <= mood <= 10:
            raise ValueError(f"field 'customer_mood' must be 0-10, found {mood}")
    else:
        mood = None
    gold = raw.get("gold")
    if gold is None and any(f"gold_{d}" in raw for d in DIMENSIONS):
        gold = {d: raw.get(f"gold_{d}") for d in DIMENSIONS if raw.get(f"gold_{d}")}
    if gold:
        if not isinstance(gold, dict):
            raise ValueError("field 'gold' must be an object like {\"own\": \"good\", ...}")
        for dimension, verdict in gold.items():
            if dimension not in DIMENSIONS or verdict not in VERDICTS:
                raise ValueError(f"gold.{dimension}: expected a dimension in {DIMENSIONS} with a verdict in {VERDICTS}, found {verdict!r}")
    customer = raw.get("customer")
    return ReplyRecord(line, str(raw["id"]), raw["lang"], raw["reply"], customer if isinstance(customer, str) else None,
                       mood, gold or None)  # fmt: skip


def iter_records(path: Path) -> Iterator[tuple[int, ReplyRecord | str]]:
    """(line number, record or error message) for every input row, streamed."""
    if path.is_dir():
        from datasets import load_from_disk

        try:
            dataset = load_from_disk(str(path))
        except Exception as err:  # datasets raises several types for a folder it cannot read
            raise UserError(f"{path}: not a Hugging Face dataset folder saved with save_to_disk ({err}).") from err
        for index, row in enumerate(dataset, start=1):
            yield _validated(index, row)
        return
    if not path.is_file():
        raise UserError(f"{path}: no such file; expected a .jsonl or .csv file, or a datasets folder.")
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield _validated(reader.line_num, row)
        return
    with path.open(encoding="utf-8", errors="strict") as handle:
        number = 0
        while True:
            try:
                text = handle.readline()
            except UnicodeDecodeError:
                number += 1
                yield number, "not valid UTF-8; save the file as UTF-8"
                continue
            if not text:
                return
            number += 1
            if not text.strip():
                continue
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as err:
                yield number, f"not valid JSON ({err.msg} at column {err.colno})"
                continue
            yield _validated(number, raw)


def _validated(number: int, raw) -> tuple[int, ReplyRecord | str]:
    try:
        return number, parse_record(number, raw)
    except ValueError as err:
        return number, str(err)


def _estimated_mood(analysis) -> int | None:
    """A customer's mood read from their own line's valence, when the input gives no mood."""
    valence = analysis.details.get("valence") if analysis.details else None
    return None if valence is None else max(0, min(10, round(5 + 5 * valence)))


@dataclass
class ReplyBatchEvaluator:
    """Coach a reply file into DIR; ``num_proc`` > 1 runs the analysis in worker processes.

    With workers, ``analyzer_factory`` (a picklable callable, e.g. coach.analysis.load_analyzer)
    builds one analyzer per worker; the parent only reads, orders, writes and checkpoints, so
    output, error reports and resuming are the same as with one process.
    """

    analyzer: object | None = None
    batch_size: int = 64
    num_proc: int = 1
    analyzer_factory: Callable[[], object] | None = None
    primary_metric: str = "mean_accuracy"

    def __call__(self, data: Path, out_dir: Path, resume: bool = True, show_progress: bool = True) -> dict:
        out_dir.mkdir(parents=True, exist_ok=True)
        predictions, errors = out_dir / "predictions.jsonl", out_dir / "errors.jsonl"
        progress_path = out_dir / PROGRESS_FILE
        fingerprint = _fingerprint(data)
        progress = {"input": fingerprint, "rows_done": 0, "predictions_bytes": 0, "errors_bytes": 0, "skipped": 0}
        if resume and progress_path.is_file():
            previous = json.loads(progress_path.read_text())
            if previous.get("input") == fingerprint:
                progress = previous
        # Anything written after the last checkpoint belongs to a batch that will be redone.
        for path, size in ((predictions, progress["predictions_bytes"]), (errors, progress["errors_bytes"])):
            with path.open("a+b") as handle:
                handle.truncate(size)
        chunks = _chunks(data, progress["rows_done"], self.batch_size)
        with predictions.open("a", encoding="utf-8") as out, errors.open("a", encoding="utf-8") as bad, \
                tqdm(desc="coaching replies", unit="row", disable=not show_progress, initial=progress["rows_done"]) as bar:  # fmt: skip

            def commit(chunk: _Chunk, rows: list[dict]) -> None:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                for number, message in chunk.errors:
                    print(f"{data}:{number}: skipped: {message}", file=sys.stderr)
                    bad.write(json.dumps({"line": number, "error": message}, ensure_ascii=False) + "\n")
                progress["skipped"] += len(chunk.errors)
                bar.update(chunk.rows_seen - progress["rows_done"])
                out.flush()
                bad.flush()
                progress.update(rows_done=chunk.rows_seen, predictions_bytes=out.tell(), errors_bytes=bad.tell())
                temporary = progress_path.with_suffix(".tmp")
                temporary.write_text(json.dumps(progress))
                temporary.replace(progress_path)

            if self.num_proc > 1:
                self._run_in_workers(chunks, commit)
            else:
                analyzer = self.analyzer if self.analyzer is not None else self._factory()()
                for chunk in chunks:
                    commit(chunk, coach_records(analyzer, chunk.records) if chunk.records else [])
        metrics = coach_metrics(predictions)
        if metrics is not None:
            (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return {"rows": progress["rows_done"], "skipped": progress["skipped"], "metrics": metrics}

    def _factory(self) -> Callable[[], object]:
        if self.analyzer_factory is None:
            raise ValueError("ReplyBatchEvaluator needs an analyzer, or an analyzer_factory")
        return self.analyzer_factory

    def _run_in_workers(self, chunks: Iterator[_Chunk], commit: Callable[[_Chunk, list[dict]], None]) -> None:
        import multiprocessing

        # spawn, not fork: the parent may hold threads (progress bar, torch) that fork would copy half-way.
        context = multiprocessing.get_context("spawn")
        window = 2 * self.num_proc  # batches in flight: enough to keep workers busy, bounded memory
        with context.Pool(self.num_proc, initializer=_start_worker, initargs=(self._factory(),)) as pool:
            while True:
                pending = [chunk for _, chunk in zip(range(window), chunks)]
                if not pending:
                    return
                for chunk, rows in zip(pending, pool.map(_coach_in_worker, [c.records for c in pending])):
                    commit(chunk, rows)


@dataclass(frozen=True)
class _Chunk:
    rows_seen: int  # input rows read up to the end of this chunk, for the checkpoint
    records: list[ReplyRecord]
    errors: list[tuple[int, str]]


def _chunks(data: Path, skip_rows: int, batch_size: int) -> Iterator[_Chunk]:
    """Batches of valid records with the malformed rows met on the way, after ``skip_rows`` rows."""
    rows_seen, records, errors = 0, [], []
    for number, item in iter_records(data):
        rows_seen += 1
        if rows_seen <= skip_rows:
            continue
        if isinstance(item, str):
            errors.append((number, item))
        else:
            records.append(item)
        if len(records) >= batch_size:
            yield _Chunk(rows_seen, records, errors)
            records, errors = [], []
    if records or errors or rows_seen > skip_rows:
        yield _Chunk(rows_seen, records, errors)


_worker_analyzer = None


def _start_worker(factory: Callable[[], object]) -> None:
    global _worker_analyzer
    _worker_analyzer = factory()


def _coach_in_worker(records: list[ReplyRecord]) -> list[dict]:
    return coach_records(_worker_analyzer, records) if records else []


def coach_records(analyzer, records: list[ReplyRecord]) -> list[dict]:
    """The prediction rows for a batch of records: the unit a distributed job maps over.

    Each language is analysed with its own thresholds; a customer line without a mood is read
    in the same batch, and its valence stands in for the customer's mood.
    """
    rows: dict[int, dict] = {}
    for lang in sorted({r.lang for r in records}):
        group = [r for r in records if r.lang == lang]
        customers = [r for r in group if r.customer and r.customer_mood is None]
        analyses = analyzer.analyze([r.reply for r in group] + [r.customer for r in customers], lang=lang)
        customer_reads = dict(zip((r.line for r in customers), analyses[len(group):]))
        for record, analysis in zip(group, analyses):
            mood = record.customer_mood
            if mood is None and record.line in customer_reads:
                mood = _estimated_mood(customer_reads[record.line])
            feedback = assess_reply(analysis, record.lang, mood, customer_line=record.customer)
            row = {
                "id": record.id, "lang": record.lang, **analysis.to_dict(),
                "dimensions": {d: {"score": round(feedback[d].score, 4), "verdict": feedback[d].verdict} for d in DIMENSIONS},
                "feedback": {d: feedback[d].text for d in DIMENSIONS},
            }  # fmt: skip
            if record.gold:
                row["gold"] = record.gold
            rows[id(record)] = row
    return [rows[id(r)] for r in records]


def _fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)}


def coach_metrics(predictions: Path) -> dict | None:
    """Agreement with gold verdicts, from predictions.jsonl (streamed); None without gold."""
    with predictions.open(encoding="utf-8") as handle:
        return verdict_metrics(json.loads(line) for line in handle)


def verdict_metrics(rows: Iterable[dict]) -> dict | None:
    """Accuracy, kappa, severe-error rate and confusion per dimension, overall and per language.

    Each row needs ``lang``, ``gold`` (dimension -> verdict; rows without it are skipped) and
    ``dimensions`` (dimension -> {"verdict": ...}), as in predictions.jsonl.
    """
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    pairs: dict[str, dict[str, list]] = {}
    for row in rows:
        for dimension, verdict in (row.get("gold") or {}).items():
            for group in ("all", row["lang"]):
                bucket = pairs.setdefault(group, {}).setdefault(dimension, [[], []])
                bucket[0].append(verdict)
                bucket[1].append(row["dimensions"][dimension]["verdict"])
    if not pairs:
        return None
    metrics = {}
    for group, by_dimension in pairs.items():
        metrics[group] = {}
        for dimension, (gold, predicted) in by_dimension.items():
            agree = sum(g == p for g, p in zip(gold, predicted))
            severe = sum({g, p} == {"good", "poor"} for g, p in zip(gold, predicted))
            kappa = cohen_kappa_score(gold, predicted, labels=list(VERDICTS)) if len(set(gold) | set(predicted)) > 1 else 1.0
            metrics[group][dimension] = {
                "n": len(gold),
                "accuracy": round(agree / len(gold), 4),
                "kappa": round(float(kappa), 4),
                "severe_error_rate": round(severe / len(gold), 4),
                "confusion": {"labels": list(VERDICTS),
                              "matrix": confusion_matrix(gold, predicted, labels=list(VERDICTS)).tolist()},  # fmt: skip
            }
    overall = metrics["all"]
    metrics["mean_accuracy"] = round(sum(m["accuracy"] for m in overall.values()) / len(overall), 4)
    return metrics
