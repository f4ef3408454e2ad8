"""Progress display for long commands (fetch, restore): the library reports bytes through a
callback; this module draws them.

On a terminal: one redrawn line with a bar, bytes done / total, rate and ETA. Anywhere else
(pipes, CI logs, tests): no bar at all; the commands print one line per stage instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runbook_helpers.cli.output import Output
from runbook_helpers.human import human_size

_CLEAR = "\r\033[K"


def eta_text(seconds: float | None) -> str:
    """``ETA 1:05`` (minutes:seconds), ``ETA 1:02:03`` past an hour, ``ETA ?`` unknown."""
    if seconds is None or seconds < 0:
        return "ETA ?"
    s = int(seconds + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


class ProgressBar:
    """One redrawn line on stderr. ``add(n)`` for increments (s3transfer's ``Callback``),
    ``set(done)`` for totals so far (restore's ``on_bytes``); ``note(text)`` prints a line
    above the bar; thread-safe."""

    def __init__(
        self, out: Output, total: int, label: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._out = out
        self.total = total
        self._label = label
        self._done = 0
        self._clock = clock
        self._started = clock()
        self._last = -1.0
        self._lock = threading.Lock()
        self._drawn = False

    def __call__(self, amount: int) -> None:
        self.add(amount)

    def add(self, amount: int) -> None:
        with self._lock:
            self._done += amount
            self._draw()

    def set(self, done: int) -> None:
        with self._lock:
            self._done = done
            self._draw()

    def render(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-6)
        rate = self._done / elapsed
        if self.total > 0:
            frac = min(1.0, self._done / self.total)
            filled = int(frac * 20)
            eta = (self.total - self._done) / rate if rate > 0 else None
            return (
                f"{self._label} [{'#' * filled}{'.' * (20 - filled)}] {100 * frac:5.1f}% "
                f"{human_size(self._done)} / {human_size(self.total)} "
                f"{human_size(int(rate))}/s {eta_text(eta)}"
            )
        return f"{self._label} {human_size(self._done)} {human_size(int(rate))}/s"

    def _draw(self) -> None:
        now = self._clock()
        if now - self._last < 0.2 and not (self.total and self._done >= self.total):
            return
        self._last = now
        self._out.stderr.write(_CLEAR + self.render())
        self._out.stderr.flush()
        self._drawn = True

    def note(self, text: str) -> None:
        """A stage line, printed above the bar (which is redrawn on the next update)."""
        with self._lock:
            self._out.stderr.write((_CLEAR if self._drawn else "") + text + "\n")
            self._out.stderr.flush()
            self._drawn = False
            self._last = -1.0

    def finish(self) -> None:
        with self._lock:
            if self._drawn:
                self._out.stderr.write(_CLEAR)
                self._out.stderr.flush()
            self._drawn = False


def progress_for(out: Output, total: int, label: str) -> ProgressBar | None:
    """A progress bar on a terminal; None (no bar at all) otherwise, e.g. in tests and pipes."""
    return ProgressBar(out, total, label) if out.is_tty else None
