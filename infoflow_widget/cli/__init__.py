"""The ``infoflow`` command line: the same engine as the Python API, for scripts.

Results go to ``--out`` (or stdout with ``--out -``); progress bars and messages go to stderr.
Each command is a module with ``NAME``, ``add_parser(commands)`` and ``run(args)``; :data:`COMMANDS` lists them,
so a new command is its own module and one entry there.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from ..core.errors import InfoFlowError
from . import anatomy, faithfulness, graph, models, prompt_set

COMMANDS: dict[str, ModuleType] = {
    command.NAME: command for command in (models, graph, anatomy, faithfulness, prompt_set)
}
"""The commands by name, in the order ``infoflow --help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a pointer to ``--help`` (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``infoflow``."""
    parser = _Parser(prog="infoflow", description="Information-flow graphs of language models.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)  # each command's parser is a _Parser too
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], *_args: object, **_kwargs: object) -> None:
    """Show a warning as one line on stderr (``warnings.showwarning`` while the command runs)."""
    print(f"infoflow: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``infoflow``; returns the exit status (0 on success, 2 on bad input, 130 on Ctrl-C, 1 on other failures)."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores showwarning for callers of main() in-process
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        COMMANDS[args.command].run(args)
        return 0
    except InfoFlowError as exc:
        print(f"infoflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: one line and the shell's status for SIGINT (128 + 2). Results are written whole at the end
        # (a file through a temporary one and a rename), so an interrupted run leaves no partial output.
        print("infoflow: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a CLI user gets one line, not a torch traceback
        if args.debug:
            raise
        print(f"infoflow: failed: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
