"""No traceback reaches the reader: every exception becomes one typed error line + hint."""

from __future__ import annotations

import argparse
import errno
import io
import subprocess
import sys
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from runbook_helpers import cli
from runbook_helpers.cli.failures import DEFAULT_HINTS, as_runbook_error
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus, RunbookError
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.storage import S3Location
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import CliResult


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """``runbook presign X`` raising whatever the test puts in the list."""
    raised: list[BaseException] = []
    real = cli.build_parser

    def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
        built = real(argv)

        def boom(args: argparse.Namespace, out: Output) -> int:
            raise raised[0]

        built.set_defaults(func=boom)
        for action in built._actions:
            if isinstance(action, argparse._SubParsersAction):
                action.choices["presign"].set_defaults(func=boom)
        return built

    monkeypatch.setattr(cli, "build_parser", parser)
    yield raised


def run(argv: list[str]) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, Output(out, err))
    return CliResult(status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/tmp/x.part"), ExitStatus.NO_SPACE),
        (PermissionError(errno.EACCES, "Permission denied", "/x"), ExitStatus.ACCESS_DENIED),
        (FileNotFoundError(errno.ENOENT, "No such file", "/x"), ExitStatus.NOT_FOUND),
        (psycopg.OperationalError("server closed the connection"), ExitStatus.UNREACHABLE),
        (psycopg.DataError("timestamp out of range"), ExitStatus.INTEGRITY),
        (ConnectionResetError(104, "reset"), ExitStatus.UNREACHABLE),
        (ValueError("year 0 is out of range"), ExitStatus.ERROR),
        (OverflowError("date value out of range"), ExitStatus.ERROR),
        (RunbookError("no hint given"), ExitStatus.ERROR),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_every_exception_is_one_typed_line(
    exc: BaseException, status: ExitStatus, failing_command: list[BaseException]
) -> None:
    failing_command.append(exc)
    argv = ["presign", "s3://b/k"]
    assert_clean_failure(run(argv), status, argv=argv)


def test_debug_setting_shows_the_traceback(
    failing_command: list[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_command.append(ValueError("boom"))
    monkeypatch.setenv("RUNBOOK_DEBUG", "1")
    result = run(["presign", "s3://b/k"])
    assert result.status == ExitStatus.ERROR and "Traceback" in result.stderr


def test_a_url_password_in_an_unexpected_error_is_redacted(
    failing_command: list[BaseException],
) -> None:
    failing_command.append(ValueError("bad postgresql://u:Hunter2-Secret@h/db"))
    argv = ["presign", "s3://b/k"]
    assert_clean_failure(run(argv), ExitStatus.ERROR, ["Hunter2-Secret"], argv=argv)


def test_ctrl_c_while_the_command_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a command's modules are imported (boto3, psycopg: the first ~0.2 s of a run)
    is the interrupted line, not a traceback."""

    def interrupted(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
        raise KeyboardInterrupt  # where build_parser imports the command's module

    monkeypatch.setattr(cli, "build_parser", interrupted)
    argv = ["presign", "s3://b/k"]
    error = assert_clean_failure(run(argv), ExitStatus.INTERRUPTED, argv=argv)
    assert error == "runbook: error: interrupted"


def test_the_cli_starts_without_the_database_driver() -> None:
    """``runbook`` imports psycopg only for a command that needs it: until then a Ctrl-C cannot
    land in the driver's import, outside ``main``'s handler."""
    code = "import sys, runbook_helpers.cli; print(sorted({'psycopg', 'boto3'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_status_has_a_default_hint() -> None:
    assert set(DEFAULT_HINTS) == set(ExitStatus) - {ExitStatus.OK}
    assert as_runbook_error(KeyError("x")).status == ExitStatus.ERROR


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


def _wrapped_upload(cause: Exception) -> Exception:
    """boto3's upload_file wraps a ClientError in S3UploadFailedError (raised from it)."""
    try:
        raise S3UploadFailedError(f"Failed to upload f to b/k: {cause}") from cause
    except S3UploadFailedError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (_client_error("ExpiredToken"), ExitStatus.ACCESS_DENIED),
        (_client_error("InvalidAccessKeyId"), ExitStatus.ACCESS_DENIED),
        (_client_error("SignatureDoesNotMatch"), ExitStatus.ACCESS_DENIED),
        (_client_error("NoSuchBucket"), ExitStatus.NOT_FOUND),
        (_client_error("NoSuchKey"), ExitStatus.NOT_FOUND),
        (ReadTimeoutError(endpoint_url="http://r2/b/k?x=1"), ExitStatus.UNREACHABLE),
        (ConnectionClosedError(endpoint_url="http://r2/b/k"), ExitStatus.UNREACHABLE),
        (_wrapped_upload(_client_error("AccessDenied")), ExitStatus.ACCESS_DENIED),
        (RetriesExceededError(ReadTimeoutError(endpoint_url="http://r2")), ExitStatus.UNREACHABLE),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_storage_error_translation(exc: Exception, status: ExitStatus) -> None:
    with pytest.raises(RunbookError) as caught, translate_errors(S3Location("b", "k")):
        raise exc
    assert caught.value.status == status and caught.value.hint
