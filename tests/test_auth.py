"""coach/auth.py and ``coach users add``: salted hashes, never plain passwords; login checks."""

from __future__ import annotations

import io
import stat

import pytest
import yaml

import coach.cli
from coach.auth import Accounts, add_account, hash_password, read_accounts, verify_password
from coach.errors import UserError

PASSWORD = "correct horse battery"


def test_hashes_are_salted_and_verify_only_the_right_password():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("wrong password", first)
    assert not verify_password(PASSWORD, "scrypt$garbage")
    assert not verify_password(PASSWORD, "plain-text")


def test_the_accounts_file_holds_roles_and_hashes_only(tmp_path):
    path = tmp_path / "users.yaml"
    assert add_account(path, "anna", "learner", PASSWORD) is True
    assert add_account(path, "tuomas", "trainer", "another secret") is True
    text = path.read_text()
    assert PASSWORD not in text and "another secret" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = yaml.safe_load(text)["users"]
    assert users["anna"]["role"] == "learner" and users["tuomas"]["role"] == "trainer"
    assert add_account(path, "anna", "trainer", "a new password") is False  # an update keeps one entry
    assert read_accounts(path)["anna"].role == "trainer"


def test_login_check_and_roles(tmp_path):
    path = tmp_path / "users.yaml"
    add_account(path, "anna", "learner", PASSWORD)
    add_account(path, "tuomas", "trainer", PASSWORD)
    accounts = Accounts.load(path)
    assert accounts.check("anna", PASSWORD)
    assert not accounts.check("anna", PASSWORD + "!")
    assert not accounts.check("nobody", PASSWORD)
    assert accounts.role("anna") == "learner" and not accounts.is_trainer("anna")
    assert accounts.is_trainer("tuomas")
    assert accounts.role(None) is None and not accounts.is_trainer("nobody")


@pytest.mark.parametrize(
    ("name", "role", "password", "complaint"),
    [("has space", "learner", PASSWORD, "user name"), ("anna", "admin", PASSWORD, "role"), ("anna", "learner", "short", "too short")],
)
def test_bad_accounts_are_refused_with_a_reason(tmp_path, name, role, password, complaint):
    with pytest.raises(UserError, match=complaint):
        add_account(tmp_path / "users.yaml", name, role, password)
    assert not (tmp_path / "users.yaml").exists()


def test_a_plain_text_password_in_the_file_is_refused(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  anna: {role: learner, password: hunter2}\n")
    with pytest.raises(UserError, match="not a scrypt hash"):
        read_accounts(path)
    path.write_text("- just a list\n")
    with pytest.raises(UserError, match="users:"):
        read_accounts(path)


@pytest.fixture
def coach_cli(monkeypatch, capsys):
    # Command groups are built in parallel; this file tests only the groups coach/commands/app.py adds.
    monkeypatch.setattr(coach.cli, "COMMAND_GROUPS", ("app",))

    def run(*args: str) -> tuple[int, str, str]:
        code = coach.cli.main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_users_add_reads_the_password_from_stdin_for_scripts(tmp_path, monkeypatch, coach_cli):
    path = tmp_path / "users.yaml"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = coach_cli("users", "add", "anna", "--role", "trainer", "--file", str(path), "--password-stdin")
    assert code == 0 and "added anna (trainer)" in out
    assert Accounts.load(path).check("anna", PASSWORD)


def test_users_add_prompts_twice_and_refuses_a_mismatch(tmp_path, monkeypatch, coach_cli):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = coach_cli("users", "add", "anna", "--role", "learner", "--file", str(tmp_path / "users.yaml"))
    assert code == 1 and "differ" in err
    assert not (tmp_path / "users.yaml").exists()


def test_the_app_command_listens_on_loopback_by_default(coach_cli):
    args = coach.cli.build_parser().parse_args(["app", "--db", "sqlite:///x.db", "--auth", "users.yaml", "--port", "8000"])
    assert (args.db, str(args.auth), args.host, args.port) == ("sqlite:///x.db", "users.yaml", "127.0.0.1", 8000)
