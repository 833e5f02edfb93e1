"""One model for many learners: replies that arrive while the model is busy are analysed as one batch.

    analyzer = BatchingAnalyzer(load_analyzer())     # shared by every session in the app
    [analysis] = analyzer.analyze(["Selvitän asian heti."], lang="fi")   # from any handler thread

The model runs one call at a time (it already uses every CPU core). A caller that finds it busy
waits; when the model is free, the first waiting caller takes every waiting reply in the same
language (up to ``max_batch``) and runs them together, handing each caller its own results.
Under load this turns twenty single-reply passes into a few batched ones; with one learner it
is a plain call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from coach.analysis import Analyzer, ReplyAnalysis

MAX_BATCH_REPLIES = 32


@dataclass(eq=False)
class _Request:
    replies: list[str]
    lang: str | None
    done: threading.Event = field(default_factory=threading.Event)
    results: list[ReplyAnalysis] | None = None
    error: BaseException | None = None


class BatchingAnalyzer:
    def __init__(self, analyzer: Analyzer, max_batch: int = MAX_BATCH_REPLIES):
        self.analyzer = analyzer
        self.max_batch = max_batch
        self._pending: list[_Request] = []
        self._pending_lock = threading.Lock()
        self._model_lock = threading.Lock()

    def analyze(self, replies: list[str], lang: str | None = None) -> list[ReplyAnalysis]:
        request = _Request(list(replies), lang)
        with self._pending_lock:
            self._pending.append(request)
        while not request.done.is_set():
            with self._model_lock:
                if not request.done.is_set():
                    self._run(self._take_batch(request))
        if request.error is not None:
            raise request.error
        return request.results

    def _take_batch(self, request: _Request) -> list[_Request]:
        """``request`` plus the other waiting requests in its language, up to max_batch replies."""
        with self._pending_lock:
            batch, size = [request], len(request.replies)
            for other in self._pending:
                if other is not request and other.lang == request.lang and size + len(other.replies) <= self.max_batch:
                    batch.append(other)
                    size += len(other.replies)
            self._pending = [waiting for waiting in self._pending if waiting not in batch]
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            results = self.analyzer.analyze([reply for r in batch for reply in r.replies], lang=batch[0].lang)
        except Exception as err:  # noqa: BLE001 - every caller in the batch gets the same error
            for r in batch:
                r.error = err
                r.done.set()
            return
        start = 0
        for r in batch:
            r.results = results[start : start + len(r.replies)]
            start += len(r.replies)
            r.done.set()
