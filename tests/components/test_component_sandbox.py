"""BriaAssetsComponent in a defs folder sandbox: what it builds, and its steps run against the
emulator (inline, deferred with the result sensor) with requests rendered from a table."""

from __future__ import annotations

import copy
import csv
import importlib.util
import re
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import DefsFolderSandbox, create_defs_folder_sandbox

from bria_dagster.components import BriaAssetsComponent
from bria_dagster.ledger import Ledger
from bria_dagster.sensors import run_tick
from bria_dagster.webhooks.app import create_webhook_app
from bria_dagster.webhooks.server import WebhookServer
from tests.components.conftest import FAST_BRIA
from tests.dagster.test_inline_graph import _latest, _records
from tests.webhooks.support import emulator_stats_after_deliveries

REPO = Path(__file__).resolve().parents[2]
DEMO_YAML = REPO / "bria_dagster" / "demo" / "defs" / "catalog" / "defs.yaml"
ROWS = [
    {"sku": "SKU-7", "name": "Trail Runner", "colour": "red"},
    {"sku": "SKU-9", "name": "City Sneaker", "colour": "white"},
]
COMPONENT = "bria_dagster.components.BriaAssetsComponent"


def _write_table(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "products.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)


def _attributes(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "table": {"path": "products.csv"},
        "partitions": {"column": "sku"},
        "resources": {
            "bria": {
                "base_url": "{{ env.BRIA_BASE_URL }}",
                "rate_limit_backend": "{{ env.BRIA_RATE_LIMIT_BACKEND }}",
                **FAST_BRIA,
            },
            "storage": {"uri": "{{ env.BRIA_STORAGE_URI }}"},
            "ledger": {"url": "{{ env.BRIA_LEDGER_URL }}"},
        },
        "steps": steps,
        **extra,
    }


def scaffold_images(
    sandbox: DefsFolderSandbox, attributes: dict[str, Any], component: str = COMPONENT
) -> Path:
    """The component at ``defs/images`` of ``sandbox`` with ``attributes``."""
    return sandbox.scaffold_component(
        component_cls=BriaAssetsComponent,
        defs_path="images",
        defs_yaml_contents={"type": component, "attributes": attributes},
    )


PHOTO = {
    "name": "photo",
    "family": "image",
    "operation": "generate",
    "request": {
        "prompt": "studio photo of a {{ row.colour }} {{ row.name }}",
        "aspect_ratio": "4:3",
        "seed": "{{ row.sku[4:] | int }}",
    },
}
CUTOUT = {
    "name": "cutout",
    "family": "edit",
    "operation": "remove_background",
    "upstream": ["photo"],
    "request": {"image": "{{ step.image.data }}"},
}


def _load_python_demo(monkeypatch: pytest.MonkeyPatch, emulator: Any) -> Any:
    monkeypatch.setenv("BRIA_BASE_URL", emulator.base_url)  # no emulator of its own
    spec = importlib.util.spec_from_file_location("component_demo_twin", REPO / "definitions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def _shape(defs: dg.Definitions) -> dict[str, Any]:
    """What both ways of declaring the demo must agree on."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "owners": list(node.owners),
            "kinds": sorted(node.kinds),
            "partitions": list(node.partitions_def.get_partition_keys())
            if node.partitions_def
            else None,
            "checks": sorted(c.name for c in node.check_keys),
            "pool": node.pools,
            "description": node.description,
        }
    sensors = {
        sensor.name: sorted(
            key.to_user_string()
            for target in sensor.targets
            for key in target.resolvable_to_job.selection.resolve(graph)  # type: ignore[union-attr]
        )
        for sensor in defs.sensors or []
    }
    return {"assets": assets, "sensors": sensors}


def test_the_demo_folder_builds_what_the_python_demo_builds(
    monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    python_defs = _load_python_demo(monkeypatch, emulator)
    demo = yaml.safe_load(DEMO_YAML.read_text())
    demo["attributes"]["table"]["path"] = str(DEMO_YAML.parents[2] / "products.csv")
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BriaAssetsComponent, defs_path="catalog", defs_yaml_contents=demo
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, BriaAssetsComponent)
            ours = _shape(defs)
    theirs = _shape(python_defs)
    # The tailored half of definitions.py (bria_dagster/demo/brand.py) and its video branch
    # (bria_dagster/demo/video.py: a clip made with PyAV) have no YAML form yet.
    catalog = {k: v for k, v in theirs["assets"].items() if v["group"] not in {"brand", "video"}}
    assert len(catalog) == len(theirs["assets"]) - 6
    assert ours["assets"] == catalog
    assert ours["sensors"] == {"bria_results": theirs["sensors"]["bria_results"]}
    assert ours["assets"]["cutout"]["checks"] == ["image_alpha", "image_readable"]
    assert ours["assets"]["ad_formats"]["checks"] == ["image_dimensions", "image_readable"]
    assert len(ours["assets"]["ad"]["partitions"]) == 12


def test_inline_steps_render_each_row_and_run_against_the_emulator(
    bria_env: dict[str, str], instance: dg.DagsterInstance, emulator: Any
) -> None:
    with create_defs_folder_sandbox() as sandbox:
        _write_table(sandbox.defs_folder_path / "images")
        path = scaffold_images(sandbox, _attributes([CUTOUT, PHOTO]))
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            assets = list(defs.assets or [])
            resources = dict(defs.resources or {})
            result = dg.materialize(
                assets, instance=instance, resources=resources, partition_key="SKU-9"
            )
    assert result.success
    (sent,) = emulator.requests(path="/v2/image/generate", method="POST")
    assert sent.json["prompt"] == "studio photo of a white City Sneaker"
    assert sent.json["seed"] == 9 and sent.json["aspect_ratio"] == "4:3"
    (cut,) = emulator.requests(path="/v2/image/edit/remove_background", method="POST")
    (photo,) = _records(_latest(instance, "photo", "SKU-9"))
    assert photo.uri.startswith(bria_env["BRIA_STORAGE_URI"])
    assert cut.json["image"]  # the stored photo, sent as base64
    evaluations = result.get_asset_check_evaluations()
    checks = {(c.asset_key.path[-1], c.check_name): c.passed for c in evaluations}
    assert checks == {
        ("photo", "image_readable"): True,
        ("photo", "image_dimensions"): True,
        ("cutout", "image_readable"): True,
        ("cutout", "image_alpha"): True,
    }


def _submit(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """Run the deferred step ``photo``'s submit asset for SKU-7."""
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(
        instance=instance, partition_key="SKU-7", asset_selection=[dg.AssetKey("photo_requests")]
    ).success


def _tick_until_reported(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> tuple[list[Any], list[dg.RunRequest]]:
    """Tick the component's result sensor, as the daemon would, until it reports a result:
    its events and run requests."""
    (sensor,) = defs.sensors or []
    resources = dict(defs.resources or {})
    events: list[Any] = []
    runs: list[dg.RunRequest] = []
    cursor = None
    for _ in range(50):
        data = run_tick(
            sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
        )
        cursor = data.cursor
        events.extend(data.asset_events)
        runs.extend(data.run_requests or [])
        if any(isinstance(e, dg.AssetMaterialization) for e in events):
            break
        time.sleep(0.1)
    return events, runs


def test_a_deferred_step_is_collected_by_the_components_sensor(
    bria_env: dict[str, str], instance: dg.DagsterInstance, emulator: Any
) -> None:
    photo = {**PHOTO, "mode": "deferred"}
    attributes = _attributes([photo, CUTOUT], sensor={"name": "photo_results"})
    with create_defs_folder_sandbox() as sandbox:
        _write_table(sandbox.defs_folder_path / "images")
        path = scaffold_images(sandbox, attributes)
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            _submit(defs, instance)
            assert [sensor.name for sensor in defs.sensors or []] == ["photo_results"]
            events, runs = _tick_until_reported(defs, instance)
    materialized = [e for e in events if isinstance(e, dg.AssetMaterialization)]
    assert [(m.asset_key.path, m.partition) for m in materialized] == [(["photo"], "SKU-7")]
    assert [(r.asset_selection, r.partition_key) for r in runs] == [
        ([dg.AssetKey("cutout")], "SKU-7")
    ]
    (sent,) = emulator.requests(path="/v2/image/generate", method="POST")
    assert sent.json["prompt"] == "studio photo of a red Trail Runner"


def test_a_template_that_fails_on_a_partition_fails_the_step_naming_the_field(
    bria_env: dict[str, str], instance: dg.DagsterInstance, emulator: Any
) -> None:
    typo = copy.deepcopy(PHOTO)
    typo["request"]["prompt"] = "a {{ row.nmae }}"  # row exists; its column does not
    with create_defs_folder_sandbox() as sandbox:
        _write_table(sandbox.defs_folder_path / "images")
        path = scaffold_images(sandbox, _attributes([typo]))
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            result = dg.materialize(
                list(defs.assets or []),
                instance=instance,
                resources=dict(defs.resources or {}),
                partition_key="SKU-7",
                raise_on_error=False,
            )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failure.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]
    assert "steps[0].request.prompt" in message and "nmae" in message
    assert emulator.requests(path="/v2/*", method="POST") == []


def test_the_readme_component_example_loads() -> None:
    text = (REPO / "README.md").read_text()
    section = text.split("### Declaring steps in YAML: the Dagster Component", 1)[1]
    example = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[0])
    assert example["type"] == COMPONENT
    example["attributes"]["table"]["path"] = str(DEMO_YAML.parents[2] / "products.csv")
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BriaAssetsComponent, defs_path="readme", defs_yaml_contents=example
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            graph = defs.resolve_asset_graph()
            keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"product_photo", "product_photo_requests", "cutout", "ad_formats"} <= keys


