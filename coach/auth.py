"""Learner and trainer accounts for ``coach app --auth users.yaml``.

    add_account(Path("users.yaml"), "anna", "learner", password)   # what `coach users add` does
    accounts = Accounts.load(Path("users.yaml"))
    accounts.check("anna", password)     # the Gradio auth callable: True or False
    accounts.is_trainer("anna")          # only trainers may save scenarios

The file maps each name to a role and a salted scrypt hash; passwords are never stored:

    users:
      anna: {role: learner, password: "scrypt$16384$8$1$<salt>$<hash>"}

Each hash carries its own random salt and cost parameters, so a file stays readable when the
defaults change. Checking an unknown name costs as much as checking a known one, so response
times do not tell which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from coach.errors import UserError
from coach.files import write_atomically

ROLES: tuple[str, ...] = ("learner", "trainer")
MIN_PASSWORD_LENGTH = 8
# scrypt cost: about 50 ms and 16 MiB per check, enough to make guessing a stolen file slow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
NAME_PATTERN = re.compile(r"^[\w.@-]{1,64}$")
_HEADER = "# Palvelupeili accounts. Add or change one with: coach users add NAME --role learner|trainer --file FILE\n"


def hash_password(password: str) -> str:
    """A self-describing salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str


class Accounts:
    def __init__(self, accounts: dict[str, Account]):
        self.accounts = accounts
        # Compared against when a name is unknown, so both paths cost the same.
        self._decoy = hash_password(secrets.token_urlsafe(16))

    @classmethod
    def load(cls, path: Path) -> Accounts:
        return cls(read_accounts(path))

    def check(self, name: str, password: str) -> bool:
        account = self.accounts.get(name)
        matches = verify_password(password, account.password_hash if account else self._decoy)
        return account is not None and matches

    def role(self, name: str | None) -> str | None:
        account = self.accounts.get(name) if name else None
        return account.role if account else None

    def is_trainer(self, name: str | None) -> bool:
        return self.role(name) == "trainer"


def read_accounts(path: Path) -> dict[str, Account]:
    """The accounts in ``path``; UserError naming the problem when the file is unusable."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"{path}: cannot read the accounts file ({err.strerror}); create it with `coach users add`") from err
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({err})") from err
    if data is None:
        return {}
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UserError(f"{path}: expected a top-level 'users:' mapping of name -> {{role, password}}")
    accounts = {}
    for name, entry in users.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or not isinstance(entry.get("password"), str):
            raise UserError(f"{path}: user {name!r} needs role: learner|trainer and a password hash")
        if not entry["password"].startswith("scrypt$"):
            raise UserError(f"{path}: user {name!r} has a password that is not a scrypt hash; set it again with `coach users add`")
        accounts[str(name)] = Account(str(name), entry["role"], entry["password"])
    return accounts


def add_account(path: Path, name: str, role: str, password: str) -> bool:
    """Add ``name`` (or replace its role and password); returns True when the name was new."""
    if not NAME_PATTERN.match(name):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', no spaces")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    accounts = read_accounts(path) if path.exists() else {}
    is_new = name not in accounts
    accounts[name] = Account(name, role, hash_password(password))
    users = {a.name: {"role": a.role, "password": a.password_hash} for a in accounts.values()}
    # Owner-only, and renamed into place: a crash leaves the old file or the new, never half.
    write_atomically(path, _HEADER + yaml.safe_dump({"users": users}, sort_keys=True, allow_unicode=True), mode=0o600)
    return is_new


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
