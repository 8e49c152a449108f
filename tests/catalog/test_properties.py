"""Malformed input thrown at every request model, directly and through the client methods.

Each mutation of a valid body (wrong type, out-of-range number or length, bad enum value,
missing required field, unknown field, forbidden combination) must give pydantic's
ValidationError from the model and BriaInputError from the client method — never another
exception, and never a request: the client's transport fails the test if it is called.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bria_dagster.client.catalog import CATALOG
from bria_dagster.client.catalog.registry import OperationSpec
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types.base import BriaRequest

from .conftest import CatalogClient
from .examples import IMG, MINIMAL, SP, VID
from .model_schema import bound, branches, enum_values, json_types, model_schema

SPECS: list[OperationSpec] = sorted(CATALOG.values(), key=lambda spec: spec.path)

FORBIDDEN: dict[str, list[dict[str, Any]]] = {
    "/v2/image/generate": [
        {"prompt": "x", "images": [IMG], "structured_prompt": SP},
        {"images": [IMG], "style": "kodak_film"},
        {"prompt": "x", "aspect_ratio": "2:1", "resolution": "4MP"},
    ],
    "/v2/image/generate/lite": [{"images": [IMG], "structured_prompt": SP}],
    "/v2/structured_prompt/generate": [
        {"structured_prompt": SP},
        {"images": [IMG], "structured_prompt": SP, "prompt": "x"},
    ],
    "/v2/image/edit/replace_background": [{"image": IMG, "prompt": "x", "ref_images": IMG}],
    "/v2/image/edit/expand": [
        {
            "image": IMG,
            "aspect_ratio": "1:1",
            "original_image_size": [5, 5],
            "original_image_location": [0, 0],
        },
        {"image": IMG, "original_image_size": [5, 5]},
    ],
    "/v2/image/edit": [{"images": [IMG], "instruction": "x", "structured_instruction": SP}],
    "/v1/product/cutout": [{"image_url": IMG, "file": IMG}, {}],
    "/v1/product/lifestyle_shot_by_text": [
        {"image_url": IMG, "scene_description": "x", "placement_type": "automatic", "sync": True},
        {"image_url": IMG, "scene_description": "x", "manual_placement_selection": ["upper_left"]},
    ],
    "/v1/product/lifestyle_shot_by_image": [
        {"image_url": IMG, "ref_image_urls": [IMG], "ref_image_file": [IMG]}
    ],
    "/v1/tailored-gen/datasets/{dataset_id}/images/{image_id}": [
        {"caption": SP, "regenerate_caption": True}
    ],
    "/v2/video/edit/remove_background": [
        {"video": VID, "background_color": "Transparent", "output_container_and_codec": "gif"}
    ],
    "/v2/image/edit/enhance": [{"image": IMG, "sync": True}],
}
"""Combinations Bria's rules forbid, per operation (on top of the generic mutations)."""

WRONG_BY_TYPE: dict[str, list[Any]] = {
    "string": [17, 2.5, True, ["x"], {"k": "v"}],
    "integer": ["7", 2.5, True, [1], {"k": 1}],
    "number": ["0.5", True, [1.0], {"k": 1}],
    "boolean": ["true", 1, 0, [True], {"k": True}],
    "array": [5, True, {"k": []}],
    "object": [5, True, ["x"]],
}
"""Values of the wrong JSON type for each declared type."""


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _accepts(prop: dict[str, Any], value: Any) -> bool:
    kinds = json_types(prop) or ({"string"} if enum_values(prop) else set())
    kind = _json_kind(value)
    if kind == "integer" and "number" in kinds:
        return True
    if prop.get("contentMediaType") == "application/json" or any(
        b.get("contentMediaType") == "application/json" for b in branches(prop)
    ):
        kinds = kinds | {"object"}  # a JSON-text field also takes a dict (serialised)
    return kind in kinds