def test_every_template_of_the_demo_folder_renders_and_runs_for_one_sku(
    bria_env: dict[str, str], instance: dg.DagsterInstance, emulator: Any
) -> None:
    demo = yaml.safe_load(DEMO_YAML.read_text())
    attributes = demo["attributes"]
    attributes["table"]["path"] = str(DEMO_YAML.parents[2] / "products.csv")
    attributes["resources"]["bria"].update(FAST_BRIA)
    attributes["steps"][0]["mode"] = "inline"  # the whole chain in one run
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BriaAssetsComponent, defs_path="catalog", defs_yaml_contents=demo
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            job = defs.resolve_implicit_global_asset_job_def()
            result = job.execute_in_process(instance=instance, partition_key="SKU-1003")
    assert result.success
    (photo,) = emulator.requests(path="/v2/image/generate", method="POST")
    assert photo.json["prompt"] == (
        "studio photo of a green Summit Backpack, 28 litre hiking backpack with a rain cover"
    )
    assert photo.json["seed"] == 1003
    (shot,) = emulator.requests(path="/v1/product/lifestyle_shot_by_text", method="POST")
    assert shot.json["scene_description"].startswith("Summit Backpack on a sunlit terracotta")
    assert shot.json["sku"] == "SKU-1003"
    expands = emulator.requests(path="/v2/image/edit/expand", method="POST")
    assert sorted(e.json["aspect_ratio"] for e in expands) == ["16:9", "1:1", "9:16"]
    (ad,) = emulator.requests(path="/v1/ads/generate", method="POST")
    heading, image = ad.json["elements"]
    assert heading["content"] == "Summit Backpack"
    (square,) = [
        r for r in _records(_latest(instance, "ad_formats", "SKU-1003")) if r.variant == "1:1"
    ]
    assert image["content"] == square.result_url
    for step in ("cutout", "packshot", "lifestyle_shot", "ad_formats", "ad"):
        assert _records(_latest(instance, step, "SKU-1003")), step


