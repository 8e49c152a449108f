"""The README's per-family examples, run in order as one script against the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bria_dagster.emulator import EmulatorConfig, EmulatorServer

from .conftest import FAST_CLIENT

README = Path(__file__).resolve().parents[2] / "README.md"


def family_examples() -> list[str]:
    """The python blocks of the README's "One example per family" section."""
    text = README.read_text("utf-8")
    section = text.split("### One example per family", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_one_example_per_family() -> None:
    assert len(family_examples()) == 6


def test_the_readme_examples_run_against_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EmulatorConfig(
        output_megapixels=0.07, latency={"*": "fixed:0.05"}, training_seconds=0.5
    )
    with EmulatorServer(config) as emulator:
        monkeypatch.setenv("BRIA_API_TOKEN", "readme-token")
        monkeypatch.setenv("BRIA_BASE_URL", emulator.base_url)
        monkeypatch.setenv("BRIA_DAGSTER_HOME", str(tmp_path / "home"))
        monkeypatch.chdir(tmp_path)
        # The only change: poll a fast emulator sooner than Bria's real latencies call for.
        script = "\n".join(family_examples()).replace(
            "BriaClient()", "BriaClient(**_test_settings)"
        )
        namespace: dict[str, object] = {"_test_settings": FAST_CLIENT}
        exec(compile(script, str(README), "exec"), namespace)
        stats = emulator.stats()
    assert (tmp_path / "shoe-cutout.png").stat().st_size > 0
    assert namespace["trained"].model.status == "Completed"  # type: ignore[attr-defined]
    assert namespace["no_background"].video_url  # type: ignore[attr-defined]
    for path in (
        "/v2/image/generate",
        "/v2/image/edit/remove_background",
        "/v1/product/packshot",
        "/v1/ads/generate",
        "/v2/image/generate/tailored",
        "/v2/video/edit/remove_background",
    ):
        assert stats.submits.get(path), path


def test_the_readme_asset_example_loads_bria_images_in_a_plain_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first example of "Bria steps as Dagster assets", on file storage and the emulator."""
    import dagster as dg

    text = README.read_text("utf-8")
    section = text.split("## Bria steps as Dagster assets", 1)[1]
    script = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    # The only changes: local storage and ledger, and the emulator with fast polling.
    script = (
        script.replace('"s3://my-bucket/bria"', repr((tmp_path / "images").as_uri()))
        .replace("BriaLedgerResource()", f"BriaLedgerResource(url='sqlite:///{tmp_path}/l.db')")
        .replace(
            'BriaResource(api_token=dg.EnvVar("BRIA_API_TOKEN"))',
            'BriaResource(api_token=dg.EnvVar("BRIA_API_TOKEN"), '
            "base_url=_base_url, **_test_settings)",
        )
    )
    config = EmulatorConfig(output_megapixels=0.07, latency={"*": "fixed:0.05"})
    with EmulatorServer(config) as emulator, dg.instance_for_test() as instance:
        monkeypatch.setenv("BRIA_API_TOKEN", "readme-token")
        settings = {k: v for k, v in FAST_CLIENT.items() if k != "api_token"}
        namespace: dict[str, object] = {"_test_settings": settings, "_base_url": emulator.base_url}
        exec(compile(script, str(README), "exec"), namespace)
        defs: dg.Definitions = namespace["defs"]  # type: ignore[assignment]
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, partition_key="SKU-1")
    assert result.success
    (uri, width), *_ = result.output_for_node("cutout_sizes").items()
    assert uri.startswith((tmp_path / "images").as_uri() + "/cutout/SKU-1/") and width > 0
    checks = {
        (c.asset_key.to_user_string(), c.check_name) for c in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("product_photo", "image_readable"),
        ("product_photo", "image_dimensions"),
        ("cutout", "image_readable"),
        ("cutout", "image_alpha"),
    }
    assert all(c.passed for c in result.get_asset_check_evaluations())
