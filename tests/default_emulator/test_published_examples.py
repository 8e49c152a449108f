"""Every published request example of Bria's image, product and ads OpenAPI files, replayed
against a ``bria-emulator`` process started with its defaults (Bria-like latencies: ads about
90 s), completes: the POST answers within the client's 30 s read timeout (a v1 placeholder
answer within a second), and the job's result files can then be fetched. The examples' input
URLs point at Bria's sample files, which this test replaces with images the emulator serves.
The demo runs against the same emulator meanwhile (``demo_run``; its own token, so its own rate
budget)."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from bria_dagster.client import BriaClient
from bria_dagster.client.catalog.registry import returns_placeholders
from bria_dagster.client.types.responses import VehicleParts, parse_v1_result, placeholder_urls
from tests.catalog.openapi import SpecOperation, load_operations

FILES = ("image-generation", "image-editing", "product-shot-editing", "ad-generation")
MASK_FIELDS = ("mask", "windshield", "rear_window", "side_windows", "body", "wheels", "tires")
READ_TIMEOUT_S = 30.0
PLACEHOLDER_ANSWER_S = 1.0


def _examples() -> list[tuple[SpecOperation, str, Any]]:
    return [
        (op, name, body)
        for op in load_operations()
        if op.file in FILES and op.method == "POST"
        for name, body in op.examples.items()
    ]


def _png(mode: str, colour: Any) -> bytes:
    image = Image.new(mode, (96, 64), colour)
    image.paste(255 if mode == "L" else "red", (24, 16, 72, 48))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _host(base_url: str, data: bytes) -> str:
    answer = httpx.post(
        f"{base_url}/_emulator/files",
        params={"content_type": "image/png", "ext": "png"},
        content=data,
    )
    return str(answer.json()["url"])


def _swap(value: Any, key: str, image: str, mask: str) -> Any:
    """The example with every input URL (and the spec's "URL"/"example" stand-ins) replaced."""
    if isinstance(value, dict):
        return {k: _swap(v, k, image, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, key, image, mask) for v in value]
    if isinstance(value, str) and (value in ("URL", "example") or value.startswith("http")):
        return mask if key in MASK_FIELDS else image
    return value


def _result_urls(path: str, payload: dict[str, Any], body: Any) -> list[str]:
    if returns_placeholders(path, payload):
        return placeholder_urls(body)
    if path == "/v1/product/vehicle/segment":
        return [url for url in VehicleParts.model_validate(body).model_dump().values() if url]
    result = parse_v1_result(body)
    return result.urls or ([result.url] if result.url else [])


def _replay(base_url: str, path: str, body: dict[str, Any]) -> float:
    """POST one example and wait for its result; return how long the POST took."""
    headers = {"api_token": "examples-token"}
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    started = time.monotonic()
    answer = httpx.post(base_url + path, json=body, headers=headers, timeout=timeout)
    took = time.monotonic() - started
    assert answer.status_code in (200, 202), (path, answer.text)
    data = answer.json()
    with BriaClient(
        api_token="examples-token", base_url=base_url, rate_limit_backend="memory"
    ) as bria:
        if answer.status_code == 202:
            result = bria.wait(data["request_id"], endpoint=path)
            urls = [result.url] if result.url else []
        elif returns_placeholders(path, body):
            assert took < PLACEHOLDER_ANSWER_S, (path, took)
            urls = placeholder_urls(data)
            bria.wait_placeholders(urls, endpoint=path)
        else:
            urls = _result_urls(path, body, data)
    for url in urls:
        fetched = httpx.get(url, timeout=30)
        assert fetched.status_code == 200 and fetched.content, (path, url)
    return took


@pytest.mark.slow
@pytest.mark.usefixtures("demo_run")
def test_every_published_example_completes_on_a_default_emulator(
    default_emulator_url: str,
) -> None:
    examples = _examples()
    assert len(examples) >= 55
    assert {op.path for op, _, _ in examples} >= {"/v1/ads/generate"}
    image = _host(default_emulator_url, _png("RGB", "white"))
    mask = _host(default_emulator_url, _png("L", 0))
    jobs = [(op.path, _swap(body, "", image, mask)) for op, _, body in examples]
    placeholders = [(path, body) for path, body in jobs if returns_placeholders(path, body)]
    others = [(path, body) for path, body in jobs if not returns_placeholders(path, body)]
    assert placeholders and others
    with ThreadPoolExecutor(len(jobs)) as pool:
        # The placeholder calls first, so that their one-second answer is not measured behind
        # the work of 50 other jobs on the emulator's 4 worker threads.
        futures = [pool.submit(_replay, default_emulator_url, p, b) for p, b in placeholders]
        time.sleep(PLACEHOLDER_ANSWER_S)
        futures += [pool.submit(_replay, default_emulator_url, path, body) for path, body in others]
        took = [future.result() for future in futures]
    assert max(took) < READ_TIMEOUT_S
