"""prefetch: same chunks in the same order, the producer's error at the same point, bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from runbook_helpers.errors import IntegrityError
from runbook_helpers.prefetch import prefetch


def test_same_chunks_in_order() -> None:
    chunks = [bytes([i]) * i for i in range(1, 200)]
    assert list(prefetch(iter(chunks), depth=3)) == chunks


def test_the_producers_error_comes_after_the_chunks_before_it() -> None:
    def broken() -> Iterator[bytes]:
        yield b"a"
        yield b"b"
        raise IntegrityError("the gzip stream ended early")

    got: list[bytes] = []
    with pytest.raises(IntegrityError, match="ended early"):
        for chunk in prefetch(broken()):
            got.append(chunk)
    assert got == [b"a", b"b"]


def test_producer_stays_at_most_depth_ahead_and_stops_when_the_consumer_does() -> None:
    produced = 0
    lock = threading.Lock()

    def endless() -> Iterator[bytes]:
        nonlocal produced
        while True:
            with lock:
                produced += 1
            yield b"x"

    gen = prefetch(endless(), depth=2)
    assert next(gen) == b"x"
    gen.close()  # the consumer gives up: the producer thread ends
    with lock:
        assert produced <= 1 + 2 + 2  # taken + queued + one blocked in put (+ one in flight)
    assert not any(t.name == "runbook-prefetch" and t.is_alive() for t in threading.enumerate())
