"""The benchmarks measure what they claim, on fakes (speed goals live in eval/, not in tests)."""

from __future__ import annotations

from coach.evaluate.bench import ClassifierBenchmark, CoachingLatencyBenchmark, sample_replies
from tests.fakes import KeywordAnalyzer


class CountingClassifier:
    def __init__(self):
        self.batches: list[tuple[str, int]] = []

    def classify(self, texts, lang=None, batch_size=32):
        self.batches.append((lang, len(texts)))
        return [None] * len(texts)


def test_sample_replies_come_from_both_languages():
    replies = sample_replies()
    assert len(replies) >= 800
    assert any("ä" in r for r in replies) and any(" the " in r for r in replies)


def test_classifier_benchmark_times_single_replies_and_batch_rounds_after_a_warm_up():
    classifier = CountingClassifier()
    result = ClassifierBenchmark(repeats=7, batch_replies=50, warmup=2, rounds=3)(classifier)
    # Single replies alternate languages; each batch pass is one call per language; one untimed pass, three timed.
    assert classifier.batches == [("fi", 1), ("en", 1)] * 4 + [("fi", 1)] + [("fi", 25), ("en", 25)] * 4
    assert 0 <= result["single_reply_ms_p50"] <= result["single_reply_ms_p95"]  # a no-op fake rounds to 0 ms
    assert len(result["batch_rounds_replies_per_s"]) == 3
    assert result["batch_replies_per_s"] == sorted(result["batch_rounds_replies_per_s"])[1] > 0
    assert result["peak_rss_mb"] > 0


def test_coaching_benchmark_reports_time_per_reply():
    result = CoachingLatencyBenchmark(replies=20, repeats=2)(KeywordAnalyzer())
    assert result["coaching_ms_per_reply"] > 0
