"""The Scenario studio's handlers: live checks with line numbers, uploads, the graph, saving, test-play."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coach.auth import Account, Accounts
from coach.scenario import check_scenario_text
from coach.ui import practice, studio
from tests.fakes import KeywordAnalyzer
from tests.test_app_practice import make_app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def telecom_text(app):
    return (app.catalog.folder / "telecom-technician.yaml").read_text(encoding="utf-8")


def test_a_valid_scenario_gets_a_status_and_a_beat_graph(telecom_text):
    check = studio.check_text(telecom_text, "en")
    scenario = check_scenario_text(telecom_text).scenario
    assert check.status.startswith("✔ Valid") and check.problems.empty
    assert check.graph.startswith("```mermaid\nflowchart TD") and check.graph.endswith("```")
    for node in [*(b.id for b in scenario.beats), *(e.id for e in scenario.endings)]:
        assert f'["{node}"]' in check.graph or f'(["{node} · ' in check.graph
    assert check.graph.count("-->|") == sum(len(b.branches) for b in scenario.beats)
    assert "| opening | 1 | moves any of blames\\_customer, sarcasm | -2 | accused |" in check.branches


def test_problems_are_listed_with_line_and_column(telecom_text):
    broken = telecom_text.replace("next: accused", "next: acused", 1).replace("difficulty: hard", "difficulty: brutal")
    check = studio.check_text(broken, "en")
    expected = check_scenario_text(broken, file="scenario.yaml").problems
    assert check.status == f"✖ {len(expected)} problems: fix them to save or test-play."
    assert list(check.problems.columns) == ["Line", "Column", "Field", "Problem"]
    assert check.problems.values.tolist() == [[p.line, p.column, p.path, p.message] for p in expected]
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if "next: acused" in text)
    assert line in check.problems["Line"].tolist()
    assert check.graph == ""
    assert studio.check_text("   ", "fi").status == "Editori on tyhjä."
    assert studio.check_text("a: [unclosed", "en").status.startswith("✖")


def test_uploads_must_be_small_utf8_yaml(tmp_path, telecom_text):
    good = tmp_path / "mine.yaml"
    good.write_text(telecom_text, encoding="utf-8")
    text, status, *_ = studio.load_upload(str(good), "en")
    assert text == telecom_text and status.startswith("✔")
    for name, content, complaint in [
        ("notes.txt", b"id: x", "Only .yaml"),
        ("big.yaml", b"#" * (512 * 1024 + 1), "limit is 512 KB"),
        ("latin1.yaml", "id: sää".encode("latin-1"), "not UTF-8"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.warns(UserWarning, match=complaint):
            editor, status, *_ = studio.load_upload(str(path), "en")
        assert editor == {"__type__": "update"} and complaint in status


def test_saving_writes_the_file_and_the_scenario_appears_in_practise(app, telecom_text):
    text = telecom_text.replace("id: telecom-technician", "id: telecom-copy")
    message, saved_list = studio.save_scenario(app, text, None, "en")
    assert message == "Saved telecom-copy.yaml."
    assert (app.catalog.folder / "telecom-copy.yaml").read_text(encoding="utf-8") == text
    assert "telecom-copy" in [value for _, value in saved_list["choices"]]
    assert "telecom-copy:en" in [v for _, v in practice.scenario_choices(app, "any", "any", "en")["choices"]]


def test_an_existing_file_is_backed_up_before_it_is_overwritten(app, telecom_text):
    changed = telecom_text.replace("version: 1", "version: 2")
    message, _ = studio.save_scenario(app, changed, None, "en")
    [backup] = (app.catalog.folder / "backups").iterdir()
    assert backup.name.startswith("telecom-technician.") and backup.suffix == ".yaml"
    assert backup.read_text(encoding="utf-8") == telecom_text
    assert (app.catalog.folder / "telecom-technician.yaml").read_text(encoding="utf-8") == changed
    assert f"backups/{backup.name}" in message
    studio.save_scenario(app, changed.replace("version: 2", "version: 3"), None, "en")
    assert len(list((app.catalog.folder / "backups").iterdir())) == 2  # every save keeps its own copy


def test_an_invalid_scenario_is_never_saved(app, telecom_text):
    before = sorted(p.name for p in app.catalog.folder.iterdir())
    with pytest.warns(UserWarning, match="Not saved"):
        message, _ = studio.save_scenario(app, telecom_text.replace("next: accused", "next: nowhere"), None, "en")
    assert message.startswith("Not saved: the scenario has")
    assert sorted(p.name for p in app.catalog.folder.iterdir()) == before
    assert (app.catalog.folder / "telecom-technician.yaml").read_text(encoding="utf-8") == telecom_text


def test_under_auth_only_trainers_save(app, telecom_text):
    app.accounts = Accounts({"anna": Account("anna", "learner", "scrypt$x"), "tuomas": Account("tuomas", "trainer", "scrypt$x")})
    text = telecom_text.replace("id: telecom-technician", "id: by-trainer")
    with pytest.warns(UserWarning, match="Only trainers"):
        message, _ = studio.save_scenario(app, text, SimpleNamespace(username="anna"), "en")
    assert message == "Only trainers can save scenarios." and not (app.catalog.folder / "by-trainer.yaml").exists()
    with pytest.warns(UserWarning, match="Only trainers"):
        studio.save_scenario(app, text, None, "en")
    message, _ = studio.save_scenario(app, text, SimpleNamespace(username="tuomas"), "en")
    assert message == "Saved by-trainer.yaml."


def test_the_template_is_a_valid_starting_point():
    text, status, _, graph, _ = studio.new_from_template("fi")
    assert status.startswith("✔") and "```mermaid" in graph
    assert check_scenario_text(text).scenario.languages == ["fi"]


def test_test_play_uses_the_apps_own_analyzer(tmp_path, telecom_text):
    analyzer = KeywordAnalyzer()
    app = make_app(tmp_path, analyzer)
    play = studio.start_test_play(app, telecom_text, "fi")
    assert play.state.lang == "en"  # the scenario has no Finnish text
    play = studio.test_play_reply(app, play.state, "<b>Sorry</b>, I'll sort it out today.", "fi")
    assert analyzer.calls == [(["<b>Sorry</b>, I'll sort it out today."], "en")]
    assert "&lt;b&gt;Sorry&lt;/b&gt;" in play.chat[1]["content"]
    assert "Tone the coach read" in play.coach and "Customer's mood" in play.coach
    assert app.store.list_sessions("me") == []  # test-play stores nothing
    with pytest.warns(UserWarning, match="empty reply"):
        studio.test_play_reply(app, play.state, " ", "en")
    with pytest.warns(UserWarning, match="problems"):
        assert studio.start_test_play(app, "id: broken", "en").state is None


def test_opening_a_saved_scenario_loads_its_text(app, telecom_text):
    text, status, *_ = studio.open_saved(app, "telecom-technician", "en")
    assert text == telecom_text and status.startswith("✔")
    with pytest.warns(UserWarning, match="no valid scenario"):
        studio.open_saved(app, "missing", "en")
