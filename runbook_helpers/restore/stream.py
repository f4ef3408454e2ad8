"""Stream an archive into a database so that nothing commits before every check has passed.

``pg_restore --single-transaction`` connected to the database would COMMIT as soon as it has
executed its last TOC entry, which in a tar (or custom) archive read from a pipe can come before
the end of the stream: the tar trailer and the gzip trailer (CRC32, length) are never read by
pg_restore, and a ``.sha256`` sidecar can only be compared once the last byte has gone by. So
the pipeline is::

    GET -> gunzip (Python: CRC, length, sha256) -> pg_restore --single-transaction -f -
        -> (Python relay) -> psql -X -v ON_ERROR_STOP=1 -f -

``pg_restore --single-transaction -f -`` writes ``BEGIN;`` first and exactly one ``COMMIT;``
after the last statement (large-object blocks get no BEGIN/COMMIT of their own in that mode).
The relay holds back the last :data:`HOLD_BYTES` of the script, and at the end sends the
``COMMIT;`` line only after pg_restore has exited 0, the whole source has been read and
decompressed without error and ``checks()`` (the sha256) has passed. psql runs without
``--single-transaction``: if anything fails - or this process dies - psql is killed or sees
EOF before ``COMMIT;`` and the server rolls the transaction back. ``ON_ERROR_STOP`` stops at the
first error, and psql's first error line is what gets reported. psql runs in restricted mode
(``\\restrict KEY``, see :mod:`runbook_helpers.pg.psql_restricted`): a data member smuggling
``\\.`` plus a meta-command into the script cannot run it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from runbook_helpers.pg.psql_restricted import pg_restore_restricts, restrict_key
from runbook_helpers.redact import redact_text
from runbook_helpers.restore.tools import Into, ToolFailed, raise_for

HOLD_BYTES = 16 * 1024  # what the relay keeps back; the script's trailer is ~200 bytes
HEAD_BYTES = 8 * 1024  # the script's header (its SET lines) lies within this
# pg_restore 17+ writes this in its script header whatever the target; PostgreSQL 16 (Railway's)
# refuses it ("unrecognized configuration parameter"). Same effect on 17+, nothing on 16:
TRANSACTION_TIMEOUT_LINE = b"\nSET transaction_timeout = 0;\n"
TRANSACTION_TIMEOUT_ANY_SERVER = (
    b"\nDO $$BEGIN IF current_setting('server_version_num')::int >= 170000 THEN "
    b"PERFORM set_config('transaction_timeout', '0', false); END IF; END$$;\n"
)


def portable_header(head: bytes) -> bytes:
    """The script header with pg_restore 17+'s ``SET transaction_timeout`` made version-safe."""
    return head.replace(TRANSACTION_TIMEOUT_LINE, TRANSACTION_TIMEOUT_ANY_SERVER, 1)


RELAY_CHUNK = 1 << 20
COMMIT_LINE = b"COMMIT;\n"
# what pg_restore writes after the final COMMIT: blank lines, comments, psql's \unrestrict
_TRAILER_LINE = re.compile(rb"^(?:|--.*|\\unrestrict\b.*)$")


class _Relay(threading.Thread):
    """Copies pg_restore's script to psql, keeping the last ``HOLD_BYTES`` back."""

    def __init__(self, src: IO[bytes], dst: IO[bytes], on_broken: Callable[[], None]) -> None:
        super().__init__(name="runbook-relay", daemon=True)
        self.src = src
        self.dst = dst
        self.on_broken = on_broken
        self.tail = b""
        self.broken = False
        self.sent = 0

    def _chunks(self) -> Iterator[bytes]:
        """pg_restore's output: the header first (made :func:`portable_header`), then as read."""
        fd = self.src.fileno()
        head = b""
        while len(head) < HEAD_BYTES:
            data = os.read(fd, RELAY_CHUNK)
            if not data:
                break
            head += data
        if head:
            yield portable_header(head)
        while data := os.read(fd, RELAY_CHUNK):
            yield data

    def run(self) -> None:
        held = b""
        try:
            for data in self._chunks():
                if self.broken:
                    continue  # psql is gone: drain so pg_restore is not stuck on a full pipe
                buf = held + data
                cut = len(buf) - HOLD_BYTES
                if cut > 0:
                    try:
                        self.dst.write(memoryview(buf)[:cut])
                        self.dst.flush()
                    except (BrokenPipeError, ValueError):
                        self.broken = True
                        self.on_broken()
                        continue
                    self.sent += cut
                    held = buf[cut:]
                else:
                    held = buf
        except OSError:
            self.broken = True
            self.on_broken()
        self.tail = held


