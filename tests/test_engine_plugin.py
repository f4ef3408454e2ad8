"""The docs engine end to end: inner pytest runs (pytester) over sample Markdown pages."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_helpers.sandbox.postgres import PostgresServer

pytest_plugins = ["pytester"]

SAMPLES = Path(__file__).parent / "engine_samples"
SECRET = "s3cr3t-value-42"
PAGE_ENV_CONFTEST = f'''
import os, tempfile
from pathlib import Path
from runbook_docs.contract import PageEnv

CLOSED = Path(os.environ["RUNBOOK_TEST_CLOSED"])

def pytest_runbook_page_env(page, config):
    cwd = Path(tempfile.mkdtemp(prefix="page-"))
    env = dict(os.environ, API_TOKEN="{SECRET}")
    return PageEnv(env=env, cwd=cwd, placeholders={{"BUCKET": "my-bucket"}},
                   secrets=["{SECRET}"], close=lambda: CLOSED.write_text(page.name))
'''


class Docs:
    """Write pages into an inner project's docs/ and run the engine over them."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makeini("[pytest]\nrunbook_docs = docs\n")
        (pytester.path / "docs").mkdir()

    def page(self, name: str, text: str) -> Path:
        path = self.pytester.path / "docs" / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def sample(self, name: str) -> Path:
        return self.page(name, (SAMPLES / name).read_text())

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "runbook_docs.plugin", "-p", "no:cacheprovider", *args)

    def ledger(self) -> dict[tuple[str, int], dict[str, Any]]:
        data = json.loads((self.pytester.path / "build" / "docs-ledger.json").read_text())
        return {(e["file"], e["line"]): e for e in data["blocks"]}


@pytest.fixture
def docs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Docs:
    monkeypatch.setenv("RUNBOOK_TEST_CLOSED", str(pytester.path / "closed.txt"))
    return Docs(pytester)


def test_tour_passes_and_ledger_lists_every_fence(docs: Docs) -> None:
    docs.pytester.makeconftest(PAGE_ENV_CONFTEST)
    docs.sample("tour.md")
    result = docs.run("-v")
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*docs/tour.md::L5?bash? PASSED*",
            "*docs/tour.md::L42?hidden:bash? PASSED*",
            "docs: 7 blocks, 5 executed, 1 skipped, 1 hidden, 1 not-runnable",
        ]
    )
    ledger = docs.ledger()
    assert {line: e["status"] for (_, line), e in ledger.items()} == {
        5: "passed",
        11: "passed",
        33: "skipped",
        37: "not-runnable",
        42: "hidden",
        48: "passed",
        52: "passed",
    }
    assert ledger[("docs/tour.md", 33)]["reason"] == "needs the Railway dashboard"
    assert (docs.pytester.path / "closed.txt").read_text() == "tour.md"


def test_ledger_records_checked_commands_and_outputs(docs: Docs) -> None:
    docs.pytester.makeconftest(PAGE_ENV_CONFTEST)
    docs.sample("tour.md")
    docs.run().assert_outcomes(passed=5, skipped=1)
    ledger = docs.ledger()
    console = ledger[("docs/tour.md", 11)]
    assert console["checked"] == "output"
    assert console["commands"][0] == "greet world"
    assert console["commands"][-1] == "printf 'multi\\n' \\\n  | tr a-z A-Z"
    assert console["outputs"][0] == "hello world\n"
    assert console["outputs"][-1] == "MULTI\n"
    assert len(console["outputs"]) == len(console["commands"]) == 7
    bash = ledger[("docs/tour.md", 5)]
    assert bash["checked"] == "status"
    assert bash["commands"] == [(SAMPLES / "tour.md").read_text().split("```")[1][5:]]
    assert bash["outputs"] == [""]
    skipped = ledger[("docs/tour.md", 33)]
    assert (skipped["checked"], skipped["commands"], skipped["outputs"]) == (
        "status",
        ["exit 1\n"],
        [],
    )
    shown = ledger[("docs/tour.md", 37)]
    assert (shown["checked"], shown["commands"], shown["outputs"]) == (None, [], [])
    assert ledger[("docs/tour.md", 52)]["checked"] == "status"


