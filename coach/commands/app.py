"""``coach app`` (the browser app) and ``coach users`` (accounts for it).

    coach app [--db URL] [--auth users.yaml] [--host 127.0.0.1] [--port 7860]
    coach users add NAME --role learner|trainer --file users.yaml [--password-stdin]

``coach app`` loads the model once, printing what it is doing, then serves the app on the
loopback address. Sessions go to --db (a SQLAlchemy URL), else $PALVELUPEILI_DB, else a SQLite
file under the XDG data folder. With --auth, learners sign in with the accounts in the file and
only trainers may save scenarios. ``coach users add`` asks for the password twice (or reads one
line from stdin for scripts) and stores only a salted scrypt hash.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

from coach.commands import add_group
from coach.errors import UserError

DEFAULT_PORT = 7860


def register(subparsers: Any) -> None:
    app = subparsers.add_parser(
        "app",
        help="start the practice app in the browser",
        description="Load the model once and serve the app on this machine. Replies never leave it.",
    )
    app.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: $PALVELUPEILI_DB or a SQLite file)")
    app.add_argument("--auth", type=Path, metavar="FILE", help="accounts file; learners sign in (see `coach users add`)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    app.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    app.set_defaults(handler=_app)

    users = add_group(subparsers, "users", "manage the accounts used by `coach app --auth`")
    add = users.add_parser(
        "add",
        help="add a user or change their role and password",
        description="Add NAME to the accounts file (created if missing) with a salted password hash.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=("learner", "trainer"))
    add.add_argument("--file", required=True, type=Path, metavar="FILE", help="accounts file, e.g. users.yaml")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(handler=_users_add)


def _app(args: argparse.Namespace) -> int:
    # Before gradio is imported anywhere: nothing is to be reported to anyone.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from coach.auth import Accounts
    from coach.store import Store

    accounts = Accounts.load(args.auth) if args.auth else None
    store = Store(args.db)
    print(f"sessions are stored in {_without_password(store.url)}", flush=True)
    print("loading the tone classifier and the moves model (once, at start-up) ...", flush=True)
    started = time.perf_counter()
    from coach.analysis import load_analyzer

    analyzer = load_analyzer()
    print(f"model ready in {time.perf_counter() - started:.1f} s; building the app ...", flush=True)
    from coach.ui.app import build_demo, launch_options

    demo = build_demo(analyzer, store=store, accounts=accounts)
    print(f"open http://{args.host}:{args.port} in a browser (Ctrl+C stops)", flush=True)
    demo.launch(**launch_options(accounts, host=args.host, port=args.port))
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from coach.auth import add_account

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ; nothing was changed")
    created = add_account(args.file, args.name, args.role, password)
    print(f"{'added' if created else 'updated'} {args.name} ({args.role}) in {args.file}")
    return 0


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
