"""The run info a docs run records for the site's stamps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs_site.runinfo import _run, collect
from runbook_docs.versions import parse_probes, version_word

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
