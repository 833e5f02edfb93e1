"""One module per ``coach`` command group; each exposes ``register(subparsers)``."""

from __future__ import annotations

import argparse


def add_group(subparsers, name: str, help_text: str) -> argparse._SubParsersAction:
    """Add a command group and return its own subparsers; a bare group prints its help."""
    group = subparsers.add_parser(name, help=help_text, description=help_text)
    group.set_defaults(group_parser=group)
    return group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
