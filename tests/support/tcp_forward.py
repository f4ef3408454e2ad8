"""A loopback TCP forward, as ``railway connect --tunnel-only`` or ``ssh -L`` gives a reader:
``localhost:PORT`` carrying the bytes to and from another server (bounded, self-stopping)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.support.tcp_servers import serving

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

    def relay(client: socket.socket) -> list[socket.socket]:
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            client.close()
            return []
        upstream.settimeout(None)
        client.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()
        return [client, upstream]

    with serving(relay, LIFETIME) as local_port:
        yield local_port
