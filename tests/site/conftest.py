"""Fixtures for the site tests: the built site (with the docs run's ledger), a local HTTP
server on 127.0.0.1, and Debian's headless Chromium driven by Selenium (never downloaded).

A missing browser is a failure, not a skip: CI installs ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support.site_build import build_site

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
LEDGER = ROOT / "build" / "docs-ledger.json"
CHROMIUM = os.environ.get("RUNBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RUNBOOK_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def ledger() -> dict[tuple[str, int], dict[str, Any]]:
    """The docs run's ledger (``nox -s tests`` writes it); the site is built from it."""
    if not LEDGER.is_file():
        pytest.fail(f"no {LEDGER.relative_to(ROOT)}: run the docs tests first (nox -s tests)")
    blocks = json.loads(LEDGER.read_text())["blocks"]
    return {(b["file"], b["line"]): b for b in blocks}


@pytest.fixture(scope="session")
def site(ledger: dict[tuple[str, int], dict[str, Any]]) -> Path:
    """``mkdocs build --strict`` into build/site, with the ledger of the last docs run.

    ``RUNBOOK_SITE_DIR`` names a site built elsewhere instead (e.g. with another theme version,
    from the same ledger), to run the same checks on it.
    """
    if os.environ.get("RUNBOOK_SITE_DIR"):
        return Path(os.environ["RUNBOOK_SITE_DIR"]).resolve()
    return build_site(SITE)


def _site_path() -> str:
    """The path the site is published under (``site_url``'s, e.g. ``/vlvt-runbooks/``): the
    404 page links its assets absolutely, so the test server serves the site there too."""
    config = (ROOT / "mkdocs.yml").read_text()
    url = re.search(r"^site_url: *(\S+)", config, re.MULTILINE)
    return urlparse(url[1]).path.rstrip("/") + "/" if url else "/"


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1 (a free port) for the session, under its path."""
    with serve(site, _site_path()) as url:
        yield url


@contextlib.contextmanager
def serve(directory: Path, path: str = "/") -> Iterator[str]:
    """``directory`` over HTTP on 127.0.0.1 at ``path``; anything outside ``path`` is a 404."""
    handler = functools.partial(_QuietHandler, path, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, prefix: str, *args: Any, **kwargs: Any) -> None:
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "\0not-published")  # never a file: a 404
        return super().translate_path("/" + path.removeprefix(self.prefix))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium with clipboard access granted (fails when not installed)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"no browser for the site test: {', '.join(missing)} not found; "
            "install Debian's chromium and chromium-driver (apt-get install chromium "
            "chromium-driver) or set RUNBOOK_CHROMIUM / RUNBOOK_CHROMEDRIVER"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="runbook-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROME_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"]:
        options.add_argument(flag)
    # the console and the network log: every resource of a page must load (test_browser.py)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
