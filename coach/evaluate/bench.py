"""Benchmarks: how fast the classifier is on this machine.

    coach bench classifier --out eval/results/classifier_bench.json

Single-reply latency (p50/p95 over ``repeats`` calls with one reply each, after warm-up),
batched throughput (replies/s over ``batch_replies`` replies in batches of ``batch_size``; the
median of ``rounds`` timed passes after one untimed pass) and the process's peak resident memory.
Replies are the project's own service-moves data.

Why an untimed pass and a median: the first pass pays for oneDNN building its kernels for each
new batch shape, and on these shared 2-core machines one pass can run at half the speed of the
next; every round is reported too.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from coach.paths import REPO_ROOT

REPLY_FILES = [REPO_ROOT / "models" / "data" / f"service_moves.{lang}.jsonl" for lang in ("fi", "en")]


def language_replies() -> list[tuple[str, str]]:
    """(lang, reply) for the project's service replies, Finnish and English alternating, so any prefix has both."""
    by_language = []
    for lang, path in zip(("fi", "en"), REPLY_FILES):
        with path.open(encoding="utf-8") as handle:
            by_language.append([(lang, json.loads(line)["reply"]) for line in handle if line.strip()])
    return [pair for pairs in zip(*by_language) for pair in pairs]


def sample_replies() -> list[str]:
    return [reply for _, reply in language_replies()]


@dataclass
class ClassifierBenchmark:
    repeats: int = 200
    batch_replies: int = 1000
    batch_size: int = 64
    warmup: int = 10
    rounds: int = 3

    def __call__(self, classifier) -> dict:
        """Each reply is classified with its own language, as the app does (Finnish adds the n-gram blend)."""
        replies = language_replies()
        for lang, reply in replies[: self.warmup]:
            classifier.classify([reply], lang=lang)
        latencies = []
        for i in range(self.repeats):
            lang, reply = replies[i % len(replies)]
            started = time.perf_counter()
            classifier.classify([reply], lang=lang)
            latencies.append((time.perf_counter() - started) * 1000)
        batch = [replies[i % len(replies)] for i in range(self.batch_replies)]
        by_language = {lang: [reply for l, reply in batch if l == lang] for lang in dict(batch)}

        def classify_batch():
            for lang, texts in by_language.items():
                classifier.classify(texts, lang=lang, batch_size=self.batch_size)

        classify_batch()
        rates = []
        for _ in range(self.rounds):
            started = time.perf_counter()
            classify_batch()
            rates.append(round(self.batch_replies / (time.perf_counter() - started), 1))
        return {
            "single_reply_ms_p50": round(float(np.percentile(latencies, 50)), 2),
            "single_reply_ms_p95": round(float(np.percentile(latencies, 95)), 2),
            "batch_replies_per_s": float(np.median(rates)),
            "batch_rounds_replies_per_s": rates,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "settings": asdict(self),
        }


# Every reply is read against a yes/no question, so the timing includes reading the customer's line.
CUSTOMER_QUESTION = "Hi, is my parcel still at the warehouse? I need it by Friday."


@dataclass
class CoachingLatencyBenchmark:
    """Time the coach's own work on top of the classifier: rubric, verdicts and feedback text.

    The replies are analysed once (that cost belongs to the classifier benchmark); then every
    analysis is assessed ``repeats`` times and the per-reply time is reported.
    """

    replies: int = 200
    repeats: int = 20

    def __call__(self, analyzer) -> dict:
        from coach.session import assess_reply

        texts = sample_replies()[: self.replies]
        analyses = analyzer.analyze(texts)
        started = time.perf_counter()
        for _ in range(self.repeats):
            for analysis in analyses:
                assess_reply(analysis, "en", customer_mood=3, customer_line=CUSTOMER_QUESTION)
        per_reply_ms = (time.perf_counter() - started) * 1000 / (self.repeats * len(analyses))
        return {"coaching_ms_per_reply": round(per_reply_ms, 3), "settings": asdict(self)}
