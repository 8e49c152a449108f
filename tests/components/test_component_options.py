"""BriaAssetsComponent's attributes: what each builds, and every bad value failing at load
(so in ``dg check defs``) naming its field."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from bria_dagster.components import BriaAssetsComponent, StepModel
from tests.components.conftest import FAST_BRIA
from tests.components.test_component_sandbox import CUTOUT, PHOTO, _write_table, scaffold_images

COMPONENT = "bria_dagster.components.BriaAssetsComponent"


@contextmanager
def _built(
    attributes: dict[str, Any], *, component: str = COMPONENT, table: bool = True
) -> Iterator[dg.Definitions]:
    with create_defs_folder_sandbox() as sandbox:
        if table:
            _write_table(sandbox.defs_folder_path / "images")
        path = scaffold_images(sandbox, attributes, component)
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            yield defs


def _base(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": {"path": "products.csv"},
        "partitions": {"column": "sku"},
        "steps": list(steps) or [copy.deepcopy(PHOTO)],
    }


def _text(exc: BaseException) -> str:
    parts = []
    current: BaseException | None = exc
    while current is not None:
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _with(path: str, value: Any, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """``attributes`` (default: one photo step) with ``value`` at the dotted ``path``."""
    result = copy.deepcopy(attributes or _base())
    target: Any = result
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return result


BAD = [
    (_with("steps.0.request.promt", "x"), "request.promt: unknown field (did you mean 'prompt'?)"),
    (_with("steps.0.request.aspect_ratio", "7:3"), "steps[0].request.aspect_ratio"),
    (_with("steps.0.request.prompt", "a {{ sku }}"), "may use ['partition_key', 'row', 'step']"),
    (_with("steps.0.request.prompt", "a {{ row.name "), "steps[0].request.prompt: bad template"),
    (_with("steps.0.operation", "paint"), "steps[0].operation: image has no operation 'paint'"),
    (_with("steps.0.family", "sculpture"), "steps[0].family: unknown family 'sculpture'"),
    (_with("steps.0.variants", {"a": {"prompt": "x"}}), "steps[0].request: give a request or"),
    (_with("resources", {"bria": {"api_token": "secret-123"}}), "resources.bria.api_token"),
    (_with("resources", {"bria": {"plan": "gold"}}), "resources.bria.plan"),
    (_with("webhooks", True), "resources.bria.webhook_url: webhooks: true needs"),
    (_with("partitions", {"column": "code"}), "table.key"),
    (_with("partitions", {"static": ["a"], "dynamic": "d"}), "partitions: set exactly one"),
    (_with("table", {"path": "missing.csv"}), "table.path: no file"),
    (_with("sensor", {"limits": {"max_pols": 3}}), "sensor.limits"),
    (_base(PHOTO, PHOTO), "steps[1].name: 'photo' is used twice"),
    (
        _base({**PHOTO, "upstream": ["cutout"]}, CUTOUT),
        "a cycle: photo -> cutout -> photo",
    ),
    (_with("steps.0.checks", ["image_alpha"], _base({**PHOTO, "mode": "deferred"})), "checks"),
]


@pytest.mark.parametrize(("attributes", "expected"), BAD, ids=[e for _, e in BAD])
def test_a_bad_attribute_fails_the_load_naming_its_field(
    attributes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(Exception) as raised, _built(attributes):
        pass
    assert expected in _text(raised.value)


def test_row_is_not_a_name_without_a_table() -> None:
    attributes = {"partitions": {"static": ["a"]}, "steps": [PHOTO]}
    with pytest.raises(Exception) as raised, _built(attributes, table=False):
        pass
    assert "may use ['partition_key', 'step']" in _text(raised.value)


def test_partitions_static_and_dynamic() -> None:
    static = {"steps": [{**PHOTO, "request": {"prompt": "{{ partition_key }}"}}]}
    static["partitions"] = {"static": ["a", "b"]}
    with _built(static, table=False) as defs:
        spec = defs.resolve_assets_def("photo").specs_by_key[dg.AssetKey("photo")]
        assert spec.partitions_def == dg.StaticPartitionsDefinition(["a", "b"])
    dynamic = {**static, "partitions": {"dynamic": "skus"}}
    with _built(dynamic, table=False) as defs:
        spec = defs.resolve_assets_def("photo").specs_by_key[dg.AssetKey("photo")]
        assert spec.partitions_def == dg.DynamicPartitionsDefinition(name="skus")
    unpartitioned = {"steps": static["steps"]}
    with _built(unpartitioned, table=False) as defs:
        assert defs.resolve_assets_def("photo").partitions_def is None


def test_resources_come_from_the_environment_and_secrets_stay_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEST_BRIA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TEST_STORE", (tmp_path / "s").as_uri())
    monkeypatch.setenv("TEST_LIMITER", "memory")
    monkeypatch.delenv("TEST_UNSET", raising=False)
    resources = {
        "bria": {
            "api_token_env": "MY_BRIA_TOKEN",
            "base_url": "{{ env.TEST_BRIA_URL }}",
            "rate_limit_backend": "{{ env.TEST_LIMITER }}",
            "webhook_url": "https://hooks.example.com/bria",
            "spend_scope": "{{ env.TEST_UNSET }}",
        },
        "storage": {"uri": "{{ env.TEST_STORE }}", "secret_access_key_env": "MY_S3_SECRET"},
        "ledger": {"url": "sqlite:///{{ env.TEST_STORE }}.db"},
    }
    with _built(_with("resources", resources)) as defs:
        found = dict(defs.resources or {})
    bria, storage = found["bria"], found["bria_storage"]
    assert bria.base_url == "http://127.0.0.1:9" and bria.rate_limit_backend == "memory"
    assert bria.spend_scope is None  # an unset variable leaves the default
    assert bria.webhook_url == "https://hooks.example.com/bria"
    assert isinstance(bria.api_token, dg.EnvVar) and bria.api_token.env_var_name == "MY_BRIA_TOKEN"
    assert isinstance(storage.secret_access_key, dg.EnvVar)
    assert storage.uri == (tmp_path / "s").as_uri()
    assert found["bria_io_manager"].storage == storage
    assert sorted(found) == ["bria", "bria_io_manager", "bria_ledger", "bria_storage"]

    off = _with("webhooks", False, _with("resources", resources))
    with _built(off) as defs:
        assert dict(defs.resources or {})["bria"].webhook_url is None
    with _built(_with("resources", None)) as defs:
        assert not defs.resources


def test_a_parquet_table_gives_its_typed_values(
    bria_env: dict[str, str], instance: dg.DagsterInstance, emulator: Any
) -> None:
    attributes = {
        "table": {"path": "items.parquet", "key": "code"},
        "partitions": {"column": "code"},
        "resources": {"bria": {"base_url": "{{ env.BRIA_BASE_URL }}", **FAST_BRIA}},
        "steps": [
            {
                "name": "photo",
                "family": "image",
                "operation": "generate",
                "request": {"prompt": "a {{ row.name }}", "seed": "{{ row.seed }}"},
            }
        ],
    }
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "images"
        folder.mkdir()
        table = pa.table({"code": ["p-1", "p-2"], "name": ["kettle", "lamp"], "seed": [31, 32]})
        pq.write_table(table, folder / "items.parquet")
        path = scaffold_images(sandbox, attributes)
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            photo = defs.resolve_assets_def("photo")
            assert photo.partitions_def == dg.StaticPartitionsDefinition(["p-1", "p-2"])
            job = defs.resolve_implicit_global_asset_job_def()
            assert job.execute_in_process(instance=instance, partition_key="p-2").success
    (sent,) = emulator.requests(path="/v2/image/generate", method="POST")
    assert sent.json["prompt"] == "a lamp" and sent.json["seed"] == 32


class LabelledBriaAssets(BriaAssetsComponent):
    """Puts every step under the ``brand`` prefix, with the table's name as metadata."""

    def get_asset_spec(self, step: StepModel) -> dg.AssetSpec:
        spec = super().get_asset_spec(step)
        return spec.replace_attributes(
            key=spec.key.with_prefix("brand"), metadata={"source_table": "products.csv"}
        ).merge_attributes(tags={"team": "content"})


