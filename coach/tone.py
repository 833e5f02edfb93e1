"""The tone classifier: two emotion taxonomies on one fine-tuned encoder, plus a coarse tone.

    from coach.tone import load_tone_classifier
    classifier = load_tone_classifier()                  # embedded encoder + models/tone artifact
    [result] = classifier.classify(["No kuten jo sanoin, ei onnistu."], lang="fi")
    result.coarse, result.confidence, result.valence     # "irritated", 0.71, -0.58
    result.goemotions["annoyance"], result.xed_labels    # probabilities, labels over threshold

The artifact (models/tone/) holds the fine-tuned top encoder layers and both heads; the lower
layers stay the embedded multilingual-e5-small weights. ``classify`` is batched, deterministic
(eval mode, no sampling), and accepts empty or very long input: text is truncated to
``MAX_TOKENS`` tokens, prefix and specials included.

Coarse tone: each coarse tone's score is the largest probability among the emotions mapped to
it (``COARSE_TONE_SOURCES``); the highest score wins if it reaches ``COARSE_MIN_SCORE``,
otherwise the reply reads as ``calm`` (for Finnish, from the encoder's XED probabilities, not the
n-gram blend: see ``ENCODER_XED``). Valence is the probability mass of positive emotions
minus that of negative ones, over the GoEmotions head, in [-1, 1].
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coach.corpora import GOEMOTIONS_LABELS, TAXONOMIES, XED_LABELS
from coach.encoder import EncoderConfig, load_encoder
from coach.errors import UserError
from coach.files import load_weight_shards
from coach.int8 import calibrate, chosen_precision
from coach.lexical import BLEND_LANG, LexicalBlend
from coach.paths import REPO_ROOT

DEFAULT_ARTIFACT = REPO_ROOT / "models" / "tone"
# A model that reads the lower-layer states (hidden, attention mask) and returns probabilities.
StatesHead = Callable[[torch.Tensor, torch.Tensor], np.ndarray]
MAX_TOKENS = 256
_COMMAS = re.compile(r"\s*,\s*")
_SPACES = re.compile(r"\s+")

COARSE_TONE_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "warm": {"goemotions": ("caring", "gratitude", "love", "admiration", "approval", "joy", "optimism"),
             "xed": ("trust", "joy")},
    "apologetic": {"goemotions": ("remorse", "embarrassment"), "xed": ()},
    "irritated": {"goemotions": ("annoyance", "anger"), "xed": ("anger",)},
    "dismissive": {"goemotions": ("disapproval", "disgust", "amusement"), "xed": ("disgust",)},
    "anxious": {"goemotions": ("nervousness", "fear", "confusion"), "xed": ("fear",)},
    "downcast": {"goemotions": ("sadness", "grief", "disappointment"), "xed": ("sadness",)},
}  # fmt: skip
COARSE_MIN_SCORE = 0.35
# The Finnish n-gram blend sharpens the XED labels, but its subtitle word forms misread service talk
# for the coarse tone ("valitettavasti", "huono uutinen" in an apology read as the worker's sadness,
# which turned a skilled learner's bad-news apology downcast), so the coarse tone reads the
# encoder's XED probabilities, kept under this key when a blend replaced them.
ENCODER_XED = "xed_encoder"
POSITIVE_EMOTIONS = ("admiration", "amusement", "approval", "caring", "excitement", "gratitude", "joy",
                     "love", "optimism", "pride", "relief")  # fmt: skip
NEGATIVE_EMOTIONS = ("anger", "annoyance", "disappointment", "disapproval", "disgust", "embarrassment",
                     "fear", "grief", "nervousness", "remorse", "sadness")  # fmt: skip


def normalise_for_model(text: str) -> str:
    """The XED training text has every comma replaced by a space; do the same to all input."""
    return _SPACES.sub(" ", _COMMAS.sub(" ", text)).strip()


class TopHeads(nn.Module):
    """Fine-tuned top encoder layers, mean pooling, and one linear head per output name.

    The tone classifier's outputs are the two taxonomies (the default); the service-moves model
    (coach/moves.py) is the same shape with one output, "moves".
    """

    def __init__(self, base_layers: nn.ModuleList, config, dropout: float = 0.1, outputs: dict[str, int] | None = None):
        super().__init__()
        self.layers = base_layers
        self.config = config
        self.dropout = nn.Dropout(dropout)
        hidden = config.hidden_size
        outputs = outputs or {name: len(labels) for name, labels in TAXONOMIES.items()}
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, size) for name, size in outputs.items()})

    def pooled(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        for layer in self.layers:
            hidden = layer(hidden, attention_mask=mask)
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        pooled = self.pooled(hidden, attention_mask)
        dropped = self.dropout(pooled)
        return pooled, {name: head(dropped) for name, head in self.heads.items()}


@dataclass
class ToneResult:
    goemotions: dict[str, float]
    xed: dict[str, float]
    goemotions_labels: list[str]
    xed_labels: list[str]
    coarse: str
    confidence: float
    coarse_scores: dict[str, float]
    valence: float

    def to_dict(self) -> dict:
        return {
            "coarse": self.coarse,
            "confidence": round(self.confidence, 4),
            "valence": round(self.valence, 4),
            "coarse_scores": {k: round(v, 4) for k, v in self.coarse_scores.items()},
            "goemotions": {k: round(v, 4) for k, v in self.goemotions.items()},
            "xed": {k: round(v, 4) for k, v in self.xed.items()},
            "goemotions_labels": self.goemotions_labels,
            "xed_labels": self.xed_labels,
        }


def coarse_tone(goemotions: dict[str, float], xed: dict[str, float]) -> tuple[str, float, dict[str, float]]:
    scores = {
        tone: max([goemotions[e] for e in sources["goemotions"]] + [xed[e] for e in sources["xed"]])
        for tone, sources in COARSE_TONE_SOURCES.items()
    }
    best = max(scores, key=scores.get)
    calm = max(goemotions["neutral"], xed["neutral"], 1.0 - scores[best])
    scores = {"calm": calm, **scores}
    if scores[best] >= COARSE_MIN_SCORE:
        return best, scores[best], scores
    return "calm", calm, scores


def valence(goemotions: dict[str, float]) -> float:
    positive = sum(goemotions[e] for e in POSITIVE_EMOTIONS)
    negative = sum(goemotions[e] for e in NEGATIVE_EMOTIONS)
    total = positive + negative
    return 0.0 if total < 1e-6 else float((positive - negative) / max(total, 1.0))


def decisions(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Multi-hot labels per row: at or over their threshold, else the most likely one (every text has one)."""
    chosen = (probabilities >= thresholds).astype(int)
    empty = chosen.sum(1) == 0
    chosen[empty, probabilities[empty].argmax(1)] = 1
    return chosen


