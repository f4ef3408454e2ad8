"""What the browser test reads off the built site: its pages and its blocks."""

from __future__ import annotations

from pathlib import Path


def page_paths(site: Path) -> list[str]:
    """Every page of the site as a URL path ("", "restore/", ...), 404 page excluded."""
    paths = []
    for index in sorted(site.rglob("index.html")):
        rel = index.parent.relative_to(site).as_posix()
        if rel.startswith(("assets", "search")):
            continue
        paths.append("" if rel == "." else rel + "/")
    return paths
