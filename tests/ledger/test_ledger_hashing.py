"""canonical_payload_hash: equal for the same request, different for any changed value.

Pure functions: these tests need no database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import (
    canonical_json,
    canonical_payload,
    canonical_payload_hash,
    request_summary,
)

ENDPOINT = "/v2/image/generate"
IMAGE_BYTES = bytes(range(256)) * 4
IMAGE_B64 = base64.b64encode(IMAGE_BYTES).decode()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


def _reordered(value: Any, rng: random.Random) -> Any:
    """The same value with every mapping's keys in a shuffled order and None-valued keys added."""
    if isinstance(value, dict):
        items = [(key, _reordered(item, rng)) for key, item in value.items()]
        items.append((f"extra-{rng.random()}", None))
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_reordered(item, rng) for item in value]
    return value


@given(payloads, st.integers(0, 2**32))
def test_key_order_and_none_values_do_not_change_the_hash(
    payload: dict[str, Any], seed: int
) -> None:
    variant = _reordered(payload, random.Random(seed))
    assert canonical_payload_hash(ENDPOINT, variant) == canonical_payload_hash(ENDPOINT, payload)


@given(payloads, st.data())
def test_any_changed_value_changes_the_hash(payload: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.text(max_size=8), label="key")
    new = data.draw(scalars.filter(lambda v: v is not None), label="new value")
    old = payload.get(key)
    changed = {**payload, key: new}
    same_json = old is not None and json.dumps(canonical_payload({"k": old})) == json.dumps(
        {"k": new}
    )
    if same_json:
        assert canonical_payload_hash(ENDPOINT, changed) == canonical_payload_hash(
            ENDPOINT, payload
        )
    else:
        assert canonical_payload_hash(ENDPOINT, changed) != canonical_payload_hash(
            ENDPOINT, payload
        )


@given(payloads)
def test_the_endpoint_is_part_of_the_hash(payload: dict[str, Any]) -> None:
    assert canonical_payload_hash("image/generate", payload) == canonical_payload_hash(
        "/v2/image/generate", payload
    )
    assert canonical_payload_hash(ENDPOINT, payload) != canonical_payload_hash(
        "/v2/image/edit/remove_background", payload
    )


def test_canonical_json_is_compact_and_sorted() -> None:
    text = canonical_json("image/generate", {"seed": 5, "prompt": "a cat", "steps": None})
    assert text == '{"endpoint":"/v2/image/generate","payload":{"prompt":"a cat","seed":5}}'
    assert (
        canonical_payload_hash(ENDPOINT, {"b": (1, 2), "a": "x"})
        == hashlib.sha256(
            b'{"endpoint":"/v2/image/generate","payload":{"a":"x","b":[1,2]}}'
        ).hexdigest()
    )
    # None inside a list keeps its place; 1 and 1.0 and True are different values.
    assert canonical_payload({"l": [1, None]}) == {"l": [1, None]}
    hashes = {canonical_payload_hash(ENDPOINT, {"v": v}) for v in (1, 1.0, True, "1")}
    assert len(hashes) == 4


def test_base64_images_are_replaced_by_the_digest_of_their_bytes() -> None:
    digest = "sha256:" + hashlib.sha256(IMAGE_BYTES).hexdigest()
    bare = {"image": IMAGE_B64}
    with_header = {"image": "data:image/png;base64," + IMAGE_B64}
    assert canonical_payload(bare) == {"image": digest}
    assert canonical_payload(with_header) == {"image": digest}
    assert canonical_payload_hash(ENDPOINT, bare) == canonical_payload_hash(ENDPOINT, with_header)
    other = base64.b64encode(IMAGE_BYTES[::-1]).decode()
    assert canonical_payload_hash(ENDPOINT, {"image": other}) != canonical_payload_hash(
        ENDPOINT, bare
    )
    # Short strings, URLs and prose stay as they are.
    kept = {"a": "aGVsbG8=", "url": "https://cdn.example/x.png", "prompt": "word " * 100}
    assert canonical_payload(kept) == kept


def test_request_summary_is_small() -> None:
    structured = json.dumps({"objects": ["a cat"] * 3000})
    summary = request_summary(
        {"prompt": "a cat", "seed": 3, "images": [IMAGE_B64], "structured_prompt": structured}
    )
    assert summary["prompt"] == "a cat"
    assert summary["seed"] == 3
    assert summary["images"] == ["sha256:" + hashlib.sha256(IMAGE_BYTES).hexdigest()]
    assert summary["structured_prompt"].startswith(structured[:2000])
    assert summary["structured_prompt"].endswith(f"[{len(structured)} chars]")
    assert len(json.dumps(summary)) < 4000  # of ~28,000 characters of input


@pytest.mark.parametrize(
    ("endpoint", "payload", "field"),
    [
        (ENDPOINT, {"a": {"b": [1, float("nan")]}}, "payload.a.b[1]"),
        (ENDPOINT, {"a": {1: "x"}}, "payload.a"),
        (ENDPOINT, {"when": object()}, "payload.when"),
        (ENDPOINT, ["not", "a", "mapping"], "payload"),
        ("https://evil/v2/x", {}, "endpoint"),
        ("", {}, "endpoint"),
    ],
)
def test_bad_payloads_name_the_field(endpoint: str, payload: Any, field: str) -> None:
    with pytest.raises(BriaInputError) as raised:
        canonical_payload_hash(endpoint, payload)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
