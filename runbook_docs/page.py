"""A page's run state: its environment, its shell, and which failed block blocks the rest."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from runbook_docs.contract import PageEnv
from runbook_docs.leftovers import Leftovers, record_leftovers
from runbook_docs.shell import PageShell
from runbook_docs.versions import probe_versions
from runbook_helpers.redact import redact_text

SECRET_ENV_VARS = ("AWS_SECRET_ACCESS_KEY", "PGPASSWORD")


def bare_env() -> PageEnv:
    """The environment when no plugin provides one: this process's env, a fresh tmp dir."""
    cwd = Path(tempfile.mkdtemp(prefix="runbook-page-"))
    return PageEnv(
        env=dict(os.environ), cwd=cwd, close=lambda: shutil.rmtree(cwd, ignore_errors=True)
    )


class PageRun:
    """Started by the page's first executed block, closed after its last item."""

    def __init__(
        self,
        display: str,
        make_env: Callable[[], PageEnv | None],
        probes: Mapping[str, Sequence[str]] | None = None,
        record_versions: Callable[[dict[str, str]], None] = lambda versions: None,
        keep_leftovers: bool = False,
    ) -> None:
        self.display = display
        self._make_env = make_env
        self._probes = probes or {}
        self._record_versions = record_versions
        self._keep_leftovers = keep_leftovers
        self.leftovers: Leftovers | None = None  # what the run left, if ``keep_leftovers``
        self.env: PageEnv | None = None
        self.shell: PageShell | None = None
        self.blocked_by: str | None = None
        self.secrets: list[str] = [v for k in SECRET_ENV_VARS if (v := os.environ.get(k))]

    def start(self) -> PageEnv:
        if self.env is None:
            env = self._make_env() or bare_env()
            self.env = env
            self.secrets += env.secrets
            self.secrets += [v for k in SECRET_ENV_VARS if (v := env.env.get(k))]
        return self.env

    def get_shell(self) -> PageShell:
        env = self.start()
        if self.shell is None:
            self.shell = PageShell(env.env, env.cwd)
        return self.shell

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def close(self) -> None:
        """Read the ``probes``' versions in the environment the shell ended with (its exports
        and working directory; the start environment if the shell is gone) and, if asked,
        what the page left behind (``leftovers``), then close the shell, then the environment
        (also after failures)."""
        shell, env = self.shell, self.env
        self.shell = self.env = None
        try:
            if shell is not None and env is not None and (self._probes or self._keep_leftovers):
                env_now, cwd = shell.snapshot() or (env.env, env.cwd)
                if self._keep_leftovers:
                    self.leftovers = record_leftovers(env_now, env.cwd)
                if self._probes:
                    self._record_versions(probe_versions(self._probes, env_now, cwd))
        finally:
            try:
                if shell is not None:
                    shell.close()
            finally:
                if env is not None:
                    env.close()
