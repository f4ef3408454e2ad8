"""Run PostgreSQL's server programs, as an unprivileged user when we are root.

PostgreSQL refuses to run as root, so when we are root ``initdb``, ``pg_ctl`` and ``postgres``
run as the ``postgres`` user (else ``nobody``) through ``runuser -u``, and the directories they
write are chowned to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runbook_helpers.sandbox import SandboxError

# Unprivileged accounts tried, in order, for running the server when we are root.
SERVER_USERS = ("postgres", "nobody")


@dataclass(frozen=True)
class RunAs:
    """Runs server programs, as an unprivileged user when we are root."""

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    name: str = ""

    @classmethod
    def detect(cls) -> RunAs:
        """The current user when not root, else ``runuser -u postgres`` (or ``nobody``)."""
        if os.geteuid() != 0:
            return cls()
        runuser = shutil.which("runuser")
        if runuser is None:
            raise SandboxError(
                "running as root and runuser(1) is missing: PostgreSQL refuses to run as root",
                hint="run the tests as an ordinary user, or install util-linux (runuser)",
            )
        for name in SERVER_USERS:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls((runuser, "-u", name, "--"), entry.pw_uid, entry.pw_gid, name)
        raise SandboxError(
            f"running as root and none of the users {', '.join(SERVER_USERS)} exists: "
            "PostgreSQL refuses to run as root",
            hint="create one (useradd --system postgres) or run as an ordinary user",
        )

    def chown(self, path: Path) -> None:
        """Give ``path`` to the server user (no-op when not root)."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def run(
        self, args: list[str], *, cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` as the server user, without inherited ``PG*`` variables, ``LC_ALL=C``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self.prefix, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def can_use(self, path: Path, test: str) -> bool:
        """Whether the server user passes ``test -<test> path`` (``x`` for dirs, ``w`` ...)."""
        if not self.prefix:
            return True
        return self.run(["test", f"-{test}", str(path)], cwd=Path("/")).returncode == 0
