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
