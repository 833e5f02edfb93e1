"""The ``coach`` command.

    coach --help                 list the command groups
    coach encoder info           where the encoder lives, convert it if needed, time the load
    coach scenarios validate F…  check scenario scripts, with line-numbered errors

Each group lives in ``coach/commands/<group>.py`` and exposes ``register(subparsers)``.
Those modules import only the standard library at import time, so ``coach --help`` is
instant; the heavy imports (torch, transformers, gradio) happen inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from coach.errors import UserError

# Groups are added here as they are built.
COMMAND_GROUPS: tuple[str, ...] = ("app", "scenarios", "eval", "train", "bench", "encoder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coach",
        description="Palvelupeili: practise difficult customer encounters with a local coach.",
    )
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        module = importlib.import_module(f"coach.commands.{group}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # A group given without its subcommand: show that group's help.
        (getattr(args, "group_parser", None) or parser).print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
