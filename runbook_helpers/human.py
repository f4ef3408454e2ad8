"""Human-readable sizes, ages and times, shared by the commands and the checks they print."""

from __future__ import annotations

from datetime import UTC, datetime


def human_size(size: int) -> str:
    """``117.3 MiB``-style sizes (binary units)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_age(when: datetime, now: datetime | None = None) -> str:
    """``45 s ago``, ``12 min ago``, ``2 h ago``, ``3 d ago`` (``in ...`` for the future)."""
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    suffix = "ago"
    if seconds < 0:
        seconds, suffix = -seconds, "ahead"
    if seconds < 120:
        text = f"{int(seconds)} s"
    elif seconds < 2 * 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 2 * 86400:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86400)} d"
    return f"{text} {suffix}"


def iso(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and Z (the template's timestamp style)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
