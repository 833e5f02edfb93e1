"""The service-moves head: what a reply *does* (acknowledges, owns, deflects, blames …).

    coach train moves                      # reads models/data/service_moves.{fi,en}.jsonl
    head = MovesHead.load()                # models/moves/moves_head.json
    probabilities = head.predict(pooled, replies)   # (n, len(SERVICE_MOVES))

One logistic regression per move over two views of the reply: the sentence vector the tone
classifier already computes (so moves cost no extra encoder pass) and character 2-5-gram
TF-IDF features, which catch the fixed phrases of passive aggression and policy walls ("kuten
jo sanoin", "rules are rules") that a sentence vector blurs. The data is the project's own:
replies written as Finnish and English service workers speak, each labelled with the moves it
makes (multi-label). A seeded 20% of each language is held out as the test split; the shipped
head is trained on the other 80% only, so the reported test F1 is honest. Everything is
stored as JSON (vocabulary, idf, weights): no pickles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coach.corpora import in_dev_split
from coach.errors import UserError
from coach.labels import LANGUAGES, SERVICE_MOVES
from coach.paths import REPO_ROOT

DATA_FILES = tuple(REPO_ROOT / "models" / "data" / f"service_moves.{lang}.jsonl" for lang in LANGUAGES)
DEFAULT_HEAD = REPO_ROOT / "models" / "moves" / "moves_head.json"
TEST_FRACTION = 0.2
SPLIT_SEED = 7


@dataclass(frozen=True)
class MovesExample:
    id: str
    lang: str
    reply: str
    moves: tuple[str, ...]


def read_moves_data(paths=DATA_FILES) -> list[MovesExample]:
    examples = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                unknown = sorted(set(row["moves"]) - set(SERVICE_MOVES))
                if unknown:
                    raise ValueError(f"unknown move(s) {unknown}; expected names from {', '.join(SERVICE_MOVES)}")
                if row["lang"] not in LANGUAGES:
                    raise ValueError(f"lang must be one of {LANGUAGES}, found {row['lang']!r}")
                examples.append(MovesExample(row["id"], row["lang"], row["reply"], tuple(row["moves"])))
            except (ValueError, KeyError, TypeError) as err:
                raise UserError(f"{path}:{number}: {err}") from None
    return examples


def is_test(example: MovesExample) -> bool:
    return in_dev_split(example.id, TEST_FRACTION, SPLIT_SEED)


def targets(examples: list[MovesExample]) -> np.ndarray:
    out = np.zeros((len(examples), len(SERVICE_MOVES)), dtype=int)
    for row, example in enumerate(examples):
        out[row, [SERVICE_MOVES.index(m) for m in example.moves]] = 1
    return out


def _vectorizer(vocabulary: dict[str, int] | None = None, idf: np.ndarray | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                 max_features=20000, lowercase=True, vocabulary=vocabulary, dtype=np.float32)  # fmt: skip
    if idf is not None:
        vectorizer.idf_ = idf
    return vectorizer


@dataclass
class MovesHead:
    vocabulary: dict[str, int]  # character n-gram -> column
    idf: np.ndarray  # (n-grams,)
    text_weights: np.ndarray  # (moves, n-grams)
    vector_weights: np.ndarray  # (moves, dim)
    bias: np.ndarray  # (moves,)
    thresholds: np.ndarray  # (moves,) decision thresholds, tuned by cross-validation
    metadata: dict

    def __post_init__(self) -> None:
        self._vectorizer = _vectorizer(self.vocabulary, self.idf)

    def predict(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        text_features = self._vectorizer.transform(texts)
        logits = text_features @ self.text_weights.T + embeddings @ self.vector_weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def as_dicts(self, probabilities: np.ndarray) -> list[dict[str, float]]:
        return [dict(zip(SERVICE_MOVES, row.tolist())) for row in probabilities]

    def save(self, path: Path = DEFAULT_HEAD) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "moves": list(SERVICE_MOVES),
            **self.metadata,
            "thresholds": np.round(self.thresholds, 4).tolist(),
            "bias": np.round(self.bias, 6).tolist(),
            "vector_weights": np.round(self.vector_weights, 5).tolist(),
            "vocabulary": self.vocabulary,
            "idf": np.round(self.idf, 5).tolist(),
            "text_weights": np.round(self.text_weights, 5).tolist(),
        }
        path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def load(cls, path: Path = DEFAULT_HEAD) -> MovesHead:
        if not path.is_file():
            raise UserError(f"No service-moves head at {path}. Train one with: coach train moves")
        payload = json.loads(path.read_text())
        if payload["moves"] != list(SERVICE_MOVES):
            raise UserError(f"{path}: trained for moves {payload['moves']}, this version knows {list(SERVICE_MOVES)}; retrain it.")
        arrays = ("thresholds", "bias", "vector_weights", "idf", "text_weights")
        metadata = {k: v for k, v in payload.items() if k not in ("moves", "vocabulary", *arrays)}
        return cls(payload["vocabulary"], *(np.asarray(payload[k], np.float32) for k in ("idf", "text_weights", "vector_weights", "bias", "thresholds")), metadata)  # fmt: skip


def fit_head(embeddings: np.ndarray, texts: list[str], y: np.ndarray, seed: int = SPLIT_SEED) -> MovesHead:
    """One L2 logistic regression per move; C and the threshold are chosen by 5-fold CV F1."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    vectorizer = _vectorizer()
    text_features = vectorizer.fit_transform(texts)
    features = hstack([text_features, csr_matrix(embeddings)]).tocsr()
    n_text = text_features.shape[1]
    text_weights, vector_weights, bias, thresholds, chosen_c = [], [], [], [], []
    grid = np.round(np.arange(0.2, 0.81, 0.05), 2)
    for move in range(y.shape[1]):
        best = (-1.0, 1.0, 0.5)
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        for c in (1.0, 4.0, 16.0):
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
            probabilities = cross_val_predict(model, features, y[:, move], cv=folds, method="predict_proba")[:, 1]
            for threshold in grid:
                f1 = f1_score(y[:, move], probabilities >= threshold, zero_division=0)
                if f1 > best[0]:
                    best = (f1, c, threshold)
        model = LogisticRegression(C=best[1], class_weight="balanced", max_iter=3000).fit(features, y[:, move])
        text_weights.append(model.coef_[0][:n_text])
        vector_weights.append(model.coef_[0][n_text:])
        bias.append(model.intercept_[0])
        thresholds.append(best[2])
        chosen_c.append(best[1])
    vocabulary = {gram: int(column) for gram, column in vectorizer.vocabulary_.items()}
    return MovesHead(vocabulary, vectorizer.idf_.astype(np.float32), np.asarray(text_weights, np.float32),
                     np.asarray(vector_weights, np.float32), np.asarray(bias, np.float32),
                     np.asarray(thresholds, np.float32), {"C": chosen_c})  # fmt: skip


