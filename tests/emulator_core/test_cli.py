"""The ``bria-emulator`` command: starts, prints its URL, answers, stops on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bria_dagster.emulator.cli import build_parser, config_from_args, main

from .helpers import AUTH

SCRIPT = str(Path(sys.executable).with_name("bria-emulator"))


@contextmanager
def _running(*args: str) -> Iterator[str]:
    command = [SCRIPT, "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, (
            f"no URL in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
        yield match.group(0)
    finally:
        process.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM as the exit status.
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()


def test_cli_serves_until_terminated() -> None:
    with _running("--plan", "free", "--latency", "*=fixed:0", "--forbidden-token", "bad") as url:
        assert httpx.get(f"{url}/v2/status/x", headers=AUTH).json() == {"status": "NOT_FOUND"}
        assert httpx.get(f"{url}/v2/status/x", headers={"api_token": "bad"}).status_code == 403
        config = httpx.get(f"{url}/_emulator/config").json()
    assert config["rpm"] == 10
    assert config["forbidden_token"] == "***"


def test_options_map_to_config() -> None:
    args = build_parser().parse_args(
        [
            "--rpm",
            "5",
            "--latency",
            "generation=lognormal:6,0.5",
            "edit=fixed:2",
            "--fault-drop-after",
            "0.1",
            "--fault-error",
            "0.2",
            "--fault-on",
            "status",
            "--webhook-retries",
            "1,2",
            "--string-codes",
        ]
    )
    config = config_from_args(args)
    assert config.rpm == 5
    assert {k: str(v) for k, v in config.latency.items()} == {
        "generation": "lognormal:6,0.5",
        "edit": "fixed:2",
    }
    assert [(f.kind, f.rate, f.on) for f in config.faults] == [
        ("drop_after", 0.1, "status"),
        ("job_error", 0.2, "submits"),
    ]
    assert config.webhook_retry_delays_s == (1.0, 2.0)
    assert config.string_codes
    assert config_from_args(build_parser().parse_args(["--rpm", "0"])).rpm is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--latency", "paint=fixed:1"], "unknown family 'paint'"),
        (["--latency", "edit=fixed:-1"], "must be finite and >= 0"),
        (["--fault-5xx", "2"], "not a probability"),
        (["--plan", "gold"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bria_dagster.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "--fault-drop-after" in result.stdout
