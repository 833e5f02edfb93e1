"""The service-moves head: what a reply *does* (acknowledges, owns, deflects, blames …).

    coach train moves                      # reads models/data/service_moves.{fi,en}.jsonl
    head = MovesHead.load()                # models/moves/moves_head.json
    probabilities = head.predict(pooled)   # (n, len(SERVICE_MOVES)), pooled from the tone model

One logistic regression per move on the sentence vector the tone classifier already computes,
so moves cost no extra encoder pass. The data is the project's own: replies written as Finnish
and English service workers speak, each labelled with the moves it makes (multi-label). A
seeded 20% of each language is held out as the test split; the shipped head is trained on the
other 80% only, so the reported test F1 is honest.
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


@dataclass
class MovesHead:
    weights: np.ndarray  # (moves, dim)
    bias: np.ndarray  # (moves,)
    thresholds: np.ndarray  # (moves,) decision thresholds, tuned by cross-validation
    metadata: dict

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(embeddings @ self.weights.T + self.bias)))

    def as_dicts(self, probabilities: np.ndarray) -> list[dict[str, float]]:
        return [dict(zip(SERVICE_MOVES, row.tolist())) for row in probabilities]

    def save(self, path: Path = DEFAULT_HEAD) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "moves": list(SERVICE_MOVES),
            "weights": np.round(self.weights, 6).tolist(),
            "bias": np.round(self.bias, 6).tolist(),
            "thresholds": np.round(self.thresholds, 4).tolist(),
            **self.metadata,
        }
        path.write_text(json.dumps(payload, indent=1, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path = DEFAULT_HEAD) -> MovesHead:
        if not path.is_file():
            raise UserError(f"No service-moves head at {path}. Train one with: coach train moves")
        payload = json.loads(path.read_text())
        if payload["moves"] != list(SERVICE_MOVES):
            raise UserError(f"{path}: trained for moves {payload['moves']}, this version knows {list(SERVICE_MOVES)}; retrain it.")
        metadata = {k: v for k, v in payload.items() if k not in ("moves", "weights", "bias", "thresholds")}
        return cls(np.asarray(payload["weights"], np.float32), np.asarray(payload["bias"], np.float32),
                   np.asarray(payload["thresholds"], np.float32), metadata)  # fmt: skip


def fit_head(embeddings: np.ndarray, y: np.ndarray, seed: int = SPLIT_SEED) -> MovesHead:
    """One L2 logistic regression per move; C and the threshold are chosen by 5-fold CV F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    weights, bias, thresholds, chosen_c = [], [], [], []
    grid = np.round(np.arange(0.2, 0.81, 0.05), 2)
    for move in range(y.shape[1]):
        best = (-1.0, 1.0, 0.5)
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        for c in (0.5, 2.0, 8.0):
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            probabilities = cross_val_predict(model, embeddings, y[:, move], cv=folds, method="predict_proba")[:, 1]
            for threshold in grid:
                f1 = f1_score(y[:, move], probabilities >= threshold, zero_division=0)
                if f1 > best[0]:
                    best = (f1, c, threshold)
        model = LogisticRegression(C=best[1], class_weight="balanced", max_iter=2000).fit(embeddings, y[:, move])
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
        thresholds.append(best[2])
        chosen_c.append(best[1])
    return MovesHead(np.asarray(weights, np.float32), np.asarray(bias, np.float32),
                     np.asarray(thresholds, np.float32), {"C": chosen_c})  # fmt: skip


def per_move_f1(head: MovesHead, embeddings: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    predicted = head.predict(embeddings) >= head.thresholds
    return {m: round(float(f1_score(y[:, i], predicted[:, i], zero_division=0)), 3) for i, m in enumerate(SERVICE_MOVES)}


def train_moves(tone_classifier, out: Path = DEFAULT_HEAD, paths=DATA_FILES) -> MovesHead:
    examples = read_moves_data(paths)
    pooled, _ = tone_classifier.probabilities([e.reply for e in examples])
    y = targets(examples)
    test_mask = np.array([is_test(e) for e in examples])
    head = fit_head(pooled[~test_mask], y[~test_mask])
    report = {}
    for lang in LANGUAGES:
        rows = test_mask & np.array([e.lang == lang for e in examples])
        f1 = per_move_f1(head, pooled[rows], y[rows])
        report[lang] = {"n_test": int(rows.sum()), "macro_f1": round(float(np.mean(list(f1.values()))), 3), "per_move_f1": f1}
    head.metadata.update({"n_train": int((~test_mask).sum()), "test": report,
                          "encoder": "tone classifier pooled vector (models/tone)"})  # fmt: skip
    head.save(out)
    return head
