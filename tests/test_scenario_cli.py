"""``coach scenarios``: validate, new, play, schema and list, through the real CLI dispatcher."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import coach.cli
import coach.scenario
from coach.scenario import check_scenario_file, check_scenario_text

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "scenarios"
MINIMAL = FIXTURES / "minimal.yaml"
REPLIES = FIXTURES / "replies"
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")


@pytest.fixture
def coach_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``coach ARGS`` in-process; returns (exit code, stdout, stderr)."""
    # Other command groups are built in parallel; this file tests only the scenarios group.
    monkeypatch.setattr(coach.cli, "COMMAND_GROUPS", ("scenarios",))
    monkeypatch.delenv(coach.scenario.SCENARIOS_ENV, raising=False)

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = coach.cli.main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- validate ---------------------------------------------------------------------------


def test_validate_bundled_folder_by_default(coach_cli) -> None:
    code, out, _ = coach_cli("scenarios", "validate")
    assert code == 0
    assert re.search(
        r"^OK \S*hardware-store-bounce\.yaml \(hardware-store-bounce v1, fi, \d+ beats", out, re.MULTILINE
    )
    assert re.search(
        r"^OK \S*telecom-technician\.yaml \(telecom-technician v1, en, \d+ beats", out, re.MULTILINE
    )


def test_validate_invalid_file_prints_every_problem_and_exits_1(coach_cli) -> None:
    path = FIXTURES / "invalid" / "unknown-names.yaml"
    code, out, err = coach_cli("scenarios", "validate", path)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines:
        match = PROBLEM_LINE.match(line)
        assert match and match["file"] == str(path)
    assert lines[0] == (
        f"{path}:11:16: goals[0].dimension: unknown dimension 'self'; expected one of: own, others, customer"
    )
    assert "1 of 1 file(s) invalid" in err


def test_validate_mixed_folder_reports_each_file_and_never_a_traceback(coach_cli, tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_bytes(MINIMAL.read_bytes())
    (tmp_path / "binary.yml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "latin1.yaml").write_bytes("id: x\ntitle: Äiti\n".encode("latin-1"))
    (tmp_path / "notes.txt").write_text("not a scenario")
    code, out, err = coach_cli("scenarios", "validate", tmp_path)
    assert code == 1
    assert "Traceback" not in out + err
    assert f"{tmp_path / 'binary.yml'}:3:1: file is binary, not text: NUL byte at offset 8" in out
    assert f"{tmp_path / 'latin1.yaml'}:2:8: file is not UTF-8: byte 0xC4 at offset 13" in out
    assert f"OK {tmp_path / 'good.yaml'} (minimal v1, en, 2 beats, 3 endings)" in out
    assert "notes.txt" not in out
    assert "2 of 3 file(s) invalid" in err


def test_validate_every_invalid_fixture_at_once(coach_cli) -> None:
    folder = FIXTURES / "invalid"
    code, out, err = coach_cli("scenarios", "validate", folder)
    assert code == 1
    assert "Traceback" not in out + err
    reported = {PROBLEM_LINE.match(line)["file"] for line in out.splitlines()}  # type: ignore[index]
    assert reported == {str(path) for path in folder.glob("*.yaml")}


def test_validate_missing_path_and_empty_folder(coach_cli, tmp_path: Path) -> None:
    code, out, _ = coach_cli("scenarios", "validate", tmp_path / "nope.yaml", tmp_path)
    assert code == 1
    assert f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder" in out
    assert f"{tmp_path}:1:1: no .yaml or .yml files in this folder" in out


def test_validate_reports_an_internal_error_per_file_and_goes_on(
    coach_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken, fine = tmp_path / "a-broken.yaml", tmp_path / "b-fine.yaml"
    broken.write_bytes(MINIMAL.read_bytes())
    fine.write_bytes(MINIMAL.read_bytes())
    real_check = coach.scenario.check_scenario_file

    def flaky_check(path: Path):
        if path == broken:
            raise RuntimeError("boom")
        return real_check(path)

    monkeypatch.setattr(coach.scenario, "check_scenario_file", flaky_check)
    code, out, _ = coach_cli("scenarios", "validate", tmp_path)
    assert code == 1
    assert f"{broken}:1:1: internal error while checking (RuntimeError: boom); please report it" in out
    assert f"OK {fine}" in out


# --- new --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fi", "en", "fi,en"])
def test_new_writes_a_starter_that_validates(coach_cli, tmp_path: Path, lang: str) -> None:
    path = tmp_path / "my-first.yaml"
    code, out, _ = coach_cli("scenarios", "new", path, "--lang", lang)
    assert code == 0 and f"wrote {path}" in out
    result = check_scenario_file(path)
    assert result.problems == []
    assert result.scenario is not None
    assert result.scenario.id == "my-first"
    assert result.scenario.languages == lang.split(",")
    text = path.read_text(encoding="utf-8")
    assert text.count("\n#") + text.count("  # ") > 15, "the starter explains itself in comments"
    schema_ref = text.splitlines()[0].removeprefix("# yaml-language-server: $schema=")
    assert (path.parent / schema_ref).resolve() == (REPO / "scenarios" / "schema.json").resolve()


def test_new_refuses_to_overwrite(coach_cli, tmp_path: Path) -> None:
    path = tmp_path / "taken.yaml"
    path.write_text("keep me")
    code, _, err = coach_cli("scenarios", "new", path)
    assert code == 1
    assert f"error: {path} already exists" in err
    assert path.read_text() == "keep me"


def test_new_without_path_prints_the_starter(coach_cli) -> None:
    code, out, _ = coach_cli("scenarios", "new", "--lang", "en", "--id", "printed")
    assert code == 0
    result = check_scenario_text(out, "stdout")
    assert result.scenario is not None and result.scenario.id == "printed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--lang", "sv"), "--lang expects fi, en or fi,en; found 'sv'"),
        (("--id", "Bad Id"), "scenario id 'Bad Id' is not usable as an id"),
    ],
)
def test_new_rejects_bad_options(coach_cli, args: tuple[str, ...], message: str) -> None:
    code, _, err = coach_cli("scenarios", "new", *args)
    assert code == 1 and message in err


