"""Where the CLI writes: swappable streams so tests can capture them."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass
class Output:
    """The CLI's streams and whether stderr is a terminal (progress bars only on a TTY)."""

    stdout: TextIO
    stderr: TextIO
    is_tty: bool = False

    @classmethod
    def from_system(cls) -> Output:
        return cls(sys.stdout, sys.stderr, sys.stderr.isatty())

    def line(self, text: str = "") -> None:
        """One line of normal output (stdout)."""
        print(text, file=self.stdout, flush=True)

    def info(self, text: str) -> None:
        """Progress and timing notes (stderr, so stdout stays pipeable)."""
        print(text, file=self.stderr, flush=True)

    def json(self, value: Any) -> None:
        print(json.dumps(value, indent=2, sort_keys=False, default=str), file=self.stdout)

    def error(self, message: str, hint: str = "") -> None:
        """``runbook: error: what is wrong`` then ``runbook: hint: what to do``."""
        print(f"runbook: error: {message}", file=self.stderr, flush=True)
        if hint:
            print(f"runbook: hint: {hint}", file=self.stderr, flush=True)
