"""The precompiled-charsmap builder must normalise exactly the codepoints in its table."""

from __future__ import annotations

from tokenizers import normalizers

from coach.charsmap import build_precompiled_charsmap


def _normaliser(table: dict[int, str]):
    return normalizers.Precompiled(build_precompiled_charsmap(table))


def test_mapped_codepoints_are_replaced_and_others_kept():
    norm = _normaliser({0xFF21: "A", 0x00A0: " ", 0xFB01: "fi", 0x0001: ""})
    assert norm.normalize_str("\uff21bc") == "Abc"
    assert norm.normalize_str("a\u00a0b") == "a b"
    assert norm.normalize_str("\ufb01ne") == "fine"
    assert norm.normalize_str("x\u0001y") == "xy"
    assert norm.normalize_str("Äiti öljy 😡") == "Äiti öljy 😡"


def test_keys_sharing_leading_bytes_never_cross_paths():
    # Dense tables over the same UTF-8 lead bytes are where a double array can confuse one
    # key's path with another's; every codepoint in these ranges must come out exactly right.
    ranges = [range(0x0E00, 0x0F00), range(0x2700, 0x2800), range(0x1D400, 0x1D500)]
    table = {cp: f"<{cp:x}>" for r in ranges for cp in r if cp % 3 == 0}
    norm = _normaliser(table)
    for r in ranges:
        for cp in r:
            expected = table.get(cp, chr(cp))
            assert norm.normalize_str(chr(cp)) == expected, hex(cp)
