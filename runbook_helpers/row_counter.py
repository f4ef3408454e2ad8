"""Rows and newest ``created_at`` of one table's COPY data, at the speed of ``bytes.count``.

A COPY text row is one line (a newline inside a value is written ``\\n``), so the rows of a
data file are its line ends minus those of the ``\\.`` terminator and the blank lines after it:
counted in C, never line by line in Python. For the ``created_at`` column one C regex pass per
chunk pulls the column out of every complete line; the newest is the largest string when every
value has PostgreSQL's usual shape (``2026-11-20 03:00:00.123+00``) with one UTC offset (true
of a dump made in UTC, Railway's default), else each value of that chunk is compared exactly
(:func:`runbook_helpers.archive_counts.timestamp_order`: infinity, BC, year 10000, offsets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TAIL = 64
_JUNK = frozenset({b"", b"\\N", b"\\."})  # blank lines, NULL, the terminator
_SHAPE = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?"
_OFFSET = re.compile(_SHAPE + rb"([+-]\d\d(?::\d\d){0,2})$")


def _column(index: int) -> re.Pattern[bytes]:
    return re.compile(rb"(?m)^(?:[^\t\n]*\t){%d}([^\t\n]*)" % index)


class RowCounter:
    """Feed one data file's bytes with :meth:`data`; :meth:`result` gives (rows, newest)."""

    def __init__(
        self,
        created_index: int | None,
        order: Callable[[str], tuple[Any, ...]],
        columns: int = 0,
    ) -> None:
        self.newlines = 0
        self.index = created_index
        # a middle column of a fixed number of columns: picked out of region.split(b"\t")
        # with a stride (every line has columns - 1 tabs: COPY escapes tabs in values)
        self.stride = (
            columns - 1 if created_index is not None and 0 < created_index < columns - 1 else 0
        )
        self.seen = 0
        self.tail = b""
        self.order = order
        self.column = _column(created_index) if created_index is not None else None
        self.carry = b""
        self.regular: re.Pattern[bytes] | None = None  # lines of the first value's shape
        self.newest: str | None = None
        self.newest_key: tuple[Any, ...] = ()

    def data(self, buf: bytes, start: int, end: int) -> None:
        self.newlines += buf.count(b"\n", start, end)
        self.seen += end - start
        self.tail = (self.tail + buf[max(start, end - _TAIL) : end])[-_TAIL:]
        if self.column is None:
            return
        first = buf.find(b"\n", start, end)
        if first < 0:
            self.carry += buf[start:end]
            return
        head = self.carry + buf[start : first + 1]
        self._values(self.column.findall(head))
        last = buf.rfind(b"\n", first + 1, end)
        if last > first:
            self._values(self._column_values(buf[first + 1 : last + 1]))
        self.carry = buf[max(first, last) + 1 : end]

    def _column_values(self, region: bytes) -> list[bytes]:
        """The created_at value of every line of ``region`` (complete lines)."""
        assert self.column is not None
        stop = region.find(b"\n\\.\n") + 1 or len(region)  # rows end at the \. line
        if region.startswith(b"\\.\n"):
            stop = 0
        rows = region[:stop]
        if self.stride and rows.count(b"\t") == self.stride * rows.count(b"\n"):
            assert self.index is not None
            return rows.split(b"\t")[self.index :: self.stride]
        return self.column.findall(rows)

    def _values(self, values: list[bytes]) -> None:
        if not values:
            return
        top = max(values)
        if top in _JUNK:
            values = [v for v in values if v not in _JUNK]
            if not values:
                return
            top = max(values)
        if self.regular is None:
            m = _OFFSET.match(top)
            if m:  # every value of this shape and offset (or NULL): the string order is right
                offset = re.escape(m.group(1))
                self.regular = re.compile(rb"(?:(?:" + _SHAPE + offset + rb"|\\N)\n)*")
        if self.regular is not None and self.regular.fullmatch(b"\n".join(values) + b"\n"):
            self._offer(top.decode())
            return
        for value in values:  # unusual values in this chunk: compare each exactly
            if value not in _JUNK:
                self._offer(value.decode("utf-8", "replace"))

    def _offer(self, text: str) -> None:
        key = self.order(text)
        if self.newest is None or key > self.newest_key:
            self.newest, self.newest_key = text, key

    def result(self) -> tuple[int, str | None]:
        """Rows (line ends before the ``\\.`` line) and the newest created_at text."""
        tail = self.tail
        at = tail.rfind(b"\\.\n")
        rows = self.newlines
        at_line_start = tail[at - 1 : at] == b"\n" if at > 0 else self.seen <= _TAIL
        if at >= 0 and at_line_start:
            rows -= tail[at:].count(b"\n")
        return rows, self.newest
