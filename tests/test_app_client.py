"""The launched app on 127.0.0.1, driven through gradio_client with the KeywordAnalyzer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client

from coach.auth import Accounts, add_account
from coach.ui.app import build_demo, launch_options
from coach.ui.i18n import t
from coach.ui.practice import PracticeScreen
from tests.fakes import KeywordAnalyzer
from tests.test_app_practice import SKILLED, make_app

PASSWORD = "a long enough password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(tmp_path: Path, accounts: Accounts | None = None) -> Iterator[tuple[str, object]]:
    app = make_app(tmp_path)
    demo = build_demo(KeywordAnalyzer(), store=app.store, accounts=accounts, scenarios_folder=app.catalog.folder)
    demo.launch(**launch_options(accounts, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url, app
    finally:
        demo.close()


def texts(chat: list[dict]) -> list[str]:
    """Chatbot messages come back as content blocks in Gradio 6."""
    return ["".join(block.get("text", "") for block in message["content"]) for message in chat]


def screen(values: tuple) -> PracticeScreen:
    # The API leaves out the gr.State and the report's gr.Column; the other outputs come in order.
    # Outputs returned as gr.update(...) arrive as update dicts; keep only their values.
    shown = [name for name in PracticeScreen._fields if name not in ("live", "report_panel")]
    values = [value.get("value") if isinstance(value, dict) and value.get("__type__") == "update" else value for value in values]
    return PracticeScreen(live=None, report_panel=None, **dict(zip(shown, values, strict=True)))


def test_one_scenario_is_played_to_its_ending_over_http(tmp_path):
    with served(tmp_path) as (url, app):
        client = Client(url, verbose=False)
        first = screen(client.predict("telecom-technician:en", "tired", "anna", api_name="/start"))
        assert "3 / 10" in first.mood and len(first.chat) == 1
        moods, current = [], first
        for reply in ["Okay.", *SKILLED]:
            current = screen(client.predict(reply, api_name="/reply"))
            moods.append(current.mood)
            assert "Tone the coach read" in current.tone and "What went well" in current.feedback
            if current.report:
                break
        assert current.report.startswith("## Your session report"), "the scenario should have reached an ending"
        assert len(set(moods)) > 1
        assert texts(current.chat)[1] == "Okay." and "Ending:" in texts(current.chat)[-1]
        report = json.loads(Path(current.download_json).read_text())
        assert [turn["reply"] for turn in report["turns"]] == ["Okay.", *SKILLED][: len(report["turns"])]
        assert report["checkin"] == "tired" and report["ending"]["kind"]
        assert Path(current.download_md).read_text().startswith("# The technician who never came")
        undone = screen(client.predict(api_name="/undo"))
        assert not undone.report and len(undone.chat) == len(current.chat) - 2
        [summary] = app.store.list_sessions("anna")
        assert summary.turns == len(report["turns"]) - 1


def test_markup_comes_back_escaped_and_refusals_do_not_crash(tmp_path):
    with served(tmp_path) as (url, _):
        client = Client(url, verbose=False)
        client.predict("telecom-technician:en", None, "anna", api_name="/start")
        shown = screen(client.predict("<script>alert(1)</script> sorry 🙂", api_name="/reply"))
        assert texts(shown.chat)[1] == "&lt;script&gt;alert(1)&lt;/script&gt; sorry 🙂"
        refused = screen(client.predict("x" * 10_001, api_name="/reply"))
        assert "10001 characters" in refused.notice and len(refused.chat) == len(shown.chat)


def test_under_auth_only_the_signed_in_learner_and_only_trainers_save(tmp_path):
    users = tmp_path / "users.yaml"
    add_account(users, "anna", "learner", PASSWORD)
    add_account(users, "tuomas", "trainer", PASSWORD)
    with served(tmp_path, Accounts.load(users)) as (url, app):
        with pytest.raises(Exception):
            Client(url, auth=("anna", "wrong password"), verbose=False)
        anna = Client(url, auth=("anna", PASSWORD), verbose=False)
        anna.predict("telecom-technician:en", None, "tuomas", api_name="/start")  # the profile box is ignored
        anna.predict(SKILLED[0], api_name="/reply")
        assert [s.turns for s in app.store.list_sessions("anna")] == [1] and app.store.list_sessions("tuomas") == []
        tuomas = Client(url, auth=("tuomas", PASSWORD), verbose=False)
        # API calls run no page-load event, so the interface language stays at its default, Finnish.
        summary, _, _ = tuomas.predict("anna", api_name="/progress")
        assert summary == t("no_history", "fi")
        text = (app.catalog.folder / "telecom-technician.yaml").read_text().replace("id: telecom-technician", "id: new-one")
        assert anna.predict(text, api_name="/save_scenario")[0] == t("studio_trainers_only", "fi")
        assert tuomas.predict(text, api_name="/save_scenario")[0] == t("studio_saved", "fi", file="new-one.yaml")
