"""The ``runbook`` command: parse arguments, call the library, print, map errors to exit codes.

Each sub-command lives in a small module of this package exposing
``register(subparsers: argparse._SubParsersAction) -> None``; the parser it adds sets
``func=handler`` where ``handler(args: argparse.Namespace, out: Output) -> int``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence

from runbook_helpers import __version__
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus, RunbookError
from runbook_helpers.redact import redact_text

# Sub-command modules, in the order `runbook --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "backups",
    "backup",
    "inspect",
    "fetch",
    "restore",
    "verify",
    "presign",
    "freshness",
    "seed",
    "drill",
    "restore_test",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="Find, check, restore and verify VLVT's PostgreSQL backups on Cloudflare R2.",
    )
    parser.add_argument("--version", action="version", version=f"runbook {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"runbook_helpers.cli.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name == f"runbook_helpers.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, out: Output | None = None) -> int:
    """Run the CLI; return the exit status instead of raising for expected failures."""
    out = out or Output.from_system()
    try:  # argparse prints usage errors and --help itself: send them to our streams
        with contextlib.redirect_stdout(out.stdout), contextlib.redirect_stderr(out.stderr):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(ExitStatus.USAGE) if exc.code not in (0, None) else int(ExitStatus.OK)
    try:
        status: int = args.func(args, out)
    except RunbookError as exc:
        out.error(redact_text(str(exc)), redact_text(exc.hint))
        return int(exc.status)
    except KeyboardInterrupt:
        out.error("interrupted", "nothing was swapped or deleted; re-run the command")
        return int(ExitStatus.INTERRUPTED)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
