"""Rows and newest ``created_at`` of one table's COPY data, at the speed of ``bytes.count``.

A COPY text row is one line (a newline inside a value is written ``\\n``), so the rows of a
data file are its line ends minus those of the ``\\.`` terminator and the blank lines after it:
counted in C, never line by line in Python. The ``created_at`` column of every complete line of
a chunk is picked out of one ``bytes.split`` (every line has the same number of tabs: COPY
escapes them in values; else one C regex pass); the newest is the largest string when every
value has PostgreSQL's usual shape (``2026-11-20 03:00:00.123+00``) with one UTC offset (true
of a dump made in UTC, Railway's default) and a four-digit year - checked per chunk with C
string counts - else each value of that chunk is compared exactly
(:func:`runbook_helpers.archive.copy_blocks.timestamp_order`: infinity, BC, year 10000, offsets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TAIL = 64
_JUNK = frozenset({b"", b"\\N", b"\\."})  # blank lines, NULL, the terminator
_SHAPE = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?"
_OFFSET = re.compile(_SHAPE + rb"([+-]\d\d(?::\d\d){0,2})$")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NEWLINE_AS_TAB = bytes.maketrans(b"\n", b"\t")


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
        # the column is picked out of region.split(b"\t") with a stride (every line has
        # columns - 1 tabs: COPY escapes tabs in values); for the first or the last column the
        # line ends are made tabs first, so that every line is exactly ``columns`` fields
        self.columns = columns if created_index is not None and columns > 1 else 0
        self.ends_as_tabs = created_index in (0, columns - 1)
        self.seen = 0
        self.tail = b""
        self.order = order
        self.column = _column(created_index) if created_index is not None else None
        self.carry = b""
        self.suffix: bytes | None = None  # the UTC offset + newline every regular value ends with
        self.newest: str | None = None
        self.newest_key: tuple[Any, ...] = ()

    def data(self, buf: bytes, start: int, end: int) -> None:
        self.seen += end - start
        self.tail = (self.tail + buf[max(start, end - _TAIL) : end])[-_TAIL:]
        if self.column is None:
            self.newlines += buf.count(b"\n", start, end)
            return
        first = buf.find(b"\n", start, end)
        if first < 0:
            self.carry += buf[start:end]
            return
        self.newlines += 1
        head = self.carry + buf[start : first + 1]
        self._values(self.column.findall(head))
        last = buf.rfind(b"\n", first + 1, end)
        if last > first:
            region = buf[first + 1 : last + 1]
            lines = region.count(b"\n")
            self.newlines += lines
            self._values(self._column_values(region, lines))
        self.carry = buf[max(first, last) + 1 : end]

    def _column_values(self, region: bytes, lines: int) -> list[bytes]:
        """The created_at value of every line of ``region`` (``lines`` complete lines)."""
        assert self.column is not None
        # rows end at the data's final \. line (followed by blank lines): in its last bytes
        at = region.find(b"\n\\.\n", max(0, len(region) - _TAIL))
        if region.startswith(b"\\.\n"):
            region, lines = b"", 0
        elif at >= 0:
            region = region[: at + 1]
            lines = region.count(b"\n")
        if self.columns:
            assert self.index is not None
            if self.ends_as_tabs:
                fields = region.translate(_NEWLINE_AS_TAB).split(b"\t")
                if len(fields) - 1 == self.columns * lines:
                    return fields[self.index :: self.columns]
            else:
                fields = region.split(b"\t")
                if len(fields) - 1 == (self.columns - 1) * lines:
                    return fields[self.index :: self.columns - 1]
        return self.column.findall(region)

    def _values(self, values: list[bytes]) -> None:
        if not values:
            return
        top = max(values)
        if top in _JUNK:
            values = [v for v in values if v not in _JUNK]
            if not values:
                return
            top = max(values)
        if self.suffix is None:
            m = _OFFSET.match(top)
            if m:  # every value of this shape and offset (or NULL): the string order is right
                self.suffix = m.group(1) + b"\n"
        m = _OFFSET.match(top) if self.suffix is not None else None
        if m and m.group(1) + b"\n" == self.suffix and self._regular(values):
            self._offer(top.decode())
            return
        for value in values:  # unusual values in this chunk: compare each exactly
            if value not in _JUNK:
                self._offer(value.decode("utf-8", "replace"))

    def _regular(self, values: list[bytes]) -> bool:
        """True when every value is NULL or ends with the first value's UTC offset and has a
        four-digit year: then the largest string is the newest time (checked in C, per chunk)."""
        assert self.suffix is not None
        joined = b"\n" + b"\n".join(values) + b"\n"
        if joined.count(self.suffix) != len(values) - values.count(b"\\N"):
            return False  # another offset, BC, infinity or not a timestamp at all
        return joined.translate(_DIGITS_AS_ZERO).find(b"\n00000") < 0  # no year 10000 and up

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
