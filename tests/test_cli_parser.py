"""The parser loads only the named command's module; help and unknown commands see them all."""

from __future__ import annotations

import argparse

import pytest

from runbook_helpers.cli import COMMAND_MODULES, build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("no sub-commands")


def test_a_named_command_registers_only_itself() -> None:
    assert _commands(build_parser(["restore", "backup.tar.gz"])) == {"restore"}
    assert _commands(build_parser(["restore-test"])) == {"restore-test"}
    assert "dev-snapshot" in _commands(build_parser(["dev-snapshot", "--help"]))


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["restor"]])
def test_help_and_unknown_commands_see_every_command(argv: list[str]) -> None:
    everything = _commands(build_parser())
    assert len(everything) >= len(COMMAND_MODULES)
    assert _commands(build_parser(argv)) == everything