# --- play -------------------------------------------------------------------------------


def test_play_prints_the_path_and_reaches_the_expected_ending(coach_cli) -> None:
    code, out, _ = coach_cli(
        "scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-complaint.yaml", "--expect", "complaint"
    )
    assert code == 0
    assert "turn 1  beat 'opening'" in out and "turn 2  beat 'second'" in out
    assert "branch:    branches[0]: moves any of deflects" in out
    assert "mood:      6 -> 4 (-2)" in out
    assert "coach:     (customer) Do not send them away." in out
    assert "branch:    branches[2]: fallback" in out
    assert "mood:      4 -> 2 (-2)" in out
    assert "ending 'complaint' (escalated): Complaint" in out
    assert "The customer files a complaint." in out


def test_play_jsonl_walk_out_reports_the_exit_and_unused_replies(coach_cli) -> None:
    code, out, _ = coach_cli("scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-walkout.jsonl")
    assert code == 0
    assert "mood:      4 -> 1 (-3)" in out
    assert "walks out: the mood drop reached persona.walks_out.at_or_below" in out
    assert "ending 'walked-out' (walked_out): Gone" in out
    assert "note: the last 1 reply(ies) came after the ending and were not used" in out


def test_play_expect_mismatch_exits_1(coach_cli) -> None:
    code, out, err = coach_cli(
        "scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-resolved.yaml", "--expect", "complaint"
    )
    assert code == 1
    assert "ending 'resolved' (resolved)" in out
    assert "expected ending 'complaint', reached resolved" in err


def test_play_expect_must_name_an_ending(coach_cli) -> None:
    code, _, err = coach_cli(
        "scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-resolved.yaml", "--expect", "second"
    )
    assert (
        code == 1
        and "--expect second: not an ending of this scenario; endings: resolved, complaint, walked-out" in err
    )


def test_play_reads_unannotated_replies_with_the_analyzer(coach_cli, monkeypatch) -> None:
    from tests.fakes import KeywordAnalyzer

    analyzer = KeywordAnalyzer()
    monkeypatch.setattr("coach.commands.scenarios._load_analyzer", lambda: analyzer)
    code, out, _ = coach_cli("scenarios", "play", MINIMAL, "--replies", REPLIES / "unannotated.yaml")
    assert code == 0
    assert analyzer.calls == [(["Let me check that for you."], "en")]  # only the unannotated reply
    assert "ending 'resolved'" in out


def test_play_annotated_replies_never_load_the_model(coach_cli, monkeypatch) -> None:
    def refuse():
        raise AssertionError("the analyzer must not be loaded for annotated replies")

    monkeypatch.setattr("coach.commands.scenarios._load_analyzer", refuse)
    code, _, _ = coach_cli("scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-resolved.yaml")
    assert code == 0


