"""Run a chunk iterator in a background thread, a few chunks ahead of its consumer.

Reading, hashing (hashlib) and gunzip (zlib) release the GIL on large buffers, so with the
archive's bytes produced in one thread while the restore thread counts rows and writes them
to pg_restore (or to the extracted files), the two overlap on two cores. At most ``depth``
chunks wait in between (memory stays flat); the producer's exception (a truncated gzip, a
network error) is raised in the consumer at the point it happened in the stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator

_END = object()


def prefetch(chunks: Iterator[bytes], depth: int = 4) -> Generator[bytes, None, None]:
    """Yield what ``chunks`` yields, produced in a daemon thread up to ``depth`` ahead."""
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                put(chunk)
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=produce, name="runbook-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()  # the consumer stopped (done, failed or closed): let the producer go
        thread.join(timeout=1)
