"""A macOS-like userland for the reader's terminal: BSD ``tar``, BSD option checks, no GNU extras.

``macos_path(PATH, root)`` returns a PATH under which a page's commands meet what macOS has:

- ``REPLACED``: the name runs another real tool (``tar`` is libarchive's ``bsdtar``, the tar of
  macOS, so its messages and exit statuses are macOS's);
- ``GUARDED``: a shim refuses the GNU-only options macOS's tool lacks, with the BSD message and
  exit status (``runbook_docs/bsd_guard.py``), and otherwise runs the real GNU tool;
- ``ABSENT``: tools macOS does not ship are not on PATH at all, so ``command -v`` fails and the
  shell prints its own ``command not found``.

Every PATH directory that holds one of these names is replaced by a directory of symlinks to
its other entries (same order, so which tool wins is unchanged); other directories (a venv's
``bin``, PostgreSQL's) stay as they are, so ``runbook``, ``python``, ``psql`` and ``aws`` are
found as before. A shim directory goes first. On macOS itself ``PATH`` is left as it is.
``reader_path`` builds one such PATH per original PATH and process (thousands of symlinks take
seconds on a busy machine). ``BEGIN``/``END`` mark docs/testing.md's table of all this, written
by ``python -m runbook_docs.userland docs/testing.md``.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

from runbook_docs.generated import replace_section, rewrite_pages

BEGIN = "<!-- reader-userland:begin -->"
END = "<!-- reader-userland:end -->"
_GUARD = Path(__file__).with_name("bsd_guard.py")

# name -> (the real tool it runs, why)
REPLACED: dict[str, tuple[str, str]] = {
    "tar": (
        "bsdtar",
        "macOS's `tar` is bsdtar (libarchive): a cut archive exits 1 with `Truncated input "
        "file`, where GNU tar exits 2 with `Unexpected EOF`",
    ),
}
# name -> (what is refused, why)
GUARDED: dict[str, tuple[str, str]] = {
    "date": (
        "`-d`, `%N` in a format, long options (`--date`, `--utc`)",
        "BSD `date` parses times with `-j -f` and has no `%N`; a relative date written "
        "for GNU fails on macOS (macOS prints `N` for `%N`: refused here so it cannot pass)",
    ),
    "sed": (
        "`-i` whose next argument is not a suffix (`-i ''` and `-i.bak` run), long options",
        "BSD `sed -i` takes the next argument as the backup suffix, so GNU's `sed -i 's/a/b/' "
        "f` does not edit `f` on macOS",
    ),
    "stat": (
        "`-c`, long options (`--format`, `--printf`)",
        "BSD `stat` formats with `-f`; `stat -c %s` is `illegal option -- c` on macOS",
    ),
    "grep": (
        "`-P`, `--perl-regexp`",
        "macOS's grep has no Perl regular expressions: `invalid option -- P`, exit 2",
    ),
}
_SUMS = "macOS has `shasum -a 256` (and `md5`) instead of coreutils' `*sum` tools"
ABSENT: dict[str, str] = {
    "timeout": "a GNU coreutils tool; macOS has none (Homebrew's is `gtimeout`)",
    "nproc": "GNU coreutils; macOS answers `sysctl -n hw.ncpu`",
    "numfmt": "GNU coreutils only",
    "tac": "GNU coreutils; macOS has `tail -r`",
    "sha256sum": _SUMS,
    "sha1sum": _SUMS,
    "sha512sum": _SUMS,
    "md5sum": _SUMS,
}
SHADOWED = frozenset({*REPLACED, *GUARDED, *ABSENT})


def _shim(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def macos_path(path: str, root: Path) -> str:
    """A PATH like ``path`` with macOS's userland, built in the new directory ``root``."""
    dirs = [d for d in path.split(os.pathsep) if d]
    shims = root / "shims"
    shims.mkdir(parents=True)
    if sys.platform == "darwin":  # the tools are macOS's already
        return path
    python = shlex.quote(os.path.realpath(sys.executable))
    for name, (real_name, _) in REPLACED.items():
        real = shutil.which(real_name, path=path)
        if real is None:
            raise FileNotFoundError(f"{real_name} is not installed; the reader's terminal needs it")
        (shims / name).symlink_to(real)
    for name in GUARDED:
        real = shutil.which(name, path=path)
        if real is not None:
            guard = f"{python} -I -S {shlex.quote(str(_GUARD))} {name} {shlex.quote(real)}"
            _shim(shims / name, f'#!/bin/sh\nexec {guard} "$@"\n')
    result = [str(shims)]
    for number, directory in enumerate(dirs):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        if SHADOWED.isdisjoint(names):
            result.append(directory)
            continue
        farm = root / f"{number:02d}"
        farm.mkdir()
        for name in names:
            if name not in SHADOWED:
                (farm / name).symlink_to(os.path.join(directory, name))
        result.append(str(farm))
    return os.pathsep.join(result)


@cache
def reader_path(path: str) -> str:
    """``macos_path(path)`` in a directory kept until this process exits."""
    root = Path(tempfile.mkdtemp(prefix="runbook-userland-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return macos_path(path, root / "path")


def table_markdown() -> str:
    """The emulated userland as docs/testing.md's table (between ``BEGIN`` and ``END``)."""
    rows = ["| tool | on the reader's PATH | why |", "|---|---|---|"]
    rows += [f"| `{n}` | `{real}` | {why} |" for n, (real, why) in REPLACED.items()]
    rows += [f"| `{n}` | refuses {what} | {why} |" for n, (what, why) in GUARDED.items()]
    rows += [f"| `{n}` | absent | {why} |" for n, why in ABSENT.items()]
    return "\n".join(rows)


def with_table(page_text: str) -> str:
    """``page_text`` with the section between the markers rewritten from the tables above."""
    return replace_section(page_text, BEGIN, END, table_markdown())


def main(argv: list[str]) -> int:
    """``python -m runbook_docs.userland docs/testing.md``: rewrite the page's userland table."""
    return rewrite_pages(argv, with_table)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