def test_get_asset_spec_names_and_labels_the_steps() -> None:
    deferred = {**PHOTO, "mode": "deferred"}
    component = f"{__name__}.LabelledBriaAssets"
    with _built(_base(deferred, CUTOUT), component=component) as defs:
        graph = defs.resolve_asset_graph()
        keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
        assert keys == {"brand/photo", "brand/photo_requests", "brand/cutout"}
        cutout = graph.get(dg.AssetKey(["brand", "cutout"]))
        assert cutout.parent_keys == {dg.AssetKey(["brand", "photo"])}
        assert cutout.metadata["source_table"] == "products.csv"
        assert cutout.tags["team"] == "content"
        assert graph.get(dg.AssetKey(["brand", "photo"])).metadata["bria/mode"] == "deferred"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sku,name\nA,x\nA,y\n", "table.key: products.csv row 2: sku 'A' appears twice"),
        ("sku,name\n,x\n", "table.key: products.csv row 1: empty sku"),
        ("code,name\nA,x\n", "table.key: products.csv has no column 'sku'"),
    ],
)
def test_a_table_with_a_bad_key_column_fails_naming_the_row(text: str, expected: str) -> None:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "images"
        folder.mkdir()
        (folder / "products.csv").write_text(text)
        path = scaffold_images(sandbox, _base())
        with (
            pytest.raises(Exception) as raised,
            sandbox.load_component_and_build_defs(defs_path=path),
        ):
            pass
    assert expected in _text(raised.value)