def test_failing_block_reports_excerpt_and_blocks_the_rest(docs: Docs) -> None:
    docs.sample("failing.md")
    result = docs.run()
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "docs/failing.md:7: bash block failed: exit status 1",
            "*  7 | ```bash",
            "*  9 | false",
            "output:",
            "about to fail",
        ]
    )
    result.stdout.no_fnmatch_line("not reached")
    result.stdout.no_fnmatch_line("*Traceback*")
    entry = docs.ledger()[("docs/failing.md", 13)]
    assert (entry["status"], entry["reason"]) == ("blocked", "blocked by docs/failing.md:7")


def test_console_mismatch_shows_diff_at_md_line(docs: Docs) -> None:
    docs.page(
        "page.md",
        """
        # Title

        ```console
        $ echo one
        one
        $ printf 'a\\nb\\n'
        a
        c
        ```
    """,
    )
    result = docs.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "docs/page.md:6: console step output differs",
            "> 6 | $ printf 'a\\nb\\n'",
            "--- docs/page.md:6 (expected)",
            "+++ docs/page.md:6 (actual)",
            " a",
            "-c",
            "+b",
        ]
    )


def test_unexpected_and_wrong_exit_status(docs: Docs) -> None:
    docs.page(
        "a.md",
        """
        ```console
        $ ls /does-not-exist >/dev/null 2>&1
        ```
    """,
    )
    docs.page(
        "b.md",
        """
        ```console
        $ true
        ? 1
        ```
    """,
    )
    result = docs.run()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*docs/a.md:2: console step failed: exit status 2, expected 0"])
    result.stdout.fnmatch_lines(["*docs/b.md:2: console step failed: exit status 0, expected 1"])


def test_unknown_placeholder_lists_known_ones(docs: Docs) -> None:
    docs.pytester.makeconftest(PAGE_ENV_CONFTEST)
    docs.page(
        "page.md",
        """
        ```console
        $ echo my-bucket
        [BUCKIT]
        ```
    """,
    )
    result = docs.run()
    result.assert_outcomes(failed=1)
    expected = "unknown placeholder [BUCKIT] in '[BUCKIT]'; known: [..], [BUCKET]"
    assert expected in result.stdout.str()


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("<!-- runbook: skip -->", 'docs/page.md:3: "runbook: skip" needs a reason*'),
        ('<!-- runbook: skip reason="" -->', 'docs/page.md:3: "runbook: skip" needs a reason*'),
        ("<!-- runbook: retries=3 -->", "docs/page.md:3: unknown runbook directive 'retries=3'*"),
        ("<!-- runbook: timeout=soon -->", "docs/page.md:3: timeout must be a positive*"),
    ],
)
def test_bad_directive_is_a_collection_error(docs: Docs, comment: str, message: str) -> None:
    docs.page("page.md", f"# T\n\n{comment}\n```bash\ntrue\n```\n")
    result = docs.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting docs/page.md*", message])


def test_timeout_kills_the_process_group(docs: Docs) -> None:
    docs.page(
        "page.md",
        """
        <!-- runbook: timeout=1 -->
        ```bash
        echo started
        sleep 61.123 &
        echo $! > sleeper.pid
        wait
        ```

        ```bash
        echo later
        ```
    """,
    )
    started = time.monotonic()
    result = docs.run()
    assert time.monotonic() - started < 15
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["docs/page.md:2: bash block failed: timed out after 1 s*", "started"]
    )
    # the page's cwd is gone; the sleeper's pid was written there, so look for it by command
    # (a unique duration: other runs on the machine may have a `sleep 60` of their own)
    assert not _running("sleep 61.123")


def _running(cmdline: str) -> bool:
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "cmdline").read_bytes().replace(b"\0", b" ").strip() == cmdline.encode():
                state = (proc / "stat").read_text().split(") ")[1][0]
                if state != "Z":
                    return True
        except OSError:
            continue
    return False


