"""``nox -s bench``'s first figures: how long the test suite and one docs page take.

Times, on this machine and its installed environment (the venv install is not counted), the
``nox -s tests`` pytest command (passed on the command line by the noxfile, so it is the same
one) and one docs page with the pages it starts after (``pytest docs/restore.md``). Writes
``build/suite.json``; ``run.py`` puts it in ``build/bench.json`` under ``suite`` and
``report.py`` shows it against the targets: the suite in 3 minutes, one page in 30 s, on 2
cores (issue 28).

    python benchmarks/suite.py build/suite.json -- pytest -n auto --dist loadfile ...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PAGE = "docs/restore.md"
TARGETS_S = {"tests": 180.0, "one_page": 30.0}


def timed(argv: list[str]) -> dict[str, Any]:
    """Run ``argv`` (output to the terminal) and say how long it took and how it ended."""
    load = os.getloadavg()[0]
    start = time.monotonic()
    done = subprocess.run(argv, check=False)
    seconds = time.monotonic() - start
    return {
        "argv": argv,
        "seconds": round(seconds, 1),
        "exit": done.returncode,
        "loadavg_1m_at_start": round(load, 2),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    command = argv[argv.index("--") + 1 :]
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "tests": timed([sys.executable, "-m", *command]),
        "one_page": timed([sys.executable, "-m", "pytest", PAGE, "-q", "-p", "no:cacheprovider"]),
        "targets_s": TARGETS_S,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, limit in TARGETS_S.items():
        run = result[name]
        verdict = "met" if run["seconds"] <= limit and run["exit"] == 0 else "NOT met"
        seconds, status = run["seconds"], run["exit"]
        print(f"suite: {name} {seconds:.0f} s (exit {status}), target {limit:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
