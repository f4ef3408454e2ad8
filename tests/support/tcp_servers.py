"""Misbehaving TCP endpoints on 127.0.0.1 for storage fault tests (bounded, self-stopping)."""

from __future__ import annotations

import gzip
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

HALF_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: 1048576\r\n"
    b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
    b"Last-Modified: Sun, 25 Jan 2026 03:00:00 GMT\r\n\r\n"
    + gzip.compress(random.Random(8).randbytes(65536))[:4096]  # a gzip stream, cut short
)
LIFETIME = 180.0  # seconds; the server stops by itself after this even if a test hangs


def loopback_listener(backlog: int = 64) -> socket.socket:
    """A listening socket on a free port of 127.0.0.1, polled (0.2 s accept timeout)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.settimeout(0.2)
    return listener


@contextmanager
def serving(
    handle: Callable[[socket.socket], list[socket.socket]], lifetime: float = LIFETIME
) -> Iterator[int]:
    """Accept connections on a loopback port (yielded) until the block ends or ``lifetime``
    runs out, handing each to ``handle``; the sockets it returns are kept open until the end."""
    listener = loopback_listener()
    stop = threading.Event()
    held: list[socket.socket] = []
    deadline = time.monotonic() + lifetime

    def accept() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.extend(handle(conn))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            with suppress(OSError):
                conn.close()


@contextmanager
def misbehaving_server(mode: str, received: threading.Event | None = None) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server that ``stall``s (accepts, reads, never answers),
    ``close``s (accepts, reads the request, closes the connection without a byte) or answers
    ``half`` (a 200 promising 1 MiB, 4 KiB of it, then silence). ``received`` is set once a
    request has been read."""
    assert mode in ("stall", "close", "half")

    def misbehave(conn: socket.socket) -> list[socket.socket]:
        conn.settimeout(1.0)
        with suppress(OSError):
            conn.recv(65536)
        if received is not None:
            received.set()
        if mode == "close":
            conn.close()
            return []
        if mode == "half":
            with suppress(OSError):
                conn.sendall(HALF_ANSWER)
        return [conn]  # kept open, never (fully) answered

    with serving(misbehave) as port:
        yield f"http://127.0.0.1:{port}"
