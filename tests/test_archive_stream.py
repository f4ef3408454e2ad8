"""The one gzip/tar reader: bounded gzip output, typed errors, and the tar end check."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from runbook_helpers.archive.stream import (
    CHUNK,
    TarCut,
    TarEnd,
    Truncated,
    gunzip_prefix,
    is_tar_header,
    iter_gunzip,
    walk_tar,
)
from runbook_helpers.errors import IntegrityError


def _tar(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _chunks(data: bytes, size: int = 700) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_iter_gunzip_bounds_chunks_and_joins_members() -> None:
    """Highly compressible data never comes out in one huge piece; members are concatenated."""
    raw = b"a" * (40 * CHUNK)
    stream = gzip.compress(raw) + gzip.compress(b"tail")
    pieces = list(iter_gunzip(iter([stream[: len(stream) // 2], stream[len(stream) // 2 :]])))
    assert max(len(p) for p in pieces) <= CHUNK
    assert b"".join(pieces) == raw + b"tail"


def test_iter_gunzip_types_truncation_and_corruption() -> None:
    stream = gzip.compress(b"x" * 10_000)
    with pytest.raises(Truncated):
        list(iter_gunzip(iter([stream[:-8]])))
    corrupt = stream[:20] + bytes(b ^ 0xFF for b in stream[20:40]) + stream[40:]
    with pytest.raises(IntegrityError, match="corrupted"):
        list(iter_gunzip(iter([corrupt])))


def test_gunzip_prefix_reads_the_start_of_a_cut_stream() -> None:
    data = _tar(("toc.dat", b"PGDMP" + b"\0" * 100))
    head = gunzip_prefix(gzip.compress(data)[:300], 512)
    assert is_tar_header(head) and not is_tar_header(b"plain SQL" * 100)
    with pytest.raises(IntegrityError, match="at its start"):
        gunzip_prefix(b"\x1f\x8b\x08\x00" + b"\xff" * 40, 512)


def test_tar_end_passes_a_whole_tar_and_refuses_a_cut_one() -> None:
    data = _tar(("toc.dat", b"a" * 3000), ("restore.sql", b"b" * 100))
    whole = TarEnd("x.tar")
    for chunk in _chunks(data):
        whole.feed(chunk)
    whole.check()
    cut = TarEnd("x.tar")
    cut.feed(data[:2048])
    assert cut.is_tar and not cut.ended
    with pytest.raises(IntegrityError, match="no end-of-archive blocks"):
        cut.check()
    not_tar = TarEnd("x.sql")
    not_tar.feed(b"-- PostgreSQL database dump\n")
    not_tar.check()  # anything not tar passes


def test_walk_tar_names_every_member_and_sees_the_end() -> None:
    data = _tar(("toc.dat", b"a" * 3000), ("3001.dat", b"c" * 5000), ("restore.sql", b"b"))
    walk = walk_tar(iter(_chunks(data)), "x.tar")
    assert walk.names == ["toc.dat", "3001.dat", "restore.sql"]
    assert walk.data_bytes == 8001 and walk.end.ended
    with pytest.raises(TarCut) as cut:
        walk_tar(iter(_chunks(data[:1536])), "x.tar")  # inside the first member's body
    assert cut.value.names == ["toc.dat"]
