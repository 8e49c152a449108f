"""``bria-dagster-demo`` against a ``bria-emulator`` started as a separate process with its
defaults (Bria-like latencies: ads about 90 s), the way a user points the demo at any Bria-
compatible server: ``BRIA_API_TOKEN`` and ``BRIA_BASE_URL``."""

from __future__ import annotations

import httpx
import pytest

from bria_dagster.emulator.ratelimit import token_hash

from .conftest import DEMO_TOKEN, DemoRun

STEPS = ("product_photo", "cutout", "packshot", "lifestyle_shot", "ad_formats", "ad")


@pytest.mark.slow
def test_demo_completes_against_a_default_emulator_process(
    demo_run: DemoRun, default_emulator_url: str
) -> None:
    code, output, took = demo_run.wait()
    assert code == 0, output[-6000:]
    assert f"Bria at {default_emulator_url}" in output
    images = demo_run.home / "bria_images"
    for step in STEPS:
        pictures = [p for p in images.glob(f"{step}/*/*.*") if p.suffix != ".json"]
        assert len(pictures) == (6 if step == "ad_formats" else 2), (step, pictures)
        assert all(p.stat().st_size > 0 for p in pictures)
    # Placeholders waited for, never re-POSTed. The published examples share this emulator, so
    # the demo's POSTs are told apart by its token's fingerprint in the request log.
    log = httpx.get(
        f"{default_emulator_url}/_emulator/requests",
        params={"path": "/v1/ads/generate", "method": "POST"},
    ).json()["requests"]
    assert [r["token"] for r in log].count(token_hash(DEMO_TOKEN)) == 2
    print(f"demo --limit 2 against a default emulator process: {took:.0f} s")
