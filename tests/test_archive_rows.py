"""Row counts read from a tar archive's bytes (archive_stream, archive_toc, row_counter): exact,
whatever the chunking, and damage inside the tar is refused."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import tarfile
from pathlib import Path

import pytest

from runbook_helpers.archive.copy_blocks import count_copy_blocks, timestamp_order
from runbook_helpers.archive.counts import count_tar
from runbook_helpers.archive.manifest import TableStats, table_stats
from runbook_helpers.archive.row_counter import RowCounter
from runbook_helpers.archive.stream import TarWalker
from runbook_helpers.archive.tar_extract import Extractor
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support.backup_files import dump_tar_gz, seed_small

ODD = r'''
create table "Odd ""Name""" (created_at text, note text);
insert into "Odd ""Name""" values ('infinity', 'a'), ('2026-01-01 00:00:00+00', E'x\ny'),
    (null, 'b'), ('', 'c');
create table empty_t (id int, created_at timestamptz);
create table mixed (id int, created_at timestamptz);
set timezone = 'Europe/Berlin';
insert into mixed select g, '2026-03-29 00:30:00+00'::timestamptz + g * interval '1 minute'
    from generate_series(1, 200) g;
insert into mixed values (0, '0044-03-15 12:00:00+00 BC');
'''


Backup = tuple[bytes, dict[str, TableStats]]


@pytest.fixture(scope="module")
def backup(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Backup:
    url = pg_server.create_database("rows_src")
    try:
        seed_small(url, ODD)
        path = tmp_path_factory.mktemp("rows") / "b.tar.gz"
        env = sandbox_environment(pg_server, None)
        env["PGTZ"] = "Europe/Berlin"  # DST: two UTC offsets in one column
        dump_tar_gz(url, path, env)
        with pg_server.connect("rows_src") as conn:
            expected = table_stats(conn)
        return gzip.decompress(path.read_bytes()), expected
    finally:
        pg_server.drop_database("rows_src")


def _chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(data):
        step = rng.choice((1, 3, 511, 512, 513, 4096, 65536))
        out.append(data[pos : pos + step])
        pos += step
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_match_the_database_whatever_the_chunking(backup: Backup, seed: int) -> None:
    tar, expected = backup
    stats = count_tar(iter(_chunks(tar, seed)))
    assert stats == expected
    assert stats["public.mixed"].rows == 201
    assert stats["public.empty_t"].rows == 0
    assert stats['public.Odd "Name"'].newest_created_at == "infinity"


def test_row_counter_agrees_with_line_by_line_parsing() -> None:
    rows = ["1\t2026-01-01 00:00:00+00", "2\t\\N", "3\t2026-01-01 00:00:00.5+00", "4\tinfinity"]
    rows += [f"{i}\t2025-12-31 23:59:{i % 60:02d}+01" for i in range(5, 300)]
    body = "\n".join(rows) + "\n\\.\n\n\n"
    expected = count_copy_blocks(["COPY public.t (id, created_at) FROM stdin;", *body.split("\n")])
    data = body.encode()
    for seed in range(5):
        counter = RowCounter(1, timestamp_order)
        for chunk in _chunks(data, seed):
            counter.data(chunk, 0, len(chunk))
        rows_counted, newest = counter.result()
        assert rows_counted == expected["public.t"].rows == 299
        assert newest == "infinity"


def test_fewer_chunks_with_regular_values_take_the_string_maximum() -> None:
    data = b"".join(b"%d\t2026-01-%02d 10:00:00+00\n" % (i, i % 28 + 1) for i in range(1000))
    counter = RowCounter(1, timestamp_order)
    counter.data(data + b"\\.\n\n\n", 0, len(data) + 6)
    assert counter.result() == (1000, "2026-01-28 10:00:00+00")


@pytest.mark.parametrize(
    "odd",
    [
        None,
        "10000-01-01 00:00:00+00",  # the string order says 2026 is newer
        "2026-01-28 12:00:00+05",  # another offset: 07:00 UTC, older than 10:00+00
        "2026-01-28 09:00:00-05",  # 14:00 UTC: the newest, though not the largest string
        "2027-01-01 00:00:00+00 BC",
        "infinity",
    ],
)
@pytest.mark.parametrize("index", [0, 1, 2])  # the column's place: each way of picking it
def test_the_string_maximum_is_taken_only_when_it_is_the_newest(
    odd: str | None, index: int
) -> None:
    """One odd value among regular ones, any chunking: the newest is the exact newest."""

    def line(i: int, value: bytes) -> bytes:
        fields = [b"%d" % i, b"x"]
        fields.insert(index, value)
        return b"\t".join(fields)

    values = [b"2026-01-%02d 10:00:00.%d+00" % (i % 28 + 1, i % 7) for i in range(3000)]
    if odd is not None:
        values.insert(1500, odd.encode())
    values.insert(10, b"\\N")
    lines = [line(i, v) for i, v in enumerate(values)]
    data = b"\n".join(lines) + b"\n\\.\n\n\n"
    newest = max((v.decode() for v in values if v != b"\\N"), key=timestamp_order)
    for seed in range(3):
        counter = RowCounter(index, timestamp_order, columns=3)
        for chunk in [data] if seed == 0 else _chunks(data, seed):
            counter.data(chunk, 0, len(chunk))
        assert counter.result() == (len(lines), newest)


def test_a_tar_cut_short_is_an_integrity_error(backup: Backup) -> None:
    tar, _ = backup
    with pytest.raises(IntegrityError, match="cut short"):
        count_tar(iter([tar[: len(tar) // 2]]))


def test_a_damaged_member_header_is_an_integrity_error(backup: Backup) -> None:
    tar, _ = backup
    damaged = tar[:10] + b"X" + tar[11:]  # inside toc.dat's header: name field
    with pytest.raises(IntegrityError, match="checksum"):
        count_tar(iter([damaged]))


def test_a_tar_without_toc_is_not_a_backup() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("notes.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    with pytest.raises(Incompatible, match="not a pg_dump tar archive"):
        count_tar(iter([buf.getvalue()]))


def test_extracted_members_restore_with_pg_restore_directory_format(
    backup: Backup,
    tmp_path: Path,
) -> None:
    tar, _ = backup
    walker = TarWalker(Extractor(tmp_path))
    for chunk in _chunks(tar, 9):
        walker.feed(chunk)
    walker.finish()
    with tarfile.open(fileobj=io.BytesIO(tar)) as ref:
        for member in ref.getmembers():
            extracted = ref.extractfile(member)
            assert extracted is not None
            assert (tmp_path / member.name).read_bytes() == extracted.read()
    listing = subprocess.run(
        ["pg_restore", "-Fd", "--list", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public mixed" in listing