def test_secrets_never_reach_report_or_ledger(docs: Docs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-key-xyz")
    docs.pytester.makeconftest(PAGE_ENV_CONFTEST)
    docs.page(
        "page.md",
        """
        ```console
        $ echo "token $API_TOKEN"
        token [REDACTED]
        $ echo "key $AWS_SECRET_ACCESS_KEY url postgresql://app:hunter22@db/x"
        key [REDACTED] url postgresql://app:[REDACTED]@db/x
        $ echo "$API_TOKEN"; exit 3
        ```
    """,
    )
    result = docs.run()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "[REDACTED]" in out
    for secret in (SECRET, "aws-secret-key-xyz", "hunter22"):
        assert secret not in out
        assert secret not in (docs.pytester.path / "build" / "docs-ledger.json").read_text()


def test_unaccounted_runnable_fence_fails_a_full_run(docs: Docs) -> None:
    docs.pytester.makeconftest("""
        def pytest_collection_modifyitems(items):
            items[:] = [i for i in items if "L5" not in i.name]  # a buggy plugin
    """)
    docs.page(
        "page.md",
        """
        ```bash
        true
        ```

        ```bash
        true
        ```
    """,
    )
    result = docs.run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "docs: docs/page.md:5 [[]bash] was neither run nor skipped with a reason",
            "docs: 2 blocks, 1 executed, 0 skipped, 1 not-run",
        ]
    )


def test_deselected_run_only_reports(docs: Docs) -> None:
    docs.page("page.md", "```bash\ntrue\n```\n\n```bash\ntrue\n```\n\n```text\nx\n```\n")
    result = docs.run("-k", "L1")
    assert result.ret == pytest.ExitCode.OK
    assert [e["status"] for e in docs.ledger().values()] == ["passed", "not-run", "not-runnable"]


