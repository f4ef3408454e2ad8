"""The ``runbook`` command: parse arguments, call the library, print, map errors to exit codes.

Each sub-command lives in a small module of this package exposing
``register(subparsers: argparse._SubParsersAction) -> None``; the parser it adds sets
``func=handler`` where ``handler(args: argparse.Namespace, out: Output) -> int``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

from runbook_helpers import __version__, interrupts
from runbook_helpers.cli.failures import DEBUG_ENV, as_runbook_error, hint_for
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
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
    "lifecycle",
    "seed",
    "drill",
    "scrub",  # also registers dev-snapshot
    "preflight",
    "restore_test",
)


def _modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """Only the named command's module (its imports - boto3, psycopg - cost a second of start-up
    on every run); every module for ``--help``, ``--version`` or an unknown command."""
    if not argv or argv[0].startswith("-"):
        return COMMAND_MODULES
    name = {"dev-snapshot": "scrub"}.get(argv[0], argv[0].replace("-", "_"))
    return (name,) if name in COMMAND_MODULES else COMMAND_MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every sub-command, or only the one ``argv`` (if given) names."""
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="Find, check, restore and verify VLVT's PostgreSQL backups on Cloudflare R2.",
    )
    parser.add_argument("--version", action="version", version=f"runbook {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES if argv is None else _modules_for(argv):
        try:
            module = importlib.import_module(f"runbook_helpers.cli.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name == f"runbook_helpers.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


class _NoteFormatter(logging.Formatter):
    """``runbook: warning: ...`` (lower-case level, like ``runbook: error:``)."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


@contextlib.contextmanager
def _library_notes(out: Output) -> Iterator[None]:
    """The library's ``logging`` warnings (retries, skipped keys) as ``runbook: ...`` lines."""
    handler = logging.StreamHandler(out.stderr)
    handler.setFormatter(_NoteFormatter("runbook: %(levelname)s: %(message)s"))
    logger = logging.getLogger("runbook")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def main(argv: Sequence[str] | None = None, out: Output | None = None) -> int:
    """Run the CLI; return the exit status instead of raising for expected failures."""
    out = out or Output.from_system()
    try:  # argparse prints usage errors and --help itself: send them to our streams
        with contextlib.redirect_stdout(out.stdout), contextlib.redirect_stderr(out.stderr):
            args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    except SystemExit as exc:
        return int(ExitStatus.USAGE) if exc.code not in (0, None) else int(ExitStatus.OK)
    except KeyboardInterrupt:  # while the command's modules load: nothing has started
        out.error("interrupted", "nothing was started; re-run the command")
        return int(ExitStatus.INTERRUPTED)
    try:
        with _library_notes(out), interrupts.handled():
            status: int = args.func(args, out)
    except KeyboardInterrupt:
        out.error("interrupted", "nothing was swapped or deleted; re-run the command")
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:  # every failure ends as one typed line + hint, never a traceback
        err = as_runbook_error(exc)
        if os.environ.get(DEBUG_ENV) and err is not exc:
            traceback.print_exception(exc, file=out.stderr)
        out.error(redact_text(str(err)), redact_text(hint_for(err)))
        return int(err.status)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
