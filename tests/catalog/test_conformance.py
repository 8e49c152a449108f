"""The catalog against Bria's own OpenAPI files, operation by operation.

For every operation of Bria's OpenAPI files (``tests/data/bria-openapi/*.yml``) either the
catalog covers it with the same method, the same request fields, enum values, required inputs
and ranges (differences only where the model's ``spec_notes`` explains them), and accepts the
spec's own example bodies — or it is listed in ``NOT_COVERED`` with the reason.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest

from bria_dagster.client.catalog import CATALOG, OPERATIONS, CatalogMixin
from bria_dagster.client.catalog.registry import family_of
from bria_dagster.client.types.base import (
    ENVELOPE_FIELDS,
    AsyncOnlyRequest,
    BriaRequest,
    JobRequest,
)

from .model_schema import bound, branches, enum_values, json_types, model_schema
from .openapi import SPEC_DIR, SpecOperation, load_operations, properties, required

NOT_COVERED: dict[tuple[str, str], str] = {
    (
        "GET",
        "/v2/status/{request_id}",
    ): "the client core's status()/wait() cover the Status Service",
    ("POST", "/v1/caption"): "AI search, deprecated by Bria (ai-search-deperecated.yml)",
    ("GET", "/v1/search"): "AI search, deprecated by Bria (ai-search-deperecated.yml)",
    ("GET", "/v1/search_similar_images"): "AI search, deprecated by Bria",
    ("POST", "/v1/register"): "v1 image onboarding: visual ids only feed the deprecated search "
    "and the v1 mask generator, neither of which the client offers",
    ("POST", "/v1/{visual_id}/remove_image"): "v1 image onboarding (see /v1/register)",
    ("POST", "/v1/products/consistent_shots"): "'coming soon' in the spec: no request schema",
    ("POST", "/v1/product/contextual_keyword_extraction"): "'coming soon': no request schema",
    ("POST", "/v1/product/vehicle/shot_by_image"): "'coming soon' in the spec: no request schema",
}
"""Spec operations the catalog leaves out, with the reason. Keep this list short."""

NOT_IN_SPEC: dict[str, str] = {
    "/v2/image/edit/remove_background/guided": "bria-mcp editing.py, Comfy-Org docs",
    "/v2/image/edit/product/holding": "bria-mcp editing.py, Comfy-Org docs",
    "/v2/image/edit/product/virtual-tryon": "bria-mcp editing.py, Comfy-Org docs",
    "/v2/ads/delayer": "bria-mcp ads.py",
    "/v2/ads/resize": "bria-mcp ads.py",
    "/v2/video/upload": "docs.bria.ai/local-video-upload-service, bria-client upload()",
    "/v2/image/segment/all_masks": "docs.bria.ai/image-editing/v2-endpoints/generate-all-masks",
}
"""Catalog operations Bria's OpenAPI files do not describe, with where they come from."""

BAD_EXAMPLES: dict[tuple[str, str], str] = {
    ("/v2/structured_prompt/generate/tailored", "Refinement"): (
        'its structured_prompt is the elided "{\\"main_subject\\": ...}", not JSON'
    ),
}
"""Spec examples that are not valid bodies, with the reason."""

PLACEHOLDERS = ("URL", "example")
"""Placeholder strings of the spec's examples, replaced by a real-looking URL before validating."""


def _covered() -> list[SpecOperation]:
    return [op for op in load_operations() if (op.method, op.path) not in NOT_COVERED]


def _with_body() -> list[SpecOperation]:
    return [op for op in _covered() if op.body is not None]


def _examples() -> list[tuple[SpecOperation, str, Any]]:
    return [(op, name, body) for op in _with_body() for name, body in op.examples.items()]


# --- the comparison ---------------------------------------------------------------------------


def _nested_model(model: type[BriaRequest], field: str) -> type[BriaRequest] | None:
    def find(annotation: Any) -> type[BriaRequest] | None:
        if isinstance(annotation, type) and issubclass(annotation, BriaRequest):
            return annotation
        for arg in get_args(annotation):
            found = find(arg)
            if found is not None:
                return found
        return None

    return find(model.model_fields[field].annotation)


def _object_schema(prop: dict[str, Any]) -> dict[str, Any] | None:
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        prop = prop["items"]
    return prop if prop.get("type") == "object" and prop.get("properties") else None


def _compare(spec: dict[str, Any], model: type[BriaRequest], where: str) -> list[str]:
    """Every difference between a spec body schema and a model not explained by spec_notes."""
    problems: list[str] = []
    notes = model.all_spec_notes()
    ours = model_schema(model)
    our_props: dict[str, Any] = ours.get("properties", {})
    spec_props = properties(spec)
    allowed_extra = set(ENVELOPE_FIELDS) if issubclass(model, JobRequest) else set()
    for name in sorted(set(spec_props) - set(our_props)):
        problems.append(f"{where}.{name}: in the spec, missing from {model.__name__}")
    for name in sorted(set(our_props) - set(spec_props) - allowed_extra - set(notes)):
        problems.append(f"{where}.{name}: not in the spec and no spec_note explains it")
    spec_required, our_required = required(spec), set(ours.get("required", []))
    for name in sorted((spec_required ^ our_required) - set(notes)):
        side = "the spec" if name in spec_required else model.__name__
        problems.append(f"{where}.{name}: required only by {side}")
    for name, spec_prop in spec_props.items():
        if name not in our_props:
            continue
        ours_prop, noted = our_props[name], name in notes
        problems += _compare_prop(spec_prop, ours_prop, noted, f"{where}.{name}")
        nested_spec = _object_schema(spec_prop)
        nested_model = _nested_model(model, name)
        if nested_spec is not None and nested_model is not None:
            problems += _compare(nested_spec, nested_model, f"{where}.{name}")
        elif nested_spec is not None and not noted:
            problems.append(f"{where}.{name}: the spec nests an object, the model does not")
    return problems