@pytest.mark.parametrize("webhooks", [True, False])
def test_webhooks_on_or_off_for_the_components_deferred_steps(
    webhooks: bool,
    bria_env: dict[str, str],
    api_token: str,
    instance: dg.DagsterInstance,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger.from_url(bria_env["BRIA_LEDGER_URL"])
    attributes = _attributes([{**PHOTO, "mode": "deferred"}], webhooks=webhooks)
    attributes["resources"]["bria"]["webhook_url"] = "{{ env.TEST_WEBHOOK_URL }}"
    with (
        WebhookServer(create_webhook_app(ledger, api_token)) as receiver,
        create_defs_folder_sandbox() as sandbox,
    ):
        monkeypatch.setenv("TEST_WEBHOOK_URL", receiver.webhook_url)
        _write_table(sandbox.defs_folder_path / "images")
        path = scaffold_images(sandbox, attributes)
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            _submit(defs, instance)
            if webhooks:  # the receiver completes the row; the tick needs no status poll
                emulator_stats_after_deliveries(emulator, 1)
            events, _ = _tick_until_reported(defs, instance)
    reported = [e for e in events if isinstance(e, dg.AssetMaterialization)]
    assert [m.partition for m in reported] == ["SKU-7"]
    (sent,) = emulator.requests(path="/v2/image/generate", method="POST")
    stats = emulator.stats()
    if webhooks:
        assert sent.json["webhook_url"] == receiver.webhook_url
        assert stats.webhooks.delivered == 1 and stats.status_polls_total == 0
    else:
        assert "webhook_url" not in sent.json
        assert stats.webhooks.delivered == 0 and stats.status_polls_total >= 1
    ledger.dispose()