def split_commit(tail: bytes) -> tuple[bytes, bytes] | None:
    """``(before, from_commit)`` for the script's tail, or None if it does not end as expected."""
    at = tail.rfind(b"\n" + COMMIT_LINE)
    if at < 0:
        return None
    after = tail[at + 1 + len(COMMIT_LINE) :]
    if not all(_TRAILER_LINE.match(line) for line in after.split(b"\n")):
        return None
    return tail[: at + 1], tail[at + 1 :]


def stream_restore(
    pg_restore: Path,
    psql: Path,
    chunks: Iterator[bytes],
    into: Into,
    *,
    checks: Callable[[], None],
    on_process: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> None:
    """Feed ``chunks`` (a decompressed archive) through pg_restore and psql; see module doc.

    ``chunks`` raises (IntegrityError) on corruption/truncation; ``checks`` raises once the
    whole source has been read if it does not match. A non-zero exit becomes ToolFailed
    (:func:`runbook_helpers.restore.tools.raise_for`). Any exception leaves nothing committed.
    """
    restore_cmd = [
        str(pg_restore),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--file",
        "-",
    ]
    # restricted mode (psql_restricted): pg_restore writes the \restrict line, or we do
    key = restrict_key()
    own_restrict = pg_restore_restricts(pg_restore)
    if own_restrict:
        restore_cmd[1:1] = ["--restrict-key", key]
    psql_cmd = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", into.conninfo]
    psql_cmd += ["-f", "-"]
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        psql_proc = subprocess.Popen(
            psql_cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_err,
            env=into.env,
        )
        try:
            restore_proc = subprocess.Popen(
                restore_cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=restore_err,
                env=into.env,
            )
        except BaseException:
            _kill(psql_proc)
            raise
        assert restore_proc.stdin is not None and restore_proc.stdout is not None
        assert psql_proc.stdin is not None
        if not own_restrict:
            _write(psql_proc, f"\\restrict {key}\n".encode())
        relay = _Relay(restore_proc.stdout, psql_proc.stdin, on_broken=restore_proc.kill)
        relay.start()
        try:
            if on_process:
                on_process(restore_proc)
                on_process(psql_proc)
            _feed(restore_proc, chunks)
            code = restore_proc.wait()
            relay.join()
            if relay.broken or psql_proc.poll() is not None:
                # psql stopped (first SQL error): that is the cause, whatever pg_restore says
                psql_code = _kill(psql_proc)
                raise_for(psql_code if psql_code > 0 else 1, psql_err, "psql")
            raise_for(code, restore_err, "pg_restore")
            checks()  # e.g. the sha256 of the bytes read: known only now
            parts = split_commit(relay.tail)
            if parts is None:
                raise ToolFailed(
                    "pg_restore's script does not end with its COMMIT: not committed "
                    f"(last bytes: {redact_text(relay.tail[-120:].decode(errors='replace'))!r})"
                )
            # every check has passed: let psql commit
            _write(psql_proc, parts[0])
            _write(psql_proc, parts[1])
            with contextlib.suppress(BrokenPipeError):
                psql_proc.stdin.close()
            psql_code = psql_proc.wait()
            raise_for(psql_code, psql_err, "psql")
        except BaseException:
            # psql first: once it is gone nothing can commit; then pg_restore
            _kill(psql_proc)
            _kill(restore_proc)
            relay.join()
            raise
        finally:
            for stream in (restore_proc.stdout, psql_proc.stdin):
                with contextlib.suppress(OSError):
                    stream.close()


def _feed(proc: subprocess.Popen[bytes], chunks: Iterator[bytes]) -> None:
    """Write every chunk to ``proc``'s stdin; after it stops reading, keep reading the source.

    pg_restore may exit 0 before the end of its input (the tar trailer): the rest is still
    decompressed here, so that the gzip CRC/length and the sha256 are checked to the last byte.
    A pg_restore that stopped because it failed (or was killed) is not waited for that long.
    """
    assert proc.stdin is not None
    feeding = True
    for data in chunks:
        if not feeding:
            continue
        try:
            proc.stdin.write(data)
        except BrokenPipeError:
            feeding = False
            if proc.wait() != 0:
                return
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()


def _write(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
    except BrokenPipeError:
        pass  # psql stopped: its exit status says why


def _kill(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.kill()
    return proc.wait()
