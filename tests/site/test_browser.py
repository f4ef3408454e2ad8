"""The built site in a real browser (Debian's headless Chromium): what a reader copies and sees.

Every copy button on every page is clicked and the clipboard compared with the commands the
docs tests executed (the ledger); no test syntax (``[..]``, ``? N``, a lone ``...``) may reach
a code block; every page carries its verification stamp, and the versions it names are the ones
the page's own transcripts show; search finds ``pg_restore``; every
internal link resolves; every resource of every page loads (no 404, no failed request, no
console error); desktop and mobile screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.site.conftest import serve
from tests.site.pages import page_paths

COPY_BUTTONS = 'button.md-clipboard, button.md-code__button[data-md-type="copy"]'
SENTINEL = "<clipboard not written>"
# [..], a "? N" status line, a lone "..." line, or a test placeholder such as [ENDPOINT]
TEST_SYNTAX = re.compile(
    r"\[\.\.\]|^\? (\d+|failed)\s*$|^\.\.\.$|\[(?!REDACTED\])[A-Z][A-Z0-9_]*\]", re.MULTILINE
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

Ledger = dict[tuple[str, int], dict[str, Any]]


def _open(browser: Any, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    # the theme adds its copy buttons from JavaScript after load
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script(
            "const blocks = document.querySelectorAll('div.highlight:not(.rb-example)');"
            f"return [...blocks].every(b => b.querySelector('{COPY_BUTTONS}'));"
        )
    )


def _clipboard(browser: Any, write: str | None = None) -> str:
    script = "const done = arguments[arguments.length - 1];" + (
        "navigator.clipboard.writeText(arguments[0]).then(() => done(''), e => done('!' + e));"
        if write is not None
        else "navigator.clipboard.readText().then(done, e => done('!' + e));"
    )
    result: str = browser.execute_async_script(script, *([write] if write is not None else []))
    assert not result.startswith("!"), f"clipboard access failed: {result}"
    return result


@pytest.fixture(scope="module")
def pages(site: Path) -> list[str]:
    found = page_paths(site)
    assert len(found) >= 10, found
    return found


@pytest.fixture(scope="module")
def clipboard_browser(browser: Any, base_url: str) -> Any:
    origin = base_url.rstrip("/")
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    return browser


def test_every_copy_button_copies_the_executed_commands(
    clipboard_browser: Any, base_url: str, pages: list[str], ledger: Ledger
) -> None:
    browser = clipboard_browser
    checked = executed = 0
    problems: list[str] = []
    for path in pages:
        _open(browser, base_url + path)
        for block in browser.find_elements(By.CSS_SELECTOR, "div.highlight"):
            buttons = block.find_elements(By.CSS_SELECTOR, COPY_BUTTONS)
            classes = (block.get_attribute("class") or "").split()
            where = f"{path or 'index'} {block.get_attribute('data-rb-file')}:" + str(
                block.get_attribute("data-rb-line")
            )
            if "rb-example" in classes:
                visible = [b for b in buttons if b.is_displayed()]
                if visible:
                    problems.append(f"{where}: a refusal example has a visible copy button")
                continue
            if not buttons:
                problems.append(f"{where}: no copy button")
                continue
            _clipboard(browser, write=SENTINEL)
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", block)
            ActionChains(browser).move_to_element(block).click(buttons[0]).perform()
            WebDriverWait(browser, 5).until(lambda d: _clipboard(d) != SENTINEL)
            copied = _clipboard(browser)
            if "rb-block" in classes:
                key = (
                    block.get_attribute("data-rb-file"),
                    int(block.get_attribute("data-rb-line")),
                )
                entry = ledger.get(key)
                if entry is None or not entry.get("commands"):
                    problems.append(f"{where}: no commands in the ledger for this block")
                    continue
                expected = "\n".join(entry["commands"])
                executed += entry["status"] in ("passed", "failed")
            else:  # a shown-only block (text, json, ...): the copy is the block itself
                expected = block.find_element(By.TAG_NAME, "code").get_attribute("textContent")
            checked += 1
            if copied.rstrip("\n") != expected.rstrip("\n"):
                problems.append(f"{where}: copied {copied!r}, expected {expected!r}")
    assert not problems, "\n".join(problems)
    assert checked > 30 and executed > 20, (checked, executed)


def test_no_test_syntax_and_a_stamp_on_every_page(
    browser: Any, base_url: str, pages: list[str]
) -> None:
    problems = []
    for path in pages:
        _open(browser, base_url + path)
        for pre in browser.find_elements(By.CSS_SELECTOR, "pre"):
            text = pre.get_attribute("textContent") or ""
            if match := TEST_SYNTAX.search(text):
                problems.append(f"{path or 'index'}: test syntax {match[0]!r} in {text[:120]!r}")
        stamps = browser.find_elements(By.CSS_SELECTOR, "article .rb-stamp")
        if len(stamps) != 1 or not stamps[0].text.strip():
            problems.append(f"{path or 'index'}: {len(stamps)} verification stamp(s)")
        elif not stamps[0].text.startswith(("Tested ", "No commands on this page")):
            problems.append(f"{path or 'index'}: not verified: {stamps[0].text}")
    assert not problems, "\n".join(problems)


STAMP_VERSION = re.compile(r"(PostgreSQL|pg_dump|pg_restore|psql|aws-cli) (\d[\w.]*)")


def _stamp_versions(browser: Any, url: str) -> dict[str, str]:
    """Tool -> version, as the published page's stamp names them."""
    _open(browser, url)
    text = browser.find_element(By.CSS_SELECTOR, "article .rb-stamp").text
    return dict(STAMP_VERSION.findall(text))