def test_update_mode_rewrites_expected_output(docs: Docs) -> None:
    page = docs.page(
        "page.md",
        """
        - step:

          ```console
          $ printf 'kept\\nnew 1\\nnew 2\\n'
          kept
          old
          $ echo second
          second
          ```
    """,
    )
    result = docs.run("--runbook-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["docs: updated 1 console step(s) in place"])
    assert page.read_text().splitlines()[4:8] == ["  kept", "  new 1", "  new 2", "  $ echo second"]
    docs.run().assert_outcomes(passed=1)


def test_update_mode_rewrites_exit_status_lines(docs: Docs) -> None:
    page = docs.page(
        "page.md",
        """
        ```console
        $ sh -c 'echo gone; exit 3'
        ? 1
        gone
        $ true
        ? 2
        $ echo last
        last
        ```
    """,
    )
    docs.run("--runbook-update").assert_outcomes(passed=1)
    assert page.read_text().splitlines()[1:7] == [
        "$ sh -c 'echo gone; exit 3'",
        "? 3",
        "gone",
        "$ true",
        "$ echo last",
        "last",
    ]
    docs.run().assert_outcomes(passed=1)


def test_sql_runs_through_psql(docs: Docs, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = docs.pytester.path / "bin"
    bin_dir.mkdir()
    log = docs.pytester.path / "psql.log"
    fake = bin_dir / "psql"
    fake.write_text(
        f'#!/bin/sh\necho "$@" > {log}\ncat "$5" >> {log}\n'
        'grep -q boom "$5" && { echo "ERROR: boom" >&2; exit 3; }\nexit 0\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docs.page("ok.md", "```sql\nselect 1;\n```\n")
    docs.page("zz.md", "```sql\nselect boom;\n```\n")
    result = docs.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["docs/zz.md:1: sql block failed: exit status 3", "ERROR: boom"])
    args = (docs.pytester.path / "psql.log").read_text().splitlines()[0].split()
    assert args[:4] == ["-X", "-v", "ON_ERROR_STOP=1", "-f"]


def test_python_failure_blocks_later_blocks(docs: Docs) -> None:
    docs.page("page.md", "```python\nassert 1 == 2\n```\n\n```bash\ntrue\n```\n")
    result = docs.run()
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["docs/page.md:1: python block failed", "*assert 1 == 2*"])
    assert docs.ledger()[("docs/page.md", 5)]["status"] == "blocked"


def test_python_block_hits_its_timeout(docs: Docs) -> None:
    docs.page(
        "page.md",
        "<!-- runbook: timeout=1 -->\n```python\nimport time\ntime.sleep(30)\n```\n\n"
        "```bash\ntrue\n```\n",
    )
    started = time.monotonic()
    result = docs.run()
    assert time.monotonic() - started < 20
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*python block timed out after 1 s*"])


def test_a_run_without_docs_pages_keeps_the_ledger(docs: Docs) -> None:
    docs.page("page.md", "```bash\ntrue\n```\n")
    docs.run().assert_outcomes(passed=1)
    before = docs.ledger()
    docs.pytester.makepyfile(test_unit="def test_unit():\n    assert True\n")
    result = docs.run("test_unit.py")
    result.assert_outcomes(passed=1)
    assert "docs:" not in result.stdout.str()
    assert docs.ledger() == before


def test_python_block_prints_are_redacted_in_the_report(
    docs: Docs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subprocess run, so pytest's own output capture is in place as in a real run."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent.parent))
    docs.pytester.makeconftest(PAGE_ENV_CONFTEST)
    docs.page(
        "page.md",
        '```python\nimport os\nprint("token", os.environ["API_TOKEN"])\nassert False\n```\n',
    )
    result = docs.pytester.runpytest_subprocess(
        "-p", "runbook_docs.plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "token [REDACTED]" in output
    assert SECRET not in output


@pytest.fixture
def pg_env(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner run's shells reach the session server (PG* variables, its psql first)."""
    for name, value in pg_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGDATABASE", "postgres")
    if pg_server.bin_dir is not None:
        monkeypatch.setenv("PATH", str(pg_server.bin_dir), prepend=os.pathsep)


@pytest.mark.usefixtures("pg_env")
def test_psql_heredoc_error_fails_a_bash_block_that_exits_0(docs: Docs) -> None:
    docs.sample("psql_error.md")
    result = docs.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "docs/psql_error.md:3: bash block exited 0 but its output shows a PostgreSQL error: "
            '*ERROR:  relation "no_such_table" does not exist*',
        ]
    )
    entry = docs.ledger()[("docs/psql_error.md", 3)]
    assert entry["status"] == "failed"
    assert "ERROR:  relation" in entry["outputs"][0]


@pytest.mark.usefixtures("pg_env")
def test_console_error_must_be_written_out_not_elided(docs: Docs) -> None:
    docs.sample("psql_error_shown.md")
    result = docs.run("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*psql_error_shown.md::L3?console? PASSED*",
            "docs/psql_error_shown.md:10: console step output shows a PostgreSQL error its "
            "transcript does not show",
            "*ERROR:  division by zero*",
        ]
    )


def test_reader_shells_rerun_listed_pages_and_catch_bash_only_syntax(docs: Docs) -> None:
    docs.pytester.makeini(
        "[pytest]\nrunbook_docs = docs\nrunbook_reader_pages = reader_shells.md portable.md\n"
    )
    docs.sample("reader_shells.md")
    docs.page(
        "portable.md",
        """
        ```console
        $ words="one two"
        $ for w in one two; do echo "$w"; done
        one
        two
        $ false
        ? 1
        $ echo "still here: $words"
        still here: one two
        ```
    """,
    )
    docs.page("other.md", "```bash\ntrue\n```\n")
    result = docs.run("-v")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*docs/portable.md::reader?zsh? PASSED*",
            "*docs/portable.md::reader?bash? PASSED*",
            "*docs/reader_shells.md::reader?zsh? FAILED*",
            "*docs/reader_shells.md::reader?bash? PASSED*",
            "in a reader's interactive zsh: docs/reader_shells.md:8: console step output differs",
            "+one two",
        ]
    )
    result.stdout.no_fnmatch_line("*other.md::reader*")


