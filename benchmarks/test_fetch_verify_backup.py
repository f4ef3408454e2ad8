"""``runbook fetch`` (download + verify), ``runbook verify`` (exact counts), ``runbook backup``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchlib import BACKUP_AT, ROUNDS, Bench, record


def test_fetch_throughput(benchmark: Any, bench: Bench) -> None:
    """Download the backup to a local file and verify it (size, gzip stream, sha256 sidecar)."""
    dest = bench.workdir / "fetch"
    dest.mkdir(exist_ok=True)
    paths: list[Path] = []

    def setup() -> None:
        for old in dest.iterdir():
            old.unlink()

    def run() -> None:
        paths.append(Path(bench.runbook("fetch", bench.backup_uri, "--to", str(dest))))

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    assert paths[-1].stat().st_size == bench.archive_bytes
    record(benchmark, bench, bytes_moved=bench.archive_bytes, source="s3:// (moto on loopback)")


def _verify(benchmark: Any, bench: Bench, url: str, *reference: str) -> dict[str, Any]:
    outputs: list[str] = []

    def run() -> None:
        outputs.append(bench.runbook("verify", "--target", url, *reference, "--json"))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    report: dict[str, Any] = json.loads(outputs[-1])
    return report


def _checked_rows(bench: Bench, report: dict[str, Any]) -> int:
    """Every table matched with exact counts; returns the number of rows counted."""
    tables = {t["table"].rsplit(".", 1)[-1]: t for t in report["tables"]}  # public.users
    assert report["ok"], report
    for name, rows in bench.rows.items():
        assert tables[name]["actual_rows"] == rows, tables[name]
        assert tables[name]["status"] == "ok", tables[name]
    return sum(bench.rows.values())


def test_verify_against_manifest(benchmark: Any, bench: Bench, restored_url: str) -> None:
    """Exact ``count(*)`` + ``max(created_at)`` per table vs the backup's .manifest.json on R2."""
    report = _verify(benchmark, bench, restored_url, "--manifest", bench.backup_uri)
    record(benchmark, bench, rows_counted=_checked_rows(bench, report), reference="manifest")


def test_verify_against_archive(
    benchmark: Any, bench: Bench, restored_url: str, local_targz: Path
) -> None:
    """The same, with the expected counts read out of the archive's table data (any backup)."""
    report = _verify(benchmark, bench, restored_url, "--archive", str(local_targz))
    record(
        benchmark,
        bench,
        bytes_moved=bench.archive_bytes,
        rows_counted=_checked_rows(bench, report),
        reference="local tar.gz",
    )


def test_backup_template(benchmark: Any, bench: Bench) -> None:
    """``pg_dump --format=tar | gzip`` + upload with sidecars, as the Railway template does.

    Written under the subfolder ``bench-backup/`` (deleted afterwards), so the session backup
    stays the latest one in the bucket root.
    """
    s3 = bench.r2.client()
    uris: list[str] = []
    stamps = iter(f"{BACKUP_AT[:11]}04:{i:02d}:00Z" for i in range(60))

    def run() -> None:
        uris.append(
            bench.runbook(
                "backup",
                "--source",
                bench.source_url,
                "--at",
                next(stamps),
                "--subfolder",
                "bench-backup",
            )
        )

    try:
        benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
        sizes = [
            int(s3.head_object(Bucket=bench.r2.bucket, Key=u.split("/", 3)[3])["ContentLength"])
            for u in uris
        ]
    finally:
        listing = s3.list_objects_v2(Bucket=bench.r2.bucket, Prefix="bench-backup/")
        for obj in listing.get("Contents", []):
            s3.delete_object(Bucket=bench.r2.bucket, Key=obj["Key"])
    record(
        benchmark,
        bench,
        bytes_moved=bench.source_db_bytes,  # MB/s here: database MB dumped per second
        uploaded_bytes=sizes[-1],
        mb_per_s_means="source database MB per second",
    )
