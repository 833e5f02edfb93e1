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
otherwise the reply reads as ``calm``. Valence is the probability mass of positive emotions
minus that of negative ones, over the GoEmotions head, in [-1, 1].
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coach.corpora import GOEMOTIONS_LABELS, TAXONOMIES, XED_LABELS
from coach.encoder import EncoderConfig, load_encoder
from coach.errors import UserError
from coach.paths import REPO_ROOT

DEFAULT_ARTIFACT = REPO_ROOT / "models" / "tone"
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
POSITIVE_EMOTIONS = ("admiration", "amusement", "approval", "caring", "excitement", "gratitude", "joy",
                     "love", "optimism", "pride", "relief")  # fmt: skip
NEGATIVE_EMOTIONS = ("anger", "annoyance", "disappointment", "disapproval", "disgust", "embarrassment",
                     "fear", "grief", "nervousness", "remorse", "sadness")  # fmt: skip


def normalise_for_model(text: str) -> str:
    """The XED training text has every comma replaced by a space; do the same to all input."""
    return _SPACES.sub(" ", _COMMAS.sub(" ", text)).strip()


class ToneHeads(nn.Module):
    """The fine-tuned top encoder layers, mean pooling, and one linear head per taxonomy."""

    def __init__(self, base_layers: nn.ModuleList, config, dropout: float = 0.1):
        super().__init__()
        self.layers = base_layers
        self.config = config
        self.dropout = nn.Dropout(dropout)
        hidden = config.hidden_size
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(labels)) for name, labels in TAXONOMIES.items()})

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
    embedding: np.ndarray = field(repr=False)  # pooled sentence vector, input to the moves head

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
    """Batched inference with the encoder's lower layers and the artifact's top layers + heads."""

    def __init__(self, encoder, artifact_dir: Path = DEFAULT_ARTIFACT):
        from safetensors.torch import load_file

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
        weights = load_file(str(artifact_dir / "tone_weights.safetensors"))
        # A copy: the fine-tuned layers must not change the encoder other code embeds with.
        self.heads = ToneHeads(copy.deepcopy(model.encoder.layer[self.first_trained :]), model.config)
        try:
            self.heads.load_state_dict({k: v.float() for k, v in weights.items()})
        except RuntimeError as err:
            raise UserError(f"{artifact_dir}: the tone weights do not fit this encoder ({err}).") from err
        self.heads.eval()
        self.thresholds = {
            name: {lang: np.asarray(values, dtype=np.float32) for lang, values in by_lang.items()}
            for name, by_lang in self.manifest["thresholds"].items()
        }

    def _thresholds(self, taxonomy: str, lang: str | None) -> np.ndarray:
        by_lang = self.thresholds[taxonomy]
        return by_lang.get(lang or "all", by_lang["all"])

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Pooled vectors and per-taxonomy probabilities, in input order."""
        model = self.encoder.model
        lower = model.encoder.layer[: self.first_trained]
        n = len(texts)
        pooled = np.zeros((n, model.config.hidden_size), dtype=np.float32)
        probs = {name: np.zeros((n, len(labels)), dtype=np.float32) for name, labels in TAXONOMIES.items()}
        cleaned = [normalise_for_model(t) for t in texts]
        order = sorted(range(n), key=lambda i: len(cleaned[i]))
        for start in range(0, n, batch_size):
            chunk = order[start : start + batch_size]
            batch = self.encoder.tokenizer(
                [self.encoder.config.prefix + cleaned[i] for i in chunk],
                padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt",
            )  # fmt: skip
            hidden = lower_layers_forward(model, lower, batch)
            vectors, logits = self.heads(hidden, batch["attention_mask"])
            pooled[chunk] = vectors.numpy()
            for name, values in logits.items():
                probs[name][chunk] = torch.sigmoid(values).numpy()
        return pooled, probs

    def classify(self, texts: list[str], lang: str | None = None, batch_size: int = 32) -> list[ToneResult]:
        pooled, probs = self.probabilities(texts, batch_size)
        chosen = {name: decisions(probs[name], self._thresholds(name, lang)) for name in TAXONOMIES}
        results = []
        for i in range(len(texts)):
            go = dict(zip(GOEMOTIONS_LABELS, probs["goemotions"][i].tolist()))
            xed = dict(zip(XED_LABELS, probs["xed"][i].tolist()))
            tone, confidence, scores = coarse_tone(go, xed)
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
                    embedding=pooled[i],
                )
            )
        return results


def lower_layers_forward(model, lower_layers, batch) -> torch.Tensor:
    """Embeddings and the frozen lower layers: the hidden states the trained layers start from."""
    from transformers.masking_utils import create_bidirectional_mask

    hidden = model.embeddings(input_ids=batch["input_ids"])
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=batch["attention_mask"])
    for layer in lower_layers:
        hidden = layer(hidden, attention_mask=mask)
    return hidden


def load_tone_classifier(artifact_dir: Path = DEFAULT_ARTIFACT, encoder_config: EncoderConfig | None = None) -> ToneClassifier:
    return ToneClassifier(load_encoder(encoder_config), artifact_dir)