def test_reader_terminal_fails_on_interactive_zsh_comments_and_gnu_date(docs: Docs) -> None:
    """Both lines pass in the suite's bash; typed into the reader's terminal they fail: zsh
    without INTERACTIVE_COMMENTS echoes the comment, and macOS's date has no -d (both shells)."""
    docs.pytester.makeini("[pytest]\nrunbook_docs = docs\nrunbook_reader_pages = *.md\n")
    docs.sample("reader_terminal.md")
    result = docs.run("-v", "-k", "not lint")  # the command lint refuses both lines too
    result.stdout.fnmatch_lines(
        [
            "*reader_terminal.md::L3?console? PASSED*",
            "*reader_terminal.md::L8?bash? PASSED*",
            "*reader_terminal.md::reader?zsh? FAILED*",
            "*reader_terminal.md::reader?bash? FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "in a reader's interactive zsh: docs/reader_terminal.md:4: console step output differs",
            "+ok # note",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "in a reader's interactive bash: docs/reader_terminal.md:8: bash block failed: "
            "exit status 1",
            "*date: illegal option -- d",
        ]
    )


def test_reader_terminal_fails_when_the_page_leaves_other_files_behind(docs: Docs) -> None:
    """Every line exits 0 and prints nothing in both shells, but zsh takes the comments' words
    as arguments: the suite's run leaves ``a``, ``note``; the reader's zsh ``#``, ``a``, ``b``."""
    docs.pytester.makeini(
        "[pytest]\nrunbook_docs = docs\nrunbook_reader_pages = *.md\n"
        "runbook_reader_shells = zsh bash\n"
    )
    docs.sample("reader_leftovers.md")
    differences = [
        "in a reader's interactive zsh: docs/reader_leftovers.md left different files or "
        "databases behind",
        "left behind in the suite's run but not in the reader's zsh: work/note (file)",
        "left behind in the reader's zsh but not in the suite's run: work/# (file), work/b (file)",
    ]
    result = docs.run("-v", "-k", "not lint")  # the command lint refuses the comments too
    result.stdout.fnmatch_lines(
        [
            "*reader_leftovers.md::L6?console? PASSED*",
            "*reader_leftovers.md::reader?zsh? FAILED*",
            "*reader_leftovers.md::reader?bash? PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(differences)
    # with the page's own items deselected, the reader item runs the suite's shell itself
    result = docs.run("-v", "-m", "reader_shell")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(differences)


def test_leftovers_list_files_by_type_skip_volatile_ones_and_list_databases(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    from runbook_docs.leftovers import record_leftovers

    work, home = tmp_path / "work", tmp_path / "home"
    (work / "dump" / "__pycache__").mkdir(parents=True)
    (work / "dump" / "t.dat").write_text("x")
    (work / "restore-test-20261207T123223.646707Z.json").write_text("{}")
    (home / "vlvt-rows").mkdir(parents=True)
    (home / ".bash_history").write_text("ls\n")
    (home / "link").symlink_to(work)
    env = {**os.environ, **pg_server.env(), "HOME": str(home)}
    if pg_server.bin_dir is not None:
        env["PATH"] = f"{pg_server.bin_dir}{os.pathsep}{env['PATH']}"
    pg_server.create_database("leftover_20261207_1236")
    try:
        with pg_server.connect("leftover_20261207_1236") as conn:
            conn.execute("CREATE TABLE kept (id int)")
        entries = record_leftovers(env, work).entries
    finally:
        pg_server.drop_database("leftover_20261207_1236")
    files = [e for e in entries if not e.startswith("database ")]
    assert files == [
        "work/dump (dir)",
        "work/dump/t.dat (file)",
        "work/restore-test-<time>.json (file)",
        "~/link (symlink)",
        "~/vlvt-rows (dir)",
    ]
    assert "database leftover_<time>: public.kept" in entries
    assert "database leftover_<time>: public.kept" not in record_leftovers(env, work).entries


def test_full_run_fails_below_the_output_checked_minimum(docs: Docs) -> None:
    docs.pytester.makeini("[pytest]\nrunbook_docs = docs\nrunbook_min_output_checked = 50\n")
    docs.page("page.md", "```bash\ntrue\n```\n\n```bash\ntrue\n```\n\n```console\n$ true\n```\n")
    result = docs.run()
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "docs: 1 of 3 executed blocks output-checked (33%)",
            "docs: below runbook_min_output_checked = 50%",
        ]
    )
    docs.page("more.md", "```console\n$ echo ok\nok\n```\n")
    assert docs.run().ret == pytest.ExitCode.OK  # 2 of 4: 50%


TWO_PAGES = {
    "one.md": "```bash\necho one\n```\n\n```console\n$ echo 1\n1\n```\n",
    "two.md": "```bash\necho two\n```\n\n```text\nshown only\n```\n",
}


def test_xdist_workers_records_make_one_ledger(docs: Docs) -> None:
    """Under pytest-xdist each worker runs some pages; the controller writes every record."""
    for name, text in TWO_PAGES.items():
        docs.page(name, text)
    result = docs.run("-n", "2", "--dist", "loadfile")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["docs: 4 blocks, 3 executed, 0 skipped, 1 not-runnable"])
    assert {(f, line): e["status"] for (f, line), e in docs.ledger().items()} == {
        ("docs/one.md", 1): "passed",
        ("docs/one.md", 5): "passed",
        ("docs/two.md", 1): "passed",
        ("docs/two.md", 5): "not-runnable",
    }
    assert docs.ledger()[("docs/one.md", 5)]["outputs"] == ["1\n"]


