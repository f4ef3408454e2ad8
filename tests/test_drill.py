"""``runbook drill``: the whole procedure end to end on the embedded sandbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

from runbook_helpers.sandbox import sandbox_environment
from tests.test_storage_support import run_cli


def test_drill_end_to_end(tmp_path: Path) -> None:
    env = sandbox_environment(None, None)
    env["RUNBOOK_PG"] = os.environ.get("RUNBOOK_PG", "local")
    report = tmp_path / "r.json"
    res = run_cli(
        ["drill", "--scale", "0.2", "--report", str(report), "--workdir", str(tmp_path / "w")], env
    )
    assert res.status == 0, res.stdout + res.stderr
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["within_target"] is True
    names = [s["name"] for s in data["steps"]]
    assert names == ["sandbox", "seed", "backup", "list", "fetch", "inspect", "restore", "verify"]
    assert all(s["ok"] for s in data["steps"])
    assert data["rows"]["public.messages"] == {"expected": 8000, "actual": 8000}
    assert data["versions"]["archive"] == "1.14" and data["sizes"]["archive_bytes"] > 0
    assert "drill OK" in res.stdout and "DEP-04" in res.stdout


def test_drill_real_mode_without_backups_stops_at_list(
    pg_url: str, sandbox_env: dict[str, str], tmp_path: Path, r2_clean: object
) -> None:
    """Real mode with an empty bucket stops at `list` (NotFound) and restores nothing."""
    env = {**sandbox_env, "RUNBOOK_DRILL_TARGET_URL": pg_url, "AWS_PROFILE": "r2-vlvt"}
    res = run_cli(["drill", "--report", str(tmp_path / "r.json")], env)
    assert res.status == 3, res.stdout + res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["mode"] == "real" and data["ok"] is False
    assert [s["skipped"] for s in data["steps"]] == [False, True, True, True]
