"""A loopback TCP forward, as ``railway connect --tunnel-only`` or ``ssh -L`` gives a reader:
``localhost:PORT`` carrying the bytes to and from another server (bounded, self-stopping)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.support.tcp_servers import loopback_listener

LIFETIME = 300.0  # seconds; the forward stops accepting by itself after this


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def tcp_forward(host: str, port: int) -> Iterator[int]:
    """A port on 127.0.0.1 whose connections are relayed to ``host:port``, both ways."""
    listener = loopback_listener()
    stop = threading.Event()
    opened: list[socket.socket] = []
    deadline = time.monotonic() + LIFETIME

    def accept() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection((host, port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            opened.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in opened:
            with suppress(OSError):
                conn.close()
