"""maintenance_work_mem of a parallel restore's index builds: raised for those sessions only,
never lowered, and what each session really gets is what the stage line says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runbook_helpers.restore import parallel as restore_parallel
from runbook_helpers.restore.memory import format_kb, parse_size, post_data_env
from runbook_helpers.restore.tools import Into
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support.cli_runs import run_cli


@pytest.mark.parametrize(
    ("text", "kb"),
    [("256MB", 262144), ("1GB", 1048576), ("2048kB", 2048), (" 64MB ", 65536), ("server", None)],
)
def test_sizes_are_read_as_postgresql_writes_them(text: str, kb: int | None) -> None:
    assert parse_size(text) == kb


@pytest.mark.parametrize(
    ("text", "says"),
    [("12", "not a size"), ("256mb", "not a size"), ("512kB", "outside"), ("3TB", "outside")],
)
def test_a_bad_size_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_size(text)


def test_sizes_are_shown_in_the_largest_whole_unit() -> None:
    assert [format_kb(kb) for kb in (65536, 1048576, 1536, 1572864)] == [
        "64MB",
        "1GB",
        "1536kB",
        "1536MB",
    ]


def test_it_only_ever_raises_and_keeps_other_options() -> None:
    env = {"PGOPTIONS": "-c statement_timeout=0", "OTHER": "x"}
    raised, said = post_data_env(env, 65536, 262144)
    assert raised["PGOPTIONS"] == "-c statement_timeout=0 -c maintenance_work_mem=262144kB"
    assert raised["OTHER"] == "x" and env["PGOPTIONS"] == "-c statement_timeout=0"
    assert said == "maintenance_work_mem 256MB per job, raised from 64MB"
    assert post_data_env(env, 1048576, 262144) == (
        env,
        "maintenance_work_mem 1GB, already at least 256MB",
    )
    assert post_data_env(env, 65536, None) == (env, "maintenance_work_mem 64MB, the server's")


def test_the_cli_refuses_a_bad_size_before_anything_runs(sandbox_env: dict[str, str]) -> None:
    res = run_cli(
        ["restore", "x.tar.gz", "--target", "postgresql:///x", "--maintenance-work-mem", "lots"],
        sandbox_env,
    )
    assert res.status == 2
    assert "--maintenance-work-mem: 'lots' is not a size" in res.stderr


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, pg_server: PostgresServer) -> list[str]:
    """What a session opened with the index builds' environment gets (asked with psql, as
    pg_restore's sessions would be), recorded before the real post-data runs."""
    got: list[str] = []
    real = restore_parallel.build_post_data
    psql = str(pg_server.bin_dir / "psql") if pg_server.bin_dir else "psql"

    def build(tool: Path, directory: Path, into: Into, jobs: int) -> Any:
        show = [psql, "-XAtq", "-d", into.conninfo, "-c", "show maintenance_work_mem"]
        got.append(
            subprocess.run(show, env=into.env, capture_output=True, text=True).stdout.strip()
        )
        return real(tool, directory, into, jobs)

    monkeypatch.setattr(restore_parallel, "build_post_data", build)
    return got


@pytest.mark.parametrize(
    ("args", "pgoptions", "sessions", "line"),
    [
        ([], None, r"\d+[kMG]B", r"maintenance_work_mem \d+[kMG]B, the server's\)"),
        (["--maintenance-work-mem", "server"], None, r"\d+[kMG]B", r"\d+[kMG]B, the server's\)"),
        (
            ["--maintenance-work-mem", "256MB"],
            None,
            "256MB",
            r"maintenance_work_mem 256MB per job, raised from \d+[kMG]B\)",
        ),
        (
            ["--maintenance-work-mem", "256MB"],
            "-c maintenance_work_mem=512MB",
            "512MB",
            r"512MB, already at least 256MB\)",
        ),
    ],
)
def test_the_index_sessions_get_what_the_stage_line_says(
    seeded_tar_gz: Path,
    pg_url: str,
    sandbox_env: dict[str, str],
    seen: list[str],
    args: list[str],
    pgoptions: str | None,
    sessions: str,
    line: str,
) -> None:
    env = dict(sandbox_env, **({"PGOPTIONS": pgoptions} if pgoptions else {}))
    res = run_cli(["restore", str(seeded_tar_gz), "--target", pg_url, "-j", "2", *args], env)
    assert res.status == 0, res.stderr
    built = next(ln for ln in res.stderr.splitlines() if "indexes and constraints built" in ln)
    assert re.search(line, built), built
    assert len(seen) == 1 and re.fullmatch(sessions, seen[0]), seen
    if "server's" in line:
        assert seen[0] in built
