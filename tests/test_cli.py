"""The ``coach`` command itself."""

from __future__ import annotations

import pytest

from coach.cli import COMMAND_GROUPS, main


def test_help_lists_every_command_group(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for group in COMMAND_GROUPS:
        assert group in out


def test_a_group_without_subcommand_prints_its_help(capsys):
    assert main(["encoder"]) == 2
    assert "info" in capsys.readouterr().out


def test_a_blend_weight_out_of_range_is_refused_before_anything_is_fitted(capsys, tmp_path):
    assert main(["train", "moves-ngrams", "--moves", str(tmp_path), "--weight", "1.5"]) != 0
    assert "--weight must be between 0 and 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
