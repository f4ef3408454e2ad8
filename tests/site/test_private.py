"""The public build holds no phone number and no e-mail address (docs/drills.md, "Who may read
the site"): the contact list is filled in only by a private build (``RUNBOOK_CONTACTS``).

Every text file of the site is scanned: the pages, the search index, our scripts, the sitemap;
only the theme's own files, byte for byte as mkdocs-material ships them (its bundle handles
``tel:`` links, a lunr segmenter credits its author's address), are not ours to scan.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import material
import pytest

from tests.support.site_build import build_site

ROOT = Path(__file__).resolve().parents[2]
THEME = Path(material.__file__).resolve().parent / "templates"
TEXT_FILES = {".html", ".js", ".json", ".xml", ".css", ".txt", ".svg"}
# +49 30 1234 5678, +1 (555) 010-0199, 555-010-0199, (555) 010 0199, tel: links
PHONE = re.compile(
    r"tel:|\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){2,4}\b"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}\b|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
)
EMAIL = re.compile(r"mailto:|[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# user@host in a connection string or URL (postgresql://drill@scratch-db.internal/...) is no
# address anyone is reached at
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


def personal_data(site: Path) -> list[str]:
    """Every phone number or e-mail address in the site's text files, as ``file: match``."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in TEXT_FILES or not path.is_file():
            continue
        name = path.relative_to(site).as_posix()
        shipped = THEME / name
        if shipped.is_file() and shipped.read_bytes() == path.read_bytes():
            continue
        text = path.read_text(errors="replace")
        found += [f"{name}: phone {m[0]!r}" for m in PHONE.finditer(text) if _digits(m[0]) >= 8]
        found += [f"{name}: e-mail {m[0]!r}" for m in EMAIL.finditer(URL.sub(" ", text))]
    return found


def _digits(text: str) -> int:
    return 8 if text == "tel:" else sum(c.isdigit() for c in text)


def build(out: Path, contacts: Path | None = None) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_CONTACTS"}
    if contacts is not None:
        env["RUNBOOK_CONTACTS"] = str(contacts)
    return build_site(out, env)


@pytest.fixture(scope="module")
def public_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("public") / "site")


def test_the_public_build_has_no_phone_number_or_email(public_site: Path) -> None:
    assert (public_site / "search" / "search_index.json").is_file()
    assert (public_site / "drills" / "index.html").is_file()
    assert personal_data(public_site) == []


def test_the_public_drills_page_says_where_the_contacts_are(public_site: Path) -> None:
    page = (public_site / "drills" / "index.html").read_text()
    assert "private contact list" in page
    assert "RUNBOOK_CONTACTS" not in page.split("Emergency contacts")[-1].split("</article>")[0]


def test_a_private_build_holds_the_list_and_the_scan_finds_it(tmp_path: Path) -> None:
    """The scan is what fails a public build that carries the list: proven on a private one."""
    contacts = tmp_path / "contacts.md"
    contacts.write_text(
        "| Role | Name | Phone | E-mail |\n| --- | --- | --- | --- |\n"
        "| Incident commander | Ada Example | +1 555 010 0199 | ada@example.com |\n"
    )
    site = build(tmp_path / "site", contacts)
    page = (site / "drills" / "index.html").read_text()
    assert "Ada Example" in page
    found = personal_data(site)
    assert "drills/index.html: phone '+1 555 010 0199'" in found
    assert "drills/index.html: e-mail 'ada@example.com'" in found
    assert any(f.startswith("search/search_index.json: e-mail") for f in found)


def test_the_scan_ignores_connection_strings_and_counts(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        "postgresql://drill@scratch-db.internal/vlvt_drill 127.0.0.1:5432 2026-12-07 "
        "1,234,567 rows +00:00"
    )
    assert personal_data(tmp_path) == []
    (tmp_path / "b.js").write_text('x = "mailto:oncall@vlvt.example"; y = "+44 20 7946 0958"')
    assert len(personal_data(tmp_path)) == 3