def per_move_f1(head: MovesHead, embeddings: np.ndarray, texts: list[str], y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    predicted = head.predict(embeddings, texts) >= head.thresholds
    return {m: round(float(f1_score(y[:, i], predicted[:, i], zero_division=0)), 3) for i, m in enumerate(SERVICE_MOVES)}


def train_moves(tone_classifier, out: Path = DEFAULT_HEAD, paths=DATA_FILES) -> MovesHead:
    examples = read_moves_data(paths)
    texts = [e.reply for e in examples]
    pooled, _ = tone_classifier.probabilities(texts)
    y = targets(examples)
    test_mask = np.array([is_test(e) for e in examples])
    head = fit_head(pooled[~test_mask], [t for t, m in zip(texts, test_mask) if not m], y[~test_mask])
    report = {}
    for lang in LANGUAGES:
        rows = test_mask & np.array([e.lang == lang for e in examples])
        f1 = per_move_f1(head, pooled[rows], [t for t, m in zip(texts, rows) if m], y[rows])
        report[lang] = {"n_test": int(rows.sum()), "macro_f1": round(float(np.mean(list(f1.values()))), 3), "per_move_f1": f1}
    head.metadata.update({"n_train": int((~test_mask).sum()), "test": report,
                          "features": "char 2-5-gram TF-IDF + tone classifier pooled vector (models/tone)"})  # fmt: skip
    head.save(out)
    return head
