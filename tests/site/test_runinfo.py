"""The run info a docs run records for the site's stamps."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from docs_site.runinfo import _run, collect
from runbook_docs.versions import parse_probes, probe_versions, version_word

ROOT = Path(__file__).resolve().parents[2]


def test_collect_names_date_and_commit_of_this_checkout() -> None:
    info = collect(ROOT)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", str(info["date"]))
    head = _run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT)
    assert head and str(info["commit"]).startswith(head)


def test_a_command_with_no_output_or_failing_gives_an_empty_line(tmp_path: Path) -> None:
    assert _run(["true"]) == ""
    assert _run(["false"]) == ""
    assert _run(["no-such-program-here"]) == ""


def test_version_word() -> None:
    assert version_word("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == "15.18"
    assert version_word("aws-cli/1.46.3 Python/3.11.7 Linux/6.1 botocore/1.40") == "1.46.3"
    assert version_word("16.2") == "16.2"  # psql -At -c 'show server_version'


def test_probe_lines_parse_and_a_malformed_one_is_refused() -> None:
    probes = parse_probes(
        ["", "# a comment", 'PostgreSQL = psql -X -A -t -c "show server_version"']
    )
    assert probes == {"PostgreSQL": ["psql", "-X", "-A", "-t", "-c", "show server_version"]}
    with pytest.raises(ValueError, match="expected 'NAME = command'"):
        parse_probes(["pg_dump --version"])


def _tool(directory: Path, name: str, version: str, interpreter: str = "/bin/sh") -> Path:
    """A program that counts its runs in ``runs`` and prints ``version``."""
    tool = directory / name
    tool.write_text(f"#!{interpreter}\necho run >> {directory}/runs\necho '{name} {version}'\n")
    tool.chmod(0o755)
    return tool


def test_a_version_probe_runs_once_per_executable(tmp_path: Path) -> None:
    """``--version`` answers are kept per executable file; a changed file is asked again."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "vtool", "1.2.3")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    probes = {"vtool": ["vtool", "--version"]}
    assert probe_versions(probes, env, tmp_path) == {"vtool": "1.2.3"}
    assert probe_versions(probes, env, tmp_path) == {"vtool": "1.2.3"}
    assert (bin_dir / "runs").read_text().count("run") == 1
    _tool(bin_dir, "vtool", "1.2.4")  # an upgrade in place: same path, new file contents
    assert probe_versions(probes, env, tmp_path) == {"vtool": "1.2.4"}
    other = tmp_path / "other"
    other.mkdir()
    _tool(other, "vtool", "9.0")  # another file of that name, found first on another PATH
    env_other = {"PATH": f"{other}{os.pathsep}{os.environ['PATH']}"}
    assert probe_versions(probes, env_other, tmp_path) == {"vtool": "9.0"}
    assert probe_versions(probes, {**env, "PYTHONPATH": str(other)}, tmp_path) == {
        "vtool": "1.2.4"
    }  # a loader variable that differs runs it again
    assert probe_versions(probes, {**env, "PGCLUSTER": "16/main"}, tmp_path) == {
        "vtool": "1.2.4"
    }  # so does a PG* one (Debian's pg_wrapper picks the real pg_dump by them)
    assert (bin_dir / "runs").read_text().count("run") == 4


def test_a_probe_that_asks_a_server_always_runs(tmp_path: Path) -> None:
    """Only ``--version`` probes are kept: ``psql -c 'show server_version'`` asks each time."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "ask", "16.4")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    probes = {
        "server": ["ask", "-c", "show server_version"],
        "missing": ["no-such-tool", "--version"],
    }
    assert probe_versions(probes, env, tmp_path) == {"server": "16.4"}
    assert probe_versions(probes, env, tmp_path) == {"server": "16.4"}
    assert (bin_dir / "runs").read_text().count("run") == 2