def test_play_reports_bad_reply_annotations_with_lines(coach_cli) -> None:
    path = REPLIES / "bad-names.yaml"
    code, _, err = coach_cli("scenarios", "play", MINIMAL, "--replies", path)
    assert code == 1
    assert f"{path}:2:9: [0].tone: unknown tone 'sorry'" in err
    assert f"{path}:6:28: [1].moves[1]: unknown service move 'own_it'" in err


def test_play_refuses_an_invalid_scenario_with_its_problems(coach_cli) -> None:
    scenario = FIXTURES / "invalid" / "unknown-next.yaml"
    code, _, err = coach_cli("scenarios", "play", scenario, "--replies", REPLIES / "minimal-resolved.yaml")
    assert code == 1
    assert f"{scenario}:53:15: beats[1].branches[1].next: unknown target 'resolvd'" in err


def test_play_when_replies_run_out(coach_cli, tmp_path: Path) -> None:
    replies = tmp_path / "one.yaml"
    replies.write_text("- {reply: Not my department., tone: calm, moves: [deflects]}\n")
    code, out, _ = coach_cli("scenarios", "play", MINIMAL, "--replies", replies)
    assert code == 0
    assert "no ending yet: the replies ran out at beat 'second'" in out


@pytest.mark.parametrize(
    ("scenario_id", "ending"),
    [
        ("hardware-store-bounce", "ratkaistu"),
        ("telecom-technician", "sorted"),
    ],
)
def test_play_bundled_scenario_by_id_along_its_model_path(coach_cli, scenario_id: str, ending: str) -> None:
    replies = REPLIES / f"{scenario_id}-resolved.yaml"
    code, out, _ = coach_cli(
        "scenarios", "play", scenario_id, "--replies", replies, "--expect", ending, "--seed", "3"
    )
    assert code == 0, out
    assert f"ending '{ending}' (resolved)" in out


def test_play_unknown_language_and_unknown_scenario(coach_cli) -> None:
    code, _, err = coach_cli(
        "scenarios", "play", MINIMAL, "--replies", REPLIES / "minimal-resolved.yaml", "--lang", "fi"
    )
    assert code == 1 and "--lang fi: this scenario is written in en only" in err
    code, _, err = coach_cli(
        "scenarios", "play", "no-such-scenario", "--replies", REPLIES / "minimal-resolved.yaml"
    )
    assert (
        code == 1 and "no-such-scenario: no such scenario file, and no bundled scenario with that id" in err
    )


# --- schema and list --------------------------------------------------------------------


def test_schema_writes_and_checks(coach_cli, tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    assert coach_cli("scenarios", "schema", "--output", target)[0] == 0
    assert target.read_text(encoding="utf-8") == (REPO / "scenarios" / "schema.json").read_text(
        encoding="utf-8"
    )
    assert coach_cli("scenarios", "schema", "--output", target, "--check")[0] == 0
    target.write_text("{}\n")
    code, _, err = coach_cli("scenarios", "schema", "--output", target, "--check")
    assert code == 1 and "is out of date" in err
    assert target.read_text() == "{}\n"


def test_list_bundled(coach_cli) -> None:
    code, out, _ = coach_cli("scenarios", "list")
    assert code == 0
    assert re.search(r"^hardware-store-bounce\s+fi\s+medium\s+Pompottelua rautakaupassa$", out, re.MULTILINE)
    assert re.search(r"^telecom-technician\s+en\s+hard\s+The technician who never came$", out, re.MULTILINE)


def test_list_honours_the_environment_folder_and_flags_invalid_files(
    coach_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "minimal.yaml").write_bytes(MINIMAL.read_bytes())
    (tmp_path / "broken.yaml").write_text("id: [\n")
    monkeypatch.setenv(coach.scenario.SCENARIOS_ENV, str(tmp_path))
    code, out, _ = coach_cli("scenarios", "list")
    assert code == 1
    assert re.search(r"^minimal\s+en\s+easy\s+Minimal test scenario$", out, re.MULTILINE)
    assert "broken.yaml" in out and "INVALID: 1 problem(s)" in out


def test_bare_group_prints_help_and_exits_2(coach_cli) -> None:
    code, out, _ = coach_cli("scenarios")
    assert code == 2
    for command in ("validate", "new", "play", "schema", "list"):
        assert command in out


def test_command_module_imports_only_the_standard_library() -> None:
    probe = (
        "import sys, coach.commands.scenarios as m; "
        "print(sorted(n for n in ('pydantic', 'yaml', 'coach.scenario') if n in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "[]"
