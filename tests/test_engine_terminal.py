"""The reader's terminal (runbook_docs/terminal.py) and its macOS-like userland (userland.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_docs import bsd_guard
from runbook_docs.terminal import TERMINALS, TerminalShell, render, running
from runbook_docs.userland import ABSENT, macos_path, with_table

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")


@pytest.fixture(params=sorted(TERMINALS))
def terminal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TerminalShell]:
    shell = TerminalShell(dict(os.environ), tmp_path, request.param)
    yield shell
    shell.close()


def test_zsh_takes_a_trailing_or_own_line_comment_as_words(tmp_path: Path) -> None:
    shell = TerminalShell(dict(os.environ), tmp_path, "zsh-tty")
    try:
        assert shell.run("echo ok   # note", 10).output == "ok # note\n"
        result = shell.run("# a comment\necho after", 10)
        assert (result.status, result.output) == (127, "zsh: command not found: #\nafter\n")
    finally:
        shell.close()


def test_bash_honours_comments(tmp_path: Path) -> None:
    shell = TerminalShell(dict(os.environ), tmp_path, "bash-tty")
    try:
        result = shell.run("# a comment\necho ok   # note", 10)
        assert (result.status, result.output) == (0, "ok\n")
    finally:
        shell.close()


def test_a_script_block_fails_on_any_failed_command_like_set_e(terminal: TerminalShell) -> None:
    assert terminal.run("false\ntrue", 10).status == 1
    assert terminal.run("(exit 3) || true\ntrue", 10).status == 0  # not a failure under -e
    assert terminal.run("[ -f /nonexistent ] && echo x", 10).status == 1  # its last line
    # a console step's status is its last line's; the shell goes on after a failure
    assert terminal.run("false\ntrue", 10, fatal=False).status == 0
    assert terminal.alive


def test_state_carries_over_and_the_terminal_is_the_stdin(
    terminal: TerminalShell, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    terminal.run('export TOKEN=abc\ncd sub\nf() { echo "f:$1"; }', 10)
    assert terminal.run("f x; [ -t 0 ] && echo tty", 10).output == "f:x\ntty\n"
    snapshot = terminal.snapshot()
    assert snapshot is not None
    env, cwd = snapshot
    assert (env["TOKEN"], cwd) == ("abc", tmp_path / "sub")


def test_heredoc_multi_line_output_and_no_trailing_newline(terminal: TerminalShell) -> None:
    result = terminal.run("cat <<'EOF'\none\n  two\nEOF\nprintf last", 10)
    assert (result.status, result.output) == (0, "one\n  two\nlast")


def test_a_large_output_arrives_whole(terminal: TerminalShell) -> None:
    result = terminal.run("head -c 1000000 /dev/zero | tr '\\0' x; echo", 30)
    assert (result.status, result.output) == (0, "x" * 1_000_000 + "\n")


def test_an_unfinished_command_or_a_timeout_ends_the_whole_session(
    terminal: TerminalShell, tmp_path: Path
) -> None:
    result = terminal.run("echo 'unclosed", 10)
    assert result.shell_ended and result.status == 2
    assert "the block ended inside a command" in result.output
    again = TerminalShell(dict(os.environ), tmp_path, terminal.flavor)
    try:
        pid_file = tmp_path / "child.pid"
        result = again.run(f"sleep 300 & echo $! >{pid_file}; wait", 1)
        assert result.timed_out and result.shell_ended
        assert not running(int(pid_file.read_text()))
    finally:
        again.close()


def test_the_userland_is_macos(terminal: TerminalShell) -> None:
    result = terminal.run("date -u -d yesterday +%F", 10)
    assert result.status == 1 and result.output.startswith("date: illegal option -- d\n")
    assert terminal.run("date -u +%s%3N", 10).status == 1
    assert terminal.run("grep -oP x /dev/null", 10).status == 2
    assert terminal.run("stat -c %s /dev/null", 10).status == 1
    assert terminal.run("printf 'a\\n' > f && sed -i '' s/a/b/ f && cat f", 10).output == "b\n"
    assert terminal.run("sed -i s/a/b/ f", 10).status == 1
    assert terminal.run("tar --version", 10).output.startswith("bsdtar ")
    for tool in ABSENT:
        assert terminal.run(f"command -v {tool}", 10).status == 1, tool
    found = terminal.run("command -v runbook python3 psql aws >/dev/null", 10)
    assert found.status == 0, found.output


def test_macos_path_keeps_other_directories_and_their_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
        for name in ("tool", "timeout"):
            (directory / name).write_text(f"#!/bin/sh\necho {directory.name}\n")
            (directory / name).chmod(0o755)
    venv = tmp_path / "venv"
    venv.mkdir()
    path = macos_path(f"{venv}:{first}:{second}:{os.environ['PATH']}", tmp_path / "userland")
    parts = path.split(":")
    assert parts[1] == str(venv)  # nothing shadowed there: the directory itself
    assert shutil.which("tool", path=path) == f"{parts[2]}/tool"
    assert os.readlink(f"{parts[2]}/tool") == str(first / "tool")
    assert shutil.which("timeout", path=path) is None


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("sed", ["-i", "", "s/a/b/", "f"], ["-i", "s/a/b/", "f"]),
        ("sed", ["-i.bak", "s/a/b/", "f"], ["-i.bak", "s/a/b/", "f"]),
        ("sed", ["-Ei", ".orig", "s/a/b/", "f"], ["-E", "-i.orig", "s/a/b/", "f"]),
        ("sed", ["-n", "-e", "-i", "f"], ["-n", "-e", "-i", "f"]),  # -e's value, not -i
        ("date", ["-u", "+%Y-%m-%dT%H:%M:%SZ"], ["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        ("date", ["-r", "1700000000"], ["-r", "1700000000"]),
        ("grep", ["-E", "-e", "-P", "f"], ["-E", "-e", "-P", "f"]),  # -P as the pattern
        ("grep", ["--count", "x"], ["--count", "x"]),
        ("stat", ["-f", "%z", "f"], ["-f", "%z", "f"]),
    ],
)
def test_bsd_guard_lets_bsd_usage_through(name: str, args: list[str], expected: list[str]) -> None:
    assert bsd_guard.check(name, args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("date", ["-u", "-d", "yesterday"], "date: illegal option -- d"),
        ("date", ["-ud", "yesterday"], "date: illegal option -- d"),
        ("date", ["--date=yesterday"], "date: illegal option -- -"),
        ("date", ["+%s%N"], "date: +%s%N: no %N"),
        ("date", ["+%3N"], "date: +%3N: no %N"),
        ("sed", ["-i", "s/a/b/", "f"], "sed: -i takes 's/a/b/'"),
        ("sed", ["--in-place", "s/a/b/", "f"], "sed: illegal option -- -"),
        ("sed", ["-i"], "sed: option requires an argument -- i"),
        ("stat", ["-c", "%s", "f"], "stat: illegal option -- c"),
        ("stat", ["--format=%s", "f"], "stat: illegal option -- -"),
        ("grep", ["-oP", "x"], "grep: invalid option -- P"),
        ("grep", ["--perl-regexp", "x"], "grep: invalid option -- P"),
    ],
)
def test_bsd_guard_refuses_gnu_only_options(name: str, args: list[str], message: str) -> None:
    with pytest.raises(bsd_guard.Refused) as refused:
        bsd_guard.check(name, args)
    assert str(refused.value).startswith(message)


def test_render_applies_carriage_returns_and_erase_line() -> None:
    assert render("a\r\nb\r\n") == "a\nb\n"
    assert render("10%\r\x1b[K20%\r\x1b[Kdone\n") == "done\n"
    assert render("abc\rX\n") == "Xbc\n"
    assert render("\x1b[1mbold\x1b[0m\n") == "bold\n"


def test_testing_md_lists_exactly_the_emulated_userland() -> None:
    page = (ROOT / "docs" / "testing.md").read_text()
    assert with_table(page) == page, (
        "docs/testing.md's reader-userland table differs from runbook_docs/userland.py: "
        "python -m runbook_docs.userland docs/testing.md"
    )