def _recorded(ledger: Ledger, file: str, command: str, pattern: str) -> str:
    """The first group of ``pattern`` in the recorded output of ``file``'s ``command`` step."""
    for (page, _), block in sorted(ledger.items()):
        for text, output in zip(block["commands"], block["outputs"], strict=False):
            if page == file and text.startswith(command):
                found = re.search(pattern, output, re.MULTILINE)
                assert found, f"{file}: {command!r} printed no {pattern!r}:\n{output}"
                return found[1]
    pytest.fail(f"{file}: no recorded output of {command!r}: run the docs tests first")


def test_each_stamp_names_what_its_own_transcripts_ran(
    browser: Any, base_url: str, ledger: Ledger
) -> None:
    """The stamp names the server and tools the page's blocks used (its own PATH and PG*), so
    it agrees with what the page's transcripts print, not with the suite's default server."""
    restore = _stamp_versions(browser, base_url + "restore/")
    local = _recorded(ledger, "docs/restore.md", "runbook inspect", r"^local pg_restore +(\d+) ")
    assert restore["pg_restore"].split(".")[0] == local, restore  # 16, as `inspect` shows
    index = _stamp_versions(browser, base_url)
    preflight = "runbook preflight"
    server = _recorded(ledger, "docs/index.md", preflight, r"reachable \(PostgreSQL ([\d.]+)\)")
    pg_restore = _recorded(ledger, "docs/index.md", preflight, r"tools +pg_restore (\d+) reads")
    psql = _recorded(ledger, "docs/index.md", preflight, r"^\w+ +psql +psql ([\d.]+)")
    aws = _recorded(ledger, "docs/index.md", preflight, r"aws-cli ([\d.]+)")
    assert index["PostgreSQL"] == server, index
    assert index["pg_restore"].split(".")[0] == pg_restore, index
    assert (index["psql"], index["aws-cli"]) == (psql, aws), index


def test_search_finds_pg_restore(browser: Any, base_url: str) -> None:
    _open(browser, base_url)
    browser.find_element(By.TAG_NAME, "body").send_keys("/")  # the theme's search shortcut
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    WebDriverWait(browser, 5).until(lambda d: box.is_displayed())
    box.send_keys("pg_restore")
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    )
    results = browser.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    assert any("pg_restore" in (r.get_attribute("textContent") or "") for r in results)
    box.send_keys(Keys.ESCAPE)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))


def _parse(url: str) -> _Links:
    with urllib.request.urlopen(url, timeout=10) as response:
        parser = _Links()
        parser.feed(response.read().decode())
        return parser


