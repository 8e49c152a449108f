"""The API token appears nowhere: not in logs (ours, httpx's, httpcore's at DEBUG), not on
stdout/stderr, not in exception text or reprs, not in settings dumps or usage metadata."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient, BriaError, ClientSettings
from bria_dagster.emulator import EmulatorServer

from .conftest import FAST, answer_once, hosted, png_bytes

TOKEN = "tok-LEAKCHECK-7d1f0c2e9b8a4f63a5c4e2d1b0a99f88"


def collect(errors: list[BaseException], action: Callable[[], Any]) -> None:
    try:
        action()
    except BriaError as exc:
        errors.append(exc)


def everything_said_about(errors: list[BaseException]) -> str:
    text = []
    for error in errors:
        text += [str(error), repr(error), repr(error.args), repr(vars(error))]
        cause = error.__cause__
        if cause is not None:
            text += [str(cause), repr(cause)]
    return "\n".join(text)


@pytest.mark.bria_emulator(forbidden_token="wrong-token")
def test_the_token_never_leaks(
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("bria_dagster.client", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    image = base64.b64encode(png_bytes()).decode()
    errors: list[BaseException] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    with BriaClient(api_token=TOKEN, base_url=emulator.base_url, **FAST) as client:
        job = client.submit("image/generate", {"prompt": "x"})
        result = client.wait(job)
        client.download(result.image_url or "", bytearray().extend)
        client.run("image/edit/remove_background", {"image": image})
        client.wait_many([client.submit("image/generate", {"prompt": "y"})])
        failing = client.submit("image/generate", {"prompt": "fail"})
        collect(errors, lambda: client.wait(failing))
        collect(errors, lambda: client.status("0123456789abcdef"))
        emulator.state.configure(
            faults=[answer_once("submits", 500, body={"error": {"code": 500}})]
        )
        collect(errors, lambda: client.submit("image/generate", {"prompt": "x"}))
        emulator.state.configure(
            faults=[answer_once("submits", 429, headers={"Retry-After": "0"})] * 3
        )
        collect(errors, lambda: client.submit("image/generate", {"prompt": "x"}))
        # a hostile proxy echoing request headers into its error page
        echoed = f"<html>api_token: {TOKEN}</html>"
        emulator.state.configure(faults=[answer_once("submits", 502, text=echoed)])
        collect(errors, lambda: client.submit("image/generate", {"prompt": "x"}))
        emulator.state.configure(
            faults=[answer_once("submits", 400, body={"error": {"message": TOKEN}})]
        )
        collect(errors, lambda: client.submit("image/generate", {"prompt": "x"}))
        collect(errors, lambda: client.submit("image/generate", {"sync": True}))
        expired = hosted(emulator, png_bytes(), ttl_s=-10)
        collect(errors, lambda: client.download(expired, bytearray()))
        texts = [repr(client), repr(client.settings), str(client.settings)]
        texts += [client.settings.model_dump_json(), repr(client.usage().as_dict())]

    with BriaClient(api_token="wrong-token", base_url=emulator.base_url, **FAST) as other:
        collect(errors, lambda: other.submit("image/generate", {"prompt": "x"}))
    with BriaClient(api_token=TOKEN, base_url=closed, **FAST) as offline:
        collect(errors, lambda: offline.submit("image/generate", {"prompt": "x"}))
        collect(errors, lambda: offline.status("abc"))

    assert len(errors) == 11
    assert emulator.stats().faults == {"respond": 6}  # every injected answer was met
    # The emulator's request log keeps a fingerprint, never the token itself.
    request_log = httpx.get(f"{emulator.base_url}/_emulator/requests").text
    # 16 requests always reach it; how many status polls come on top depends on the poll plan
    # and on timing (a job found finished by its first poll needs one).
    assert len(emulator.requests()) >= 16 and TOKEN not in request_log
    logged = caplog.text
    assert "/v2/image/generate" in logged and "request_id=" in logged  # logging did happen
    assert "HTTP Request" in logged  # httpx's own log line was captured too
    captured = capsys.readouterr()
    for text in [logged, captured.out, captured.err, everything_said_about(errors), *texts]:
        assert TOKEN not in text
    assert "***" in everything_said_about(errors)  # the echoed token was masked, not dropped


async def test_async_client_and_settings_reprs_hide_the_token(emulator: EmulatorServer) -> None:
    settings = ClientSettings.model_validate(
        {"api_token": TOKEN, "base_url": emulator.base_url, **FAST}
    )
    async with AsyncBriaClient(settings) as client:
        job = await client.submit("image/generate", {"prompt": "x"})
        await client.wait(job)
        for text in (repr(client), repr(job), repr(client.usage()), settings.model_dump_json()):
            assert TOKEN not in text
    assert TOKEN not in repr(settings.model_dump())
