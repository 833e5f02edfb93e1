"""coach/ui/batching.py: one model call at a time, waiting replies batched, each caller gets its own."""

from __future__ import annotations

import threading
import time

import pytest

from coach.ui.batching import BatchingAnalyzer
from tests.fakes import KeywordAnalyzer


class SlowAnalyzer(KeywordAnalyzer):
    """The keyword fake, slowed down like a model, recording how many ran at once."""

    def __init__(self, fail_on: str | None = None):
        super().__init__()
        self.running = 0
        self.most_at_once = 0
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def analyze(self, replies, lang=None):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.05)
        try:
            if self.fail_on and any(self.fail_on in reply for reply in replies):
                raise RuntimeError("model failed")
            return super().analyze(replies, lang)
        finally:
            with self._lock:
                self.running -= 1


def run_at_once(analyzer: BatchingAnalyzer, calls: list[tuple[str, str]]) -> list:
    results: list = [None] * len(calls)

    def call(index: int, reply: str, lang: str) -> None:
        try:
            results[index] = analyzer.analyze([reply], lang=lang)
        except Exception as err:  # noqa: BLE001 - compared below
            results[index] = err

    threads = [threading.Thread(target=call, args=(i, reply, lang)) for i, (reply, lang) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_replies_share_batches_and_each_gets_its_own_analysis():
    model = SlowAnalyzer()
    calls = [(f"I'm sorry, reply {i}.", "fi" if i % 3 == 0 else "en") for i in range(12)]
    results = run_at_once(BatchingAnalyzer(model), calls)
    assert model.most_at_once == 1
    assert len(model.calls) < len(calls)  # some replies waited and went in together
    assert all(len(batch) == len(set(batch)) for batch, _ in model.calls)
    assert {lang for _, lang in model.calls} == {"fi", "en"}
    for (reply, _), [analysis] in zip(calls, results):
        assert analysis.reply == reply and analysis.tone == "apologetic"


def test_a_single_call_is_a_plain_call():
    model = KeywordAnalyzer()
    [analysis] = BatchingAnalyzer(model).analyze(["Kiitos, hoidan asian."], lang="fi")
    assert model.calls == [(["Kiitos, hoidan asian."], "fi")] and analysis.tone == "warm"


def test_a_model_error_reaches_the_callers_in_that_batch_and_no_others():
    model = SlowAnalyzer(fail_on="boom")
    results = run_at_once(BatchingAnalyzer(model), [("boom", "en")] + [(f"fine {i}", "fi") for i in range(4)])
    assert isinstance(results[0], RuntimeError)
    assert all(isinstance(result, list) for result in results[1:])
    with pytest.raises(RuntimeError):
        BatchingAnalyzer(SlowAnalyzer(fail_on="boom")).analyze(["boom"], lang="en")