def test_every_internal_link_resolves(base_url: str, pages: list[str]) -> None:
    parsed = {base_url + p: _parse(base_url + p) for p in pages}
    broken = []
    for page, links in parsed.items():
        for href in links.hrefs:
            url, fragment = urldefrag(urljoin(page, href))
            if urlparse(url).netloc != urlparse(base_url).netloc:
                continue
            try:
                target = parsed.get(url) or _parse(url) if url.endswith("/") else None
                if target is None:
                    urllib.request.urlopen(url, timeout=10).close()
            except urllib.error.URLError as exc:
                broken.append(f"{page}: {href} -> {exc}")
                continue
            if fragment and target is not None and fragment not in target.ids:
                broken.append(f"{page}: {href} -> no #{fragment} on {url}")
    assert not broken, "\n".join(broken)


_COMMAND_OUTSIDE_BLOCK = """
const cut = [];
for (const code of document.querySelectorAll('.rb-block pre > code')) {
  const right = code.closest('pre').getBoundingClientRect().right;
  for (const span of code.querySelectorAll('span')) {
    if (span.closest('.go')) continue;
    for (const r of span.getClientRects()) {
      if (r.right > right + 1) cut.push(span.textContent.slice(0, 40));
    }
  }
}
return cut;
"""


@pytest.mark.parametrize(
    ("name", "width", "height"), [("desktop", 1280, 900), ("mobile", 390, 844)]
)
def test_screenshots(browser: Any, base_url: str, name: str, width: int, height: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(width, height)
    try:
        for path in ("", "restore/", "troubleshooting/"):
            _open(browser, base_url + path)
            # every part of a command is visible (wrapped); only recorded output may scroll
            hidden = browser.execute_script(_COMMAND_OUTSIDE_BLOCK)
            assert not hidden, f"{path or 'index'} ({name}): commands cut off: {hidden}"
            if path == "restore/":  # a transcript with its marker and recorded output
                browser.execute_script(
                    "document.querySelector('.language-console').scrollIntoView({block: 'center'})"
                )
                time.sleep(0.5)  # let the sticky header finish its title transition
            file = SCREENSHOTS / f"{name}-{path.strip('/') or 'index'}.png"
            assert browser.save_screenshot(str(file)), file
    finally:
        browser.set_window_size(1280, 900)


def _load_problems(browser: Any, url: str) -> list[str]:
    """Open ``url`` and say what did not load: every HTTP status of 400 and up, every request
    that failed, and every console error (the browser's and the performance log's own words)."""
    browser.get_log("performance")  # drop what earlier pages left
    browser.get_log("browser")
    browser.get(url)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    time.sleep(0.3)  # late requests (search worker, fonts) reach the log
    problems = []
    requests: dict[str, str] = {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            requests[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived":
            status = int(params["response"]["status"])
            if status >= 400:
                problems.append(f"HTTP {status}: {params['response']['url']}")
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            where = requests.get(params["requestId"], params["requestId"])
            problems.append(f"failed ({params.get('errorText')}): {where}")
    problems += [
        f"console {e['level']}: {e['message']}"
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE"
    ]
    return problems


def test_every_resource_of_every_page_loads(browser: Any, base_url: str, pages: list[str]) -> None:
    problems = [
        f"{path or 'index'}: {problem}"
        for path in [*pages, "404.html"]
        for problem in _load_problems(browser, base_url + path)
    ]
    assert not problems, "\n".join(problems)


@pytest.fixture
def broken_site(tmp_path: Path) -> Iterator[str]:
    """A page with a missing image and a page with a script error, served like the site."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "here.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    )
    head = '<!doctype html><html><head><link rel="icon" href="data:,"><title>t</title></head>'
    (tmp_path / "index.html").write_text(
        head + '<body><img src="images/here.svg" alt="loads"><img src="images/bench.svg" '
        'alt="missing"></body></html>'
    )
    (tmp_path / "script.html").write_text(
        head + "<body><script>undefinedFunction()</script></body></html>"
    )
    with serve(tmp_path, "/vlvt-runbooks/") as url:
        yield url


def test_a_missing_image_or_a_script_error_fails_the_page(browser: Any, broken_site: str) -> None:
    """The check above is no check unless it catches the chart's old 404, and a script error."""
    missing = f"{broken_site}images/bench.svg"
    assert _load_problems(browser, broken_site) == [
        f"HTTP 404: {missing}",
        f"console SEVERE: {missing} - Failed to load resource: the server responded with a "
        "status of 404 (File not found)",
    ]
    (error,) = _load_problems(browser, broken_site + "script.html")
    assert error.startswith("console SEVERE: ") and "undefinedFunction" in error