def _compare_prop(spec: dict[str, Any], ours: dict[str, Any], noted: bool, where: str) -> list[str]:
    problems: list[str] = []
    spec_enum = set(spec.get("enum", ())) or set((spec.get("items") or {}).get("enum", ()))
    our_enum = enum_values(ours) or set().union(
        *(enum_values(b.get("items", {})) for b in branches(ours))
    )
    if spec_enum and not (our_enum == spec_enum or (noted and our_enum >= spec_enum)):
        problems.append(f"{where}: enum {sorted(map(str, our_enum))} != spec {sorted(spec_enum)}")
    if our_enum and not spec_enum and not noted and not ours.get("x-open-enum"):
        problems.append(f"{where}: the model limits values the spec leaves open")
    spec_types = set(spec["type"] if isinstance(spec.get("type"), list) else [spec.get("type")])
    spec_types.discard(None)
    if "number" in spec_types:
        spec_types.add("integer")
    if spec_types and not noted and not json_types(ours) <= spec_types:
        problems.append(f"{where}: type {sorted(json_types(ours))} vs spec {sorted(spec_types)}")
    for key in ("minimum", "maximum", "minItems", "maxItems"):
        if key in spec and bound(ours, key) != spec[key] and not noted:
            problems.append(f"{where}: {key} {bound(ours, key)} != spec {spec[key]}")
    return problems


# --- coverage ---------------------------------------------------------------------------------


def test_spec_files_are_found() -> None:
    assert SPEC_DIR.is_dir(), SPEC_DIR
    assert len(load_operations()) > 90


def test_every_spec_operation_is_covered_or_listed_with_a_reason() -> None:
    missing = [
        f"{op.method} {op.path} ({op.file})"
        for op in load_operations()
        if (op.method, op.path) not in OPERATIONS and (op.method, op.path) not in NOT_COVERED
    ]
    assert missing == []
    spec_keys = {(op.method, op.path) for op in load_operations()}
    assert set(NOT_COVERED) <= spec_keys, "a NOT_COVERED entry is not in the spec any more"
    assert not set(NOT_COVERED) & set(OPERATIONS), "listed as not covered but covered"
    assert len(NOT_COVERED) <= 10


def test_operations_beyond_the_spec_are_listed_with_their_source() -> None:
    spec_keys = {(op.method, op.path) for op in load_operations()}
    extra = {path for (method, path) in OPERATIONS if (method, path) not in spec_keys}
    assert extra == set(NOT_IN_SPEC)
    for path in NOT_IN_SPEC:
        model = CATALOG[path].request_model
        assert model is not None and model.spec_notes, f"{path}: say where it comes from"


def test_body_models_exist_exactly_where_the_spec_has_a_body() -> None:
    for op in _covered():
        spec = OPERATIONS[(op.method, op.path)]
        assert (spec.request_model is not None) == (op.body is not None), op.path


@pytest.mark.parametrize("op", _with_body(), ids=lambda op: f"{op.method} {op.path}")
def test_model_names_the_spec_fields_enums_required_and_ranges(op: SpecOperation) -> None:
    spec = CATALOG[op.path]
    assert spec.method == op.method
    assert spec.request_model is not None and op.body is not None
    assert _compare(op.body, spec.request_model, op.path) == []


def _fill(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item) for item in value]
    return "https://placeholder.example.com/x.png" if value in PLACEHOLDERS else value


@pytest.mark.parametrize(
    ("op", "name", "body"), _examples(), ids=lambda v: v.path if hasattr(v, "path") else None
)
def test_spec_examples_are_valid_bodies(op: SpecOperation, name: str, body: Any) -> None:
    model = CATALOG[op.path].request_model
    assert model is not None
    if (op.path, name) in BAD_EXAMPLES:
        with pytest.raises(ValueError):
            model.model_validate(_fill(body))
        return
    request = model.model_validate(_fill(body))
    # The wire body keeps the example's fields (ids may be normalised to the spec's string type).
    assert set(request.model_dump(exclude_none=True)) == {
        k for k, v in body.items() if v is not None
    }


def test_there_are_examples_to_check() -> None:
    assert len(_examples()) >= 70


def test_notes_name_real_fields() -> None:
    models = {spec.request_model for spec in CATALOG.values()}
    stack = [m for m in models if m is not None]
    seen: set[type[BriaRequest]] = set()
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        assert set(model.spec_notes) <= set(model.model_fields), model.__name__
        stack += [n for f in model.model_fields if (n := _nested_model(model, f)) is not None]


# --- the registry itself ----------------------------------------------------------------------


def test_registry_is_consistent() -> None:
    assert len({spec.request_model for spec in CATALOG.values()}) == len(CATALOG)
    for spec in OPERATIONS.values():
        assert family_of(spec.path).name == spec.family, spec.path
        if spec.request_model is not None:
            assert CATALOG[spec.path] is spec
        if spec.path.startswith("/v1/"):
            assert spec.sync == "always", spec.path
        refused = issubclass(spec.request_model or object, AsyncOnlyRequest)
        assert (spec.sync == "refused") == refused, spec.path
        if spec.sync == "allowed":
            assert issubclass(spec.request_model or object, JobRequest), spec.path


class _Client(CatalogMixin[Any]):
    def run(self, endpoint: str, payload: Any) -> Any:
        raise AssertionError("no call expected")


def test_every_operation_is_a_client_method() -> None:
    client = _Client()
    for spec in OPERATIONS.values():
        target: Any = client
        for part in spec.name.split("."):
            target = getattr(target, part)
        assert callable(target), spec.name
        if hasattr(target, "spec"):
            assert target.spec is spec
