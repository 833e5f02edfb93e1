"""Finnish character n-grams, blended into the tone classifier's XED head for Finnish text.

    coach train lexical                         # about a minute; run after coach train tone
    blend = LexicalBlend.load(Path("models/tone"))    # None when the folder has no lexical model
    xed = blend(texts, xed)                     # (n, 9) XED probabilities, for Finnish text only

Why: Finnish carries much of its emotion in word forms (vituttaa, harmittaa, pelottaa, ihanaa …)
that the small multilingual encoder splits into many pieces. A logistic regression on character
1-4-grams reads them directly, and its errors differ from the encoder's, so the mix beats either.
On English XED the same blend added nothing (measured), so English text is left alone.
The service-moves model blends the same kind of n-gram model, fitted on the project's service
replies, into its moves and verdict readings (``coach.moves.train_moves_ngrams``).

Training (``train_lexical``): one logistic regression per XED label (balanced class weights) on
the Finnish XED training lines outside the tone classifier's dev carve-out (its seed and fraction
are read from the classifier's tone_config.json, so the two cannot drift apart); the blend weight is
the one that scores best when the Finnish thresholds are tuned on one half of dev and scored on
the other (both ways, averaged), so the choice is not scored on the lines it was tuned on; then
the Finnish XED thresholds in ``tone_config.json`` are retuned on all of dev for the blend.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from coach.errors import UserError
from coach.paths import shared_data_dir

LEXICAL_CONFIG, LEXICAL_WEIGHTS = "lexical_fi.json", "lexical_fi.safetensors"
BLEND_LANG = "fi"


def _vectorizer(vocabulary=None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True,
                           lowercase=True, vocabulary=vocabulary, dtype=np.float32)  # fmt: skip


class LexicalBlend:
    """``(1 - weight) * model probabilities + weight * n-gram probabilities``, one column per label.

    The tone classifier blends it into its XED head for Finnish text; the service-moves model into
    its moves and verdict readings (``coach.moves``)."""

    def __init__(self, vocabulary: list[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray, weight: float):
        self.vocabulary = list(vocabulary)
        self.vectorizer = _vectorizer(self.vocabulary)
        self.vectorizer.idf_ = idf
        self.coef, self.intercept, self.weight = coef, intercept, float(weight)

    @classmethod
    def fit(cls, texts: list[str], targets: np.ndarray, regularisation_c: float, weight: float) -> LexicalBlend:
        """One logistic regression per label (balanced class weights) on the character n-grams of ``texts``."""
        from sklearn.linear_model import LogisticRegression

        vectorizer = _vectorizer()
        features = vectorizer.fit_transform(texts)
        coef = np.zeros((targets.shape[1], features.shape[1]), dtype=np.float32)
        intercept = np.full(targets.shape[1], -10.0, dtype=np.float32)  # a label never seen in training stays improbable
        for j in range(targets.shape[1]):
            if 0 < targets[:, j].sum() < len(targets):
                regression = LogisticRegression(C=regularisation_c, max_iter=2000, class_weight="balanced")
                regression.fit(features, targets[:, j])
                coef[j], intercept[j] = regression.coef_[0], regression.intercept_[0]
        vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        return cls(vocabulary, vectorizer.idf_.astype(np.float32), coef, intercept, weight)

    @classmethod
    def load(cls, folder: Path, files: tuple[str, str] = (LEXICAL_CONFIG, LEXICAL_WEIGHTS),
             retrain: str = "coach train lexical") -> LexicalBlend | None:  # fmt: skip
        """The blend saved in ``folder`` under ``files`` (settings, arrays); None when there is none."""
        from safetensors.numpy import load_file

        config_path = Path(folder) / files[0]
        if not config_path.is_file():
            return None
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            arrays = load_file(str(Path(folder) / files[1]))
            return cls(config["vocabulary"], arrays["idf"], arrays["coef"], arrays["intercept"], config["weight"])
        except (OSError, KeyError, ValueError) as err:
            raise UserError(f"{folder}: the n-gram model {files[0]} is unreadable ({err}); "
                            f"retrain it with: {retrain}, or delete {files[0]} to run without it.") from err  # fmt: skip

    def save(self, folder: Path, files: tuple[str, str] = (LEXICAL_CONFIG, LEXICAL_WEIGHTS), **settings) -> None:
        from safetensors.numpy import save_file

        save_file({"idf": self.vectorizer.idf_.astype(np.float32), "coef": self.coef, "intercept": self.intercept},
                  str(Path(folder) / files[1]))  # fmt: skip
        (Path(folder) / files[0]).write_text(json.dumps({"weight": self.weight, **settings, "vocabulary": self.vocabulary},
                                                        ensure_ascii=False), encoding="utf-8")  # fmt: skip

    def ngram_probabilities(self, texts: list[str]) -> np.ndarray:
        """Per-label probabilities of the n-gram model alone, for ``texts`` prepared as in its fit (the
        tone classifier's: normalised for the model; the moves model's: as written)."""
        logits = self.vectorizer.transform(texts) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def __call__(self, texts: list[str], probabilities: np.ndarray) -> np.ndarray:
        return mix(probabilities, self.ngram_probabilities(texts), self.weight)


def mix(encoder: np.ndarray, ngram: np.ndarray, weight: float) -> np.ndarray:
    return ((1.0 - weight) * encoder + weight * ngram).astype(np.float32)


@dataclass
class LexicalTrainingConfig:
    data_dir: Path = field(default_factory=shared_data_dir)
    tone_dir: Path = Path("models/tone")
    regularisation_c: float = 4.0  # inverse L2 strength of each label's logistic regression
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # blend weights tried


def _half_split_f1(probabilities: np.ndarray, targets: np.ndarray, seed: int) -> float:
    """Macro-F1 with thresholds tuned on one half of dev and scored on the other, both ways, averaged."""
    from sklearn.metrics import f1_score

    from coach.tone import decisions
    from coach.tone_training import tune_thresholds

    order = np.random.RandomState(seed).permutation(len(targets))
    halves = order[: len(order) // 2], order[len(order) // 2 :]
    scores = []
    for tune, held in (halves, halves[::-1]):
        thresholds = tune_thresholds(probabilities[tune], targets[tune])
        scores.append(f1_score(targets[held], decisions(probabilities[held], thresholds), average="macro", zero_division=0))
    return float(np.mean(scores))


def train_lexical(config: LexicalTrainingConfig | None = None) -> dict:
    """Fit the n-gram model, choose the blend weight, retune the Finnish XED thresholds, write both files."""
    from coach.corpora import TAXONOMIES
    from coach.tone import load_tone_classifier, normalise_for_model
    from coach.tone_training import _multi_hot, score, tune_thresholds, xed_train_dev

    config = config or LexicalTrainingConfig()
    started = time.time()
    tone_dir = Path(config.tone_dir)
    manifest_path = tone_dir / "tone_config.json"
    if not manifest_path.is_file():
        raise UserError(f"No tone classifier in {tone_dir} (tone_config.json missing); train it first: coach train tone")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    seed = manifest["config"]["seed"]
    train_examples, dev_examples = xed_train_dev(config.data_dir, BLEND_LANG, manifest["config"]["xed_dev_fraction"], seed)
    labels = TAXONOMIES["xed"]
    train_texts = [normalise_for_model(e.text) for e in train_examples]
    train_targets = _multi_hot([e.labels for e in train_examples], len(labels))
    dev_targets = _multi_hot([e.labels for e in dev_examples], len(labels))

    ngrams = LexicalBlend.fit(train_texts, train_targets, config.regularisation_c, weight=1.0)

    # The blend is tuned on the fp32 classifier, as its thresholds were (coach.tone_training).
    classifier = load_tone_classifier(tone_dir, int8=False)
    dev_texts = [e.text for e in dev_examples]
    encoder_probs = classifier.probabilities(dev_texts)["xed"]
    ngram_probs = ngrams.ngram_probabilities([normalise_for_model(t) for t in dev_texts])
    by_weight = {w: _half_split_f1(mix(encoder_probs, ngram_probs, w), dev_targets, seed) for w in config.weights}
    weight = max(by_weight, key=by_weight.get)
    blended = mix(encoder_probs, ngram_probs, weight)
    thresholds = tune_thresholds(blended, dev_targets)

    after = score(blended, dev_targets, thresholds, labels)
    manifest["thresholds"]["xed"][BLEND_LANG] = [float(t) for t in thresholds]
    manifest["dev_metrics"][f"xed-{BLEND_LANG}"] = after
    alone = score(encoder_probs, dev_targets, tune_thresholds(encoder_probs, dev_targets), labels)["macro_f1"]
    manifest["lexical"] = {
        "lang": BLEND_LANG, "weight": weight,
        "half_split_macro_f1_by_weight": {str(w): round(f, 4) for w, f in by_weight.items()},
        "dev_macro_f1_encoder_alone": round(alone, 4), "dev_macro_f1_blend": round(after["macro_f1"], 4),
        "n_features": ngrams.coef.shape[1],
    }  # fmt: skip
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k not in ("data_dir", "tone_dir")}
    if weight > 0:
        ngrams.weight = weight
        ngrams.save(tone_dir, lang=BLEND_LANG, config=settings)
    else:  # the n-grams did not help: the classifier runs without them
        for name in (LEXICAL_CONFIG, LEXICAL_WEIGHTS):
            (tone_dir / name).unlink(missing_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return {**manifest["lexical"], "training_seconds": round(time.time() - started)}
