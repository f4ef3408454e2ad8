"""docs/troubleshooting.md's exit-code table is ExitStatus rendered, and covers every error class.

To update the page after changing :mod:`runbook_helpers.errors`, replace the table with the
output of ``python -c 'from runbook_helpers.errors import exit_code_table as t; print(t())'``.
"""

from __future__ import annotations

from pathlib import Path

from runbook_helpers import errors
from runbook_helpers.errors import EXIT_MEANINGS, ExitStatus, RunbookError, exit_code_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"


def page_table() -> str:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index("| Exit | Meaning |")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end])


def test_page_table_is_generated_from_exit_status() -> None:
    assert page_table() == exit_code_table(), (
        "docs/troubleshooting.md's exit-code table differs from runbook_helpers/errors.py: "
        "paste exit_code_table()'s output over it"
    )


def test_every_status_has_a_meaning_and_every_error_class_a_row() -> None:
    assert set(EXIT_MEANINGS) == set(ExitStatus)
    classes = [
        v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, RunbookError)
    ]
    assert len(classes) >= 13
    rows = {line.split("|")[1].strip() for line in page_table().splitlines()[2:]}
    for cls in classes:
        assert str(int(cls.status)) in rows, f"{cls.__name__} exits {int(cls.status)}: no row"
