"""Scale benchmark for ``coach eval replies``: synthetic reply files of 10k and 100k lines, timed.

    .venv/bin/python eval/bench_replies.py                         # the real model, 10k and 100k
    .venv/bin/python eval/bench_replies.py --fake --sizes 2000     # a quick check, keyword fake analyzer

For each size a seeded JSONL file is generated in --work: replies are built from the reply banks
(eval/data/reply_banks/*.yaml) and the service-moves data (models/data/service_moves.*.jsonl) by
joining one to three sentences of the same language, sometimes behind a greeting, each answering a
customer line from the moves data. Four rows in five carry the customer's mood; the rest make the
coach read the customer's line too, as real input without a mood does.

The timed run is the code of ``coach eval replies`` (load_analyzer, then ReplyBatchEvaluator over
the file, streamed, with progress checkpoints). Measured: model load seconds; coaching seconds and
rows/s; resume seconds (the same command started again over a finished output, which skips every
done row); output size; and the process's peak resident memory. Results go to
eval/results/replies_bench.json (``--out``); a --fake run writes into --work instead, so it never
passes for a real measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # tests.fakes, for --fake

from coach.evaluate.bench import REPLY_FILES  # noqa: E402
from coach.evaluate.replies import ReplyBatchEvaluator  # noqa: E402
from coach.yamlsafe import load_yaml_file  # noqa: E402

BANKS_DIR = REPO_ROOT / "eval" / "data" / "reply_banks"
GREETINGS = {"fi": ["Moi!", "Hei,", "Okei.", "Joo,", "Hyvää päivää."], "en": ["Hi,", "Hello,", "Okay.", "Right,", "Good morning."]}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def source_material() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Sentences per language (banks + moves data) and customer lines per language (moves data)."""
    sentences: dict[str, list[str]] = {"fi": [], "en": []}
    customers: dict[str, list[str]] = {"fi": [], "en": []}
    for path in REPLY_FILES:
        with path.open(encoding="utf-8") as handle:
            for row in map(json.loads, filter(str.strip, handle)):
                sentences[row["lang"]] += _SENTENCE_END.split(row["reply"])
                customers[row["lang"]].append(row["customer"])
    for path in sorted(BANKS_DIR.glob("*.yaml")):
        for by_lang in load_yaml_file(path).data["learners"].values():
            for lang, by_beat in by_lang.items():
                for replies in by_beat.values():
                    for reply in [replies] if isinstance(replies, str) else replies:
                        sentences[lang] += _SENTENCE_END.split(" ".join(reply.split()))
    return sentences, customers


def generate(path: Path, rows: int, seed: int) -> None:
    sentences, customers = source_material()
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for number in range(rows):
            lang = rng.choice(("fi", "en"))
            parts = rng.sample(sentences[lang], rng.choice((1, 1, 2, 2, 3)))
            if rng.random() < 0.25:
                parts.insert(0, rng.choice(GREETINGS[lang]))
            row = {"id": f"syn-{number:06d}", "lang": lang, "reply": " ".join(parts), "customer": rng.choice(customers[lang])}
            if rng.random() < 0.8:
                row["customer_mood"] = rng.randint(0, 10)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def load(fake: bool):
    if fake:
        from tests.fakes import KeywordAnalyzer

        return KeywordAnalyzer()
    from coach.analysis import load_analyzer

    return load_analyzer()


def bench(sizes: list[int], work: Path, fake: bool, seed: int, batch_size: int) -> dict:
    started = time.perf_counter()
    analyzer = load(fake)
    result = {"analyzer": type(analyzer).__name__, "model_load_s": round(time.perf_counter() - started, 2),
              "batch_size": batch_size, "seed": seed, "cpus": os.cpu_count(),
              "machine": platform.processor() or platform.machine(), "sizes": {}}  # fmt: skip
    if not fake:
        import torch

        result["torch_threads"] = torch.get_num_threads()
    evaluator = ReplyBatchEvaluator(analyzer, batch_size=batch_size)
    for size in sizes:
        data, out = work / f"replies_{size}.jsonl", work / f"out_{size}"
        generate(data, size, seed)
        print(f"{size} rows: {data} ({data.stat().st_size / 1e6:.1f} MB)", flush=True)
        started = time.perf_counter()
        run = evaluator(data, out, resume=False, show_progress=True)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        evaluator(data, out, resume=True, show_progress=False)
        resume_seconds = time.perf_counter() - started
        result["sizes"][str(size)] = {
            "rows": run["rows"], "skipped": run["skipped"], "seconds": round(seconds, 2),
            "rows_per_s": round(run["rows"] / seconds, 1), "resume_over_finished_s": round(resume_seconds, 2),
            "input_mb": round(data.stat().st_size / 1e6, 2),
            "predictions_mb": round((out / "predictions.jsonl").stat().st_size / 1e6, 2),
        }  # fmt: skip
        print(json.dumps(result["sizes"][str(size)]), flush=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="rows per run (default 10k and 100k)")
    parser.add_argument("--fake", action="store_true", help="the keyword fake analyzer instead of the model (a quick check)")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "runs" / "bench_replies", help="folder for inputs and outputs")
    parser.add_argument("--out", type=Path, help="results JSON (default eval/results/replies_bench.json; --fake: in --work)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.sizes):
        parser.error("--sizes must be positive")
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.out or (args.work / "replies_bench_fake.json" if args.fake else REPO_ROOT / "eval" / "results" / "replies_bench.json")
    result = bench(args.sizes, args.work, args.fake, args.seed, args.batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
