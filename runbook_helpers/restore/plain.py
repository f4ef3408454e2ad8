"""A plain SQL dump through psql: restricted, in one transaction, owners and grants left out.

Only reached with ``runbook restore --format plain``. What psql receives::

    \\restrict KEY                      (random: no meta-command in the dump can run)
    BEGIN; set runbook.restore = GUARD  (transaction-local)
    the dump, filtered by PlainScript
    DO ... raise unless runbook.restore is still GUARD;  COMMIT;

:class:`PlainScript` drops pg_dump's own ``\\restrict``/``\\unrestrict`` lines (ours is in force;
the first one would otherwise be refused), the ``BEGIN;``/``COMMIT;`` pg_dump writes around large
objects (they would commit the outer transaction), ``ALTER ... OWNER TO`` / ``SET SESSION
AUTHORIZATION`` (``--no-owner``) and ACL entries (``--no-privileges``); COPY data passes
untouched. The guard raises if the dump ended the transaction itself anyway, and psql's warning
about a nested BEGIN is reported as a partial restore, never as "rolled back".
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from runbook_helpers.errors import IntegrityError
from runbook_helpers.pg.psql_restricted import restrict_key
from runbook_helpers.restore.tools import GUARD_ERROR, Into, raise_for

_COPY = re.compile(rb"^COPY .+ FROM stdin;$")
_TOC = re.compile(rb"^-- (?:Data for )?Name: .*; Type: (?P<type>[^;]+); Schema: ")
_OWNER = re.compile(rb"^ALTER [A-Z ]+ .* OWNER TO .+;$")
_SESSION_AUTH = re.compile(rb"^SET SESSION AUTHORIZATION .+;$")
_RESTRICT = re.compile(rb"^\\(?:un)?restrict [A-Za-z0-9]+$")
_COMPLETE = b"-- PostgreSQL database dump complete"
LARGE_OBJECT_TYPES = frozenset({b"BLOBS", b"BLOB DATA", b"LARGE OBJECTS"})
PRIVILEGE_TYPES = frozenset({b"ACL", b"DEFAULT ACL"})


class PlainScript:
    """Filters a plain dump line by line (see the module docstring); tracks COPY data."""

    def __init__(self) -> None:
        self.partial = b""
        self.in_copy = False
        self.prologue = True
        self.toc_type = b""
        self.complete = False
        self.pending: list[bytes] = []  # a trailing \unrestrict and the comments after it

    def feed(self, data: bytes) -> bytes:
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        return b"".join(self._line(line, line + b"\n") for line in lines)

    def finish(self) -> bytes:
        out = self._line(self.partial, self.partial + b"\n") if self.partial else b""
        self.partial = b""
        return out + b"".join(p for p in self.pending if not _RESTRICT.match(p.rstrip(b"\r\n")))

    def _line(self, line: bytes, raw: bytes) -> bytes:
        text = line.rstrip(b"\r")
        if self.in_copy:
            self.in_copy = text != b"\\."
            return raw
        if self.pending:
            if not text or text.startswith(b"--"):
                self.complete = self.complete or text.startswith(_COMPLETE)
                self.pending.append(raw)
                return b""
            held, self.pending = b"".join(self.pending), []  # not the end: psql refuses it
            return held + self._line(line, raw)
        if _RESTRICT.match(text):
            if text.startswith(b"\\unrestrict"):
                self.pending.append(raw)
                return b""
            return b"" if self.prologue else raw
        if text and not text.startswith(b"--"):
            self.prologue = False
        self.complete = self.complete or text.startswith(_COMPLETE)
        toc = _TOC.match(text)
        if toc:
            self.toc_type = toc.group("type")
        if _COPY.match(text):
            self.in_copy = True
            return raw
        if self.toc_type in LARGE_OBJECT_TYPES and text in (b"BEGIN;", b"COMMIT;"):
            return b""
        if _OWNER.match(text) or _SESSION_AUTH.match(text):
            return b""
        if self.toc_type in PRIVILEGE_TYPES and text and not text.startswith(b"--"):
            return b""
        return raw


def run_plain(
    psql: Path,
    chunks: Iterator[bytes],
    into: Into,
    *,
    checks: Callable[[], None],
    on_process: Callable[[subprocess.Popen[bytes]], None] | None,
) -> None:
    """Run a plain dump; COMMIT is sent only after it ended as pg_dump ends and ``checks()``.

    Not ``psql --single-transaction``: that commits at EOF of its input, which a crash of this
    process would produce. Here EOF without the final COMMIT rolls back.
    """
    guard = secrets.token_hex(16)
    head = (
        f"\\restrict {restrict_key()}\nBEGIN;\n"
        f"SELECT pg_catalog.set_config('runbook.restore', '{guard}', true);\n"
    )
    tail = (
        "\nDO $runbook$BEGIN IF pg_catalog.current_setting('runbook.restore', true)"
        f" IS DISTINCT FROM '{guard}' THEN RAISE EXCEPTION '{GUARD_ERROR}'; END IF; END$runbook$;"
        "\nCOMMIT;\n"
    )
    cmd = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", into.conninfo, "-f", "-"]
    script = PlainScript()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=into.env
        )
        assert proc.stdin is not None
        if on_process:
            on_process(proc)
        try:
            try:
                proc.stdin.write(head.encode())
                for data in chunks:
                    proc.stdin.write(script.feed(data))
                proc.stdin.write(script.finish())
                if not script.complete:
                    raise IntegrityError(
                        "the plain SQL dump is truncated: it does not end with pg_dump's "
                        "'dump complete' line",
                        hint="the dump was cut short; fetch it again or use another backup",
                    )
                checks()
                proc.stdin.write(tail.encode())
            except BrokenPipeError:
                pass  # psql stopped at an error and did not commit: its exit status says why
        except BaseException:
            # truncated/corrupted input or Ctrl-C: kill psql before it can see the COMMIT
            proc.kill()
            proc.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        code = proc.wait()
        raise_for(code, err, "psql")