class ToneClassifier:
    """Batched inference with the encoder's lower layers and the artifact's top layers + heads.

    ``int8``: run every linear map of the encoder layers in int8 (``coach.int8``; 2.2-2.5× the
    fp32 throughput, within 0.01 dev macro-F1, models/MODEL_CARD.md). ``None`` (the default)
    means int8 when the artifact holds an int8 calibration, fp32 otherwise.
    """

    def __init__(self, encoder, artifact_dir: Path = DEFAULT_ARTIFACT, int8: bool | None = None):
        manifest_path = artifact_dir / "tone_config.json"
        if not manifest_path.is_file():
            raise UserError(
                f"No tone classifier artifact in {artifact_dir} (tone_config.json missing). "
                f"Train one with: coach train tone --out {artifact_dir}"
            )
        self.manifest = json.loads(manifest_path.read_text())
        self.encoder = encoder
        model = encoder.model
        self.first_trained = int(self.manifest["first_trained_layer"])
        try:
            weights = load_weight_shards(artifact_dir, "tone_weights")
        except FileNotFoundError as err:
            raise UserError(f"{err}: the tone classifier artifact is incomplete. Train one with: "
                            f"coach train tone --out {artifact_dir}") from err
        # A copy: the fine-tuned layers must not change the encoder other code embeds with.
        self.heads = TopHeads(copy.deepcopy(model.encoder.layer[self.first_trained :]), model.config)
        try:
            self.heads.load_state_dict({k: v.float() for k, v in weights.items()})
        except RuntimeError as err:
            raise UserError(f"{artifact_dir}: the tone weights do not fit this encoder ({err}).") from err
        self.heads.eval()
        self.lower = model.encoder.layer[: self.first_trained]
        # Quantised layers are copies: the shared encoder's own layers stay fp32 for other code.
        self.int8, layers = chosen_precision(artifact_dir, int8, {"lower": self.lower, "layers": self.heads.layers})
        self.lower, self.heads.layers = layers["lower"], layers["layers"]
        self.thresholds = {
            name: {lang: np.asarray(values, dtype=np.float32) for lang, values in by_lang.items()}
            for name, by_lang in self.manifest["thresholds"].items()
        }
        self.lexical = LexicalBlend.load(artifact_dir)

    def _thresholds(self, taxonomy: str, lang: str | None) -> np.ndarray:
        by_lang = self.thresholds[taxonomy]
        return by_lang.get(lang or "all", by_lang["all"])

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 32,
                      extra_heads: dict[str, StatesHead] | None = None, lang: str | None = None) -> dict[str, np.ndarray]:  # fmt: skip
        """Per-taxonomy probabilities, in input order.

        ``extra_heads`` run on the same lower-layer states as the tone heads (so another model
        built on layer ``first_trained`` costs no second pass through the lower layers); their
        outputs come back in the probabilities dict under their names. With ``lang="fi"`` the XED
        probabilities blend in the artifact's Finnish n-gram model, if it has one (``coach.lexical``);
        the encoder's own XED probabilities are then kept under ``ENCODER_XED`` for the coarse tone.
        """
        n = len(texts)
        probs = {name: np.zeros((n, len(labels)), dtype=np.float32) for name, labels in TAXONOMIES.items()}
        cleaned = [normalise_for_model(t) for t in texts]
        for chunk, hidden, mask in lower_state_batches(self.encoder, self.lower, cleaned, batch_size, MAX_TOKENS):
            _, logits = self.heads(hidden, mask)
            for name, values in logits.items():
                probs[name][chunk] = torch.sigmoid(values).numpy()
            for name, head in (extra_heads or {}).items():
                values = head(hidden, mask)
                probs.setdefault(name, np.zeros((n, values.shape[1]), dtype=np.float32))[chunk] = values
        if self.lexical is not None and lang == BLEND_LANG:
            probs[ENCODER_XED] = probs["xed"]
            probs["xed"] = self.lexical(cleaned, probs["xed"])
        return probs

    def calibration(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Input ranges of every linear map while the fp32 model reads ``texts`` (for ``coach.int8``)."""
        if self.int8:
            raise ValueError("calibrate the fp32 model: load it with int8=False")
        return calibrate({"lower": self.lower, "layers": self.heads.layers}, run=lambda: self.probabilities(texts))

    def classify(self, texts: list[str], lang: str | None = None, batch_size: int = 32) -> list[ToneResult]:
        return self.results(self.probabilities(texts, batch_size, lang=lang), lang)

    def results(self, probs: dict[str, np.ndarray], lang: str | None = None) -> list[ToneResult]:
        """ToneResults from the output of ``probabilities``, with the language's thresholds."""
        chosen = {name: decisions(probs[name], self._thresholds(name, lang)) for name in TAXONOMIES}
        coarse_xed = probs.get(ENCODER_XED, probs["xed"])
        results = []
        for i in range(len(probs["goemotions"])):
            go = dict(zip(GOEMOTIONS_LABELS, probs["goemotions"][i].tolist()))
            xed = dict(zip(XED_LABELS, probs["xed"][i].tolist()))
            tone, confidence, scores = coarse_tone(go, dict(zip(XED_LABELS, coarse_xed[i].tolist())))
            results.append(
                ToneResult(
                    goemotions=go,
                    xed=xed,
                    goemotions_labels=[GOEMOTIONS_LABELS[j] for j in np.flatnonzero(chosen["goemotions"][i])],
                    xed_labels=[XED_LABELS[j] for j in np.flatnonzero(chosen["xed"][i])],
                    coarse=tone,
                    confidence=float(confidence),
                    coarse_scores=scores,
                    valence=valence(go),
                )
            )
        return results


def lower_state_batches(encoder, lower_layers: nn.ModuleList, texts: list[str], batch_size: int, max_length: int,
                        device: str | torch.device = "cpu") -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:  # fmt: skip
    """(indices into ``texts``, hidden states after ``lower_layers``, attention mask) per batch.

    ``texts`` are already normalised. Batches hold texts of similar length (less padding), so
    callers write results back by the indices. Runs in the caller's grad mode, on ``device`` (where
    the encoder must already be).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = {k: v.to(device) for k, v in encoder.tokenize([texts[i] for i in chunk], max_length=max_length).items()}
        yield chunk, lower_layers_forward(encoder.model, lower_layers, batch), batch["attention_mask"]


def lower_layers_forward(model, lower_layers, batch) -> torch.Tensor:
    """Embeddings and the frozen lower layers: the hidden states the trained layers start from."""
    from transformers.masking_utils import create_bidirectional_mask

    hidden = model.embeddings(input_ids=batch["input_ids"])
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=batch["attention_mask"])
    for layer in lower_layers:
        hidden = layer(hidden, attention_mask=mask)
    return hidden


def load_tone_classifier(artifact_dir: Path = DEFAULT_ARTIFACT, encoder_config: EncoderConfig | None = None,
                         int8: bool | None = None) -> ToneClassifier:  # fmt: skip
    return ToneClassifier(load_encoder(encoder_config), artifact_dir, int8=int8)
