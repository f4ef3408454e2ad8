"""Is a restore target production? Decided from the host libpq will really connect to.

libpq takes each parameter from the connection string first, then from the service named by
``service`` / ``PGSERVICE`` (``pg_service.conf``), then from the environment (``PGHOST``,
``PGHOSTADDR``). The guard follows the same order, so ``postgresql:///x`` with
``PGHOST=db.proxy.rlwy.net`` is production although the URL names no host. Hosts are compared
without case and without a trailing dot against :data:`PRODUCTION_HOST_GLOBS` and the globs in
``$RUNBOOK_PRODUCTION_HOSTS`` (comma or space separated).
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
from collections.abc import Mapping
from pathlib import Path

PRODUCTION_HOST_GLOBS: tuple[str, ...] = (
    "*.railway.internal",
    "*.proxy.rlwy.net",
    "*.rlwy.net",
    "*.up.railway.app",
)
PRODUCTION_ENV = "RUNBOOK_PRODUCTION_HOSTS"


def production_globs(extra: str | None = None) -> list[str]:
    """The built-in globs plus those of ``$RUNBOOK_PRODUCTION_HOSTS`` (or ``extra``)."""
    extra = os.environ.get(PRODUCTION_ENV, "") if extra is None else extra
    return list(PRODUCTION_HOST_GLOBS) + [g for g in re.split(r"[\s,]+", extra) if g]


def service_params(name: str) -> dict[str, str]:
    """The parameters of service ``name`` in the first pg_service.conf that defines it."""
    files = [os.environ.get("PGSERVICEFILE") or str(Path.home() / ".pg_service.conf")]
    sysconf = os.environ.get("PGSYSCONFDIR")
    files.append(str(Path(sysconf) / "pg_service.conf") if sysconf else "/etc/pg_service.conf")
    files.append("/etc/postgresql-common/pg_service.conf")
    for path in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        if parser.has_section(name):
            return {k.lower(): v.strip() for k, v in parser.items(name)}
    return {}


def effective_hosts(params: Mapping[str, str]) -> list[str]:
    """Every host and hostaddr libpq would try for ``params`` (URL, service, environment)."""
    service = params.get("service") or os.environ.get("PGSERVICE", "")
    from_service = service_params(service) if service else {}
    found: list[str] = []
    for key, env in (("host", "PGHOST"), ("hostaddr", "PGHOSTADDR")):
        value = params.get(key) or from_service.get(key) or os.environ.get(env, "")
        found += [h.strip() for h in value.split(",") if h.strip()]
    return found


def normalise_host(host: str) -> str:
    """``DB.Proxy.RLWY.net.`` -> ``db.proxy.rlwy.net`` (DNS is case-blind; a final dot is root)."""
    return host.strip().rstrip(".").lower()


def production_match(params: Mapping[str, str], extra: str | None = None) -> tuple[str, str] | None:
    """``(host, glob)`` for the first effective host matching a production glob, else None."""
    globs = [normalise_host(g) for g in production_globs(extra)]
    for host in effective_hosts(params):
        name = normalise_host(host)
        for pattern in globs:
            if name and fnmatch.fnmatchcase(name, pattern):
                return host, pattern
    return None
