"""The run info a docs run records for the site's stamps."""

from __future__ import annotations

import re
from pathlib import Path

from docs_site.runinfo import _run, _version_word, collect

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
    assert _version_word("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == "15.18"
    assert _version_word("aws-cli/1.46.3 Python/3.11.7 Linux/6.1 botocore/1.40") == "1.46.3"
