"""Reading the labelled emotion corpora (XED, GoEmotions) in the exact format of the shared files.

    goemotions: text<TAB>label ids (comma-separated)<TAB>comment id      ids index GOEMOTIONS_LABELS
    xed:        text<TAB>label ids (comma-separated)                    ids index XED_LABELS

    examples = read_corpus(Path("../shared/data/xed/fi.train.tsv"), "xed")

Every problem is reported with the file and line number; nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from coach.errors import UserError

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
    "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
    "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
    "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip
XED_LABELS: tuple[str, ...] = (
    "neutral", "anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust",
)  # fmt: skip
TAXONOMIES: dict[str, tuple[str, ...]] = {"goemotions": GOEMOTIONS_LABELS, "xed": XED_LABELS}
_COLUMNS = {"goemotions": 3, "xed": 2}


@dataclass(frozen=True)
class LabelledText:
    text: str
    labels: tuple[int, ...]
    line: int


def read_corpus(path: Path, taxonomy: str) -> list[LabelledText]:
    if taxonomy not in TAXONOMIES:
        raise UserError(f"unknown taxonomy {taxonomy!r}; expected one of {', '.join(TAXONOMIES)}")
    n_labels, n_columns = len(TAXONOMIES[taxonomy]), _COLUMNS[taxonomy]
    expected = "text<TAB>label ids<TAB>comment id" if taxonomy == "goemotions" else "text<TAB>label ids"
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read the corpus file ({err.strerror or err}).") from err
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 (byte offset {err.start}); save the file as UTF-8.") from err
    examples: list[LabelledText] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != n_columns:
            raise UserError(
                f"{path}:{number}: expected {n_columns} tab-separated columns ({expected}) "
                f"for the {taxonomy} format, found {len(columns)}."
            )
        text, ids = columns[0], columns[1]
        try:
            labels = tuple(sorted({int(i) for i in ids.split(",")}))
        except ValueError:
            raise UserError(
                f"{path}:{number}: label ids must be comma-separated integers, found {ids!r}."
            ) from None
        bad = [i for i in labels if not 0 <= i < n_labels]
        if bad:
            raise UserError(
                f"{path}:{number}: unknown {taxonomy} label id(s) {bad}; expected 0..{n_labels - 1}."
            )
        examples.append(LabelledText(text=text, labels=labels, line=number))
    if not examples:
        raise UserError(f"{path}: the corpus file has no examples; expected lines of {expected}.")
    return examples


def in_dev_split(text: str, fraction: float, seed: int) -> bool:
    """A stable, seeded split by text hash: the same line always falls on the same side."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