def _mutations(spec: OperationSpec) -> list[tuple[str, dict[str, Any]]]:
    """Every invalid body derived from the operation's minimal valid body."""
    model = spec.request_model
    assert model is not None
    base = MINIMAL[model]
    schema = model_schema(model)
    found: list[tuple[str, dict[str, Any]]] = []
    for name in schema.get("required", []):
        found.append((f"missing {name}", {k: v for k, v in base.items() if k != name}))
    for name, prop in schema.get("properties", {}).items():
        for kinds in (json_types(prop) or {"string"},):
            for kind in sorted(kinds):
                for wrong in WRONG_BY_TYPE.get(kind, []):
                    if not _accepts(prop, wrong):
                        found.append((f"{name}={wrong!r}", {**base, name: wrong}))
        enum = enum_values(prop)
        if enum and not prop.get("x-open-enum") and all(isinstance(v, str) for v in enum):
            found.append((f"{name} not in enum", {**base, name: "not-a-listed-value"}))
        low, high = bound(prop, "minimum"), bound(prop, "maximum")
        if low is not None:
            value = low - 1 if isinstance(low, int) else low / 2 - 1
            found.append((f"{name} below minimum", {**base, name: value}))
        if high is not None:
            value = high + 1 if isinstance(high, int) else high * 2 + 1
            found.append((f"{name} above maximum", {**base, name: value}))
        longest = bound(prop, "maxItems")
        if longest is not None:
            item = (base.get(name) or [IMG])[0]
            found.append((f"{name} too long", {**base, name: [item] * (longest + 1)}))
    found += [(f"forbidden {i}", body) for i, body in enumerate(FORBIDDEN.get(spec.path, []))]
    found.append(("unknown field", {**base, "surely_not_a_field": 1}))
    return found


MUTATIONS = [(spec, label, body) for spec in SPECS for label, body in _mutations(spec)]


class _NoNetwork(httpx.BaseTransport):
    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        pytest.fail(f"no request may be sent, got {request.method} {request.url}")


@pytest.fixture(scope="module")
def offline() -> Iterator[tuple[CatalogClient, _NoNetwork]]:
    transport = _NoNetwork()
    with CatalogClient(
        api_token="tok-offline",
        base_url="http://127.0.0.1:9",
        transport=transport,
        rate_limit_backend="memory",
    ) as client:
        yield client, transport


def _call(client: CatalogClient, spec: OperationSpec, body: dict[str, Any]) -> Any:
    target: Any = client
    for part in spec.name.split("."):
        target = getattr(target, part)
    positional: list[Any] = [1] * spec.path.count("{")
    if spec.name == "video.upload":
        # upload(source, *, media_type=...) has an explicit signature: an unknown keyword is a
        # TypeError there, as for any Python function, so only its real field is passed.
        positional = [b"\x00\x00\x00\x18ftypmp42"]
        body = {"media_type": body.get("media_type", 17)}
    return target(*positional, **body)


def test_every_model_has_mutations() -> None:
    covered = {spec.path for spec, _, _ in MUTATIONS}
    assert covered == set(CATALOG)
    assert len(MUTATIONS) > 1000


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.sampled_from(MUTATIONS))
def test_each_mutation_is_a_validation_error(
    case: tuple[OperationSpec, str, dict[str, Any]], offline: tuple[CatalogClient, _NoNetwork]
) -> None:
    spec, label, body = case
    model = spec.request_model
    assert model is not None
    with pytest.raises(ValidationError):
        model.model_validate(body)
    client, transport = offline
    with pytest.raises(BriaInputError) as caught:
        _call(client, spec, body)
    assert caught.value.field, label
    assert transport.calls == []


def test_every_mutation_once(offline: tuple[CatalogClient, _NoNetwork]) -> None:
    client, transport = offline
    accepted: list[str] = []
    for spec, label, body in MUTATIONS:
        assert spec.request_model is not None
        try:
            spec.request_model.model_validate(body)
        except ValidationError:
            pass
        else:
            accepted.append(f"{spec.path}: {label}")
        with pytest.raises(BriaInputError):
            _call(client, spec, body)
    assert accepted == []
    assert transport.calls == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(string.ascii_lowercase, max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def junk_bodies(draw: st.DrawFn) -> tuple[type[BriaRequest], dict[str, Any]]:
    model: type[BriaRequest] = draw(st.sampled_from(list(MINIMAL)))
    names = [*model.model_fields, "zzz"]
    body = dict(MINIMAL[model])
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        body[name] = draw(json_values)
    return model, body


@settings(max_examples=400, deadline=None)
@given(case=junk_bodies())
def test_arbitrary_json_gives_a_model_or_a_validation_error(
    case: tuple[type[BriaRequest], dict[str, Any]],
) -> None:
    model, body = case
    try:
        request = model.model_validate(body)
    except ValidationError:
        return
    try:
        payload = request.to_payload()
    except BriaInputError:  # an image value that is not an image: refused, before any call
        return
    assert model.model_validate(payload) is not None
