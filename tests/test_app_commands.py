"""``coach app``: loads the model once with progress messages, then launches on loopback."""

from __future__ import annotations

import gradio as gr
import pytest

import coach.analysis
import coach.cli
from coach.auth import add_account
from tests.fakes import KeywordAnalyzer


@pytest.fixture
def launched(monkeypatch):
    """Run ``coach app`` with the fake analyzer; record what it would have launched."""
    monkeypatch.setattr(coach.cli, "COMMAND_GROUPS", ("app",))
    loads: list[KeywordAnalyzer] = []
    monkeypatch.setattr(coach.analysis, "load_analyzer", lambda: loads.append(KeywordAnalyzer()) or loads[-1])
    launches: list[dict] = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **options: launches.append(options))
    return loads, launches


def test_coach_app_loads_the_model_once_and_serves_on_loopback(tmp_path, launched, capsys):
    loads, launches = launched
    assert coach.cli.main(["app", "--db", f"sqlite:///{tmp_path / 'h.db'}", "--port", "7999"]) == 0
    out = capsys.readouterr().out
    assert "loading the tone classifier" in out and "model ready in" in out and "http://127.0.0.1:7999" in out
    assert len(loads) == 1
    [options] = launches
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7999 and "auth" not in options


def test_coach_app_with_accounts_asks_for_a_login(tmp_path, launched):
    _, launches = launched
    users = tmp_path / "users.yaml"
    add_account(users, "anna", "learner", "long enough password")
    assert coach.cli.main(["app", "--db", f"sqlite:///{tmp_path / 'h.db'}", "--auth", str(users)]) == 0
    check = launches[0]["auth"]
    assert check("anna", "long enough password") and not check("anna", "guess")


def test_a_missing_accounts_file_is_reported_before_the_model_loads(tmp_path, launched, capsys):
    loads, _ = launched
    assert coach.cli.main(["app", "--auth", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read the accounts file" in capsys.readouterr().err and loads == []