def test_xdist_run_still_fails_on_an_unaccounted_fence(docs: Docs) -> None:
    docs.pytester.makeconftest("""
        def pytest_collection_modifyitems(items):
            items[:] = [i for i in items if "L5" not in i.name]  # a buggy plugin
    """)
    for name, text in TWO_PAGES.items():
        docs.page(name, text)
    result = docs.run("-n", "2", "--dist", "loadfile")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "docs: docs/one.md:5 [[]console] was neither run nor skipped with a reason",
            "docs: 4 blocks, 2 executed, 0 skipped, 1 not-runnable, 1 not-run",
        ]
    )
    assert docs.ledger()[("docs/one.md", 5)]["status"] == "not-run"


VERSION_PAGES = {
    # one.md puts its own tool first on PATH, as a page's `export PATH=...` would
    "one.md": (
        "```bash\nmkdir -p bin && printf '#!/bin/sh\\necho \"mytool (Tools) 9.1.2\"\\n' "
        '> bin/mytool\nchmod +x bin/mytool\nexport PATH="$PWD/bin:$PATH"\n```\n'
    ),
    "two.md": "```bash\necho two\n```\n",
    "three.md": '<!-- runbook: skip reason="never runs" -->\n```bash\nfalse\n```\n',
}


@pytest.mark.parametrize("workers", [(), ("-n", "2", "--dist", "loadfile")])
def test_each_page_records_the_versions_its_own_environment_had(
    docs: Docs, workers: tuple[str, ...]
) -> None:
    """``runbook_versions`` probes run per page in the env its shell ended with (the stamp)."""
    docs.pytester.makeini(
        "[pytest]\nrunbook_docs = docs\nrunbook_versions =\n"
        "    mytool = mytool --version\n    shell = sh -c 'echo \"sh 1.0\"'\n"
        # its reader-shell re-run closes the suite's run first: the versions are the suite's
        "runbook_reader_pages = one.md\nrunbook_reader_shells = bash\n"
    )
    for name, text in VERSION_PAGES.items():
        docs.page(name, text)
    result = docs.run(*workers)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    data = json.loads((docs.pytester.path / "build" / "docs-ledger.json").read_text())
    assert data["pages"] == {
        "docs/one.md": {"versions": {"mytool": "9.1.2", "shell": "1.0"}},
        "docs/two.md": {"versions": {"shell": "1.0"}},  # no mytool on its PATH: not named
    }  # three.md ran no block: no versions
