"""Reading one learner reply: tone, service moves and verdict readings, for the whole reply and per sentence.

    analyzer = load_analyzer()                               # tone classifier + moves model
    [analysis] = analyzer.analyze(["Ymmärrän. Selvitän asian heti."], lang="fi")
    analysis.signals          # ReplySignals for scenario branching (coarse tone + moves)
    analysis.sentence_signals # per-sentence rubric signals, so feedback can quote the sentence

Sentences are classified in the same batch as the whole reply, so the coach can quote the part
of a reply that triggered a verdict. Replies longer than ``MAX_ANALYSED_CHARS`` are analysed
from their start (the classifier truncates at its token limit anyway) and at most
``MAX_SENTENCES`` sentences are scored for evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from coach.labels import COARSE_TONES, SERVICE_MOVES, VERDICT_READINGS
from coach.signals import ReplySignals

MAX_ANALYSED_CHARS = 2000
MAX_SENTENCES = 8
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"\w+")


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines) with at least two words; short fragments stay with the whole reply."""
    parts = [p.strip() for p in _SENTENCE_END.split(text[:MAX_ANALYSED_CHARS]) if p and p.strip()]
    return [p for p in parts if len(_WORD.findall(p)) >= 2][:MAX_SENTENCES]


@dataclass
class ReplyAnalysis:
    reply: str
    tone: str
    tone_confidence: float
    tone_scores: dict[str, float]  # every coarse tone's score
    moves: dict[str, float]  # every service move's probability
    sentences: list[str] = field(default_factory=list)
    sentence_signals: list[dict[str, float]] = field(default_factory=list)  # tone.*, move.*, reading.* per sentence
    details: dict = field(default_factory=dict)  # the full emotion read-out, for reports
    # The moves model's direct reading of each verdict (VERDICT_READINGS); empty in transcripts
    # saved before it existed, which the rules then read as 0.
    readings: dict[str, float] = field(default_factory=dict)

    @property
    def signals(self) -> ReplySignals:
        return ReplySignals(self.tone, self.tone_confidence, dict(self.moves))

    def strongest_sentence(self, signal: str) -> str:
        """The sentence that carries ``signal`` most (the whole reply when it is one sentence)."""
        if len(self.sentences) < 2:
            return self.reply
        values = [s.get(signal, 0.0) for s in self.sentence_signals]
        return self.sentences[max(range(len(values)), key=values.__getitem__)]

    def to_dict(self) -> dict:
        return {
            "tone": {"label": self.tone, "confidence": round(self.tone_confidence, 4),
                     "scores": {k: round(v, 4) for k, v in self.tone_scores.items()}},
            "moves": {k: round(v, 4) for k, v in self.moves.items()},
            **({"verdict_readings": {k: round(v, 4) for k, v in self.readings.items()}} if self.readings else {}),
            **({"emotions": self.details} if self.details else {}),
        }  # fmt: skip


    def to_record(self) -> dict:
        """Everything needed to restore this analysis without the model (see from_record)."""
        return {"reply": self.reply, "tone": self.tone, "tone_confidence": self.tone_confidence,
                "tone_scores": self.tone_scores, "moves": self.moves, "sentences": self.sentences,
                "sentence_signals": self.sentence_signals, "details": self.details, "readings": self.readings}  # fmt: skip

    @classmethod
    def from_record(cls, record: dict) -> ReplyAnalysis:
        return cls(**record)


def sentence_signal_dict(tone_scores: dict[str, float], moves: dict[str, float],
                         readings: dict[str, float] | None = None) -> dict[str, float]:  # fmt: skip
    return {**{f"tone.{t}": tone_scores.get(t, 0.0) for t in COARSE_TONES},
            **{f"move.{m}": moves.get(m, 0.0) for m in SERVICE_MOVES},
            **{f"reading.{r}": (readings or {}).get(r, 0.0) for r in VERDICT_READINGS}}  # fmt: skip


class Analyzer(Protocol):
    def analyze(self, replies: list[str], lang: str | None = None) -> list[ReplyAnalysis]: ...


class ReplyAnalyzer:
    """The real analyzer: the tone and the moves model, fed by one pass through the lower encoder layers when
    both start from the same layer, else each by its own (the shipped tone classifier fine-tunes all twelve)."""

    def __init__(self, tone_classifier, moves_model):
        self.tone = tone_classifier
        self.moves = moves_model

    def analyze(self, replies: list[str], lang: str | None = None, batch_size: int = 32) -> list[ReplyAnalysis]:
        texts, spans = [], []
        for reply in replies:
            sentences = split_sentences(reply)
            if len(sentences) < 2:
                sentences = []
            start = len(texts)
            texts += [reply[:MAX_ANALYSED_CHARS], *sentences]
            spans.append((start, sentences))
        probabilities = self.tone.probabilities(texts, batch_size=batch_size, extra_heads=self.moves.heads_for(self.tone), lang=lang)
        results = self.tone.results(probabilities, lang)
        if "moves" in probabilities:
            moves_probabilities = self.moves.with_ngrams(texts, probabilities["moves"])
        else:  # the two models start from different layers: a second pass
            moves_probabilities = self.moves.predict(texts, batch_size=batch_size)
        moves, readings = self.moves.as_dicts(moves_probabilities)
        out = []
        for reply, (start, sentences) in zip(replies, spans):
            whole = results[start]
            out.append(
                ReplyAnalysis(
                    reply=reply,
                    tone=whole.coarse,
                    tone_confidence=whole.confidence,
                    tone_scores=whole.coarse_scores,
                    moves=moves[start],
                    sentences=sentences,
                    sentence_signals=[
                        sentence_signal_dict(results[start + 1 + i].coarse_scores, moves[start + 1 + i], readings[start + 1 + i])
                        for i in range(len(sentences))
                    ],
                    readings=readings[start],
                    details={"goemotions": whole.goemotions_labels, "xed": whole.xed_labels,
                             "valence": round(whole.valence, 4)},  # fmt: skip
                )
            )
        return out


def analyze_by_language(analyzer: Analyzer, langs: list[str], replies: list[str]) -> list[ReplyAnalysis]:
    """Analyses of ``replies`` in their order, each language in one batch with its own language, as the
    app reads them: the language picks the tone thresholds and the Finnish n-gram blend."""
    out: list[ReplyAnalysis | None] = [None] * len(replies)
    for lang in dict.fromkeys(langs):
        rows = [i for i, reply_lang in enumerate(langs) if reply_lang == lang]
        for i, analysis in zip(rows, analyzer.analyze([replies[i] for i in rows], lang=lang)):
            out[i] = analysis
    return out


def load_analyzer() -> ReplyAnalyzer:
    from coach.moves import MovesModel
    from coach.tone import load_tone_classifier

    tone = load_tone_classifier()
    return ReplyAnalyzer(tone, MovesModel(tone.encoder))
