"""Deterministic keys: readable for ordinary values, never escaping the store's prefix."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from upath import UPath

from bria_dagster.storage import (
    ObjectStore,
    StorageInputError,
    check_key,
    encode_segment,
    object_key,
)
from bria_dagster.storage.keys import MAX_SEGMENT_BYTES

HASH = "3f2a9c0d1e2b4a5c" + "9" * 48


def test_ordinary_values_stay_readable() -> None:
    assert (
        object_key(["bria", "product_shots"], "SKU-123", HASH, "png")
        == "bria/product_shots/SKU-123/3f2a9c0d1e2b4a5c.png"
    )
    assert (
        object_key(["bria", "gen"], None, HASH.upper(), ".PNG") == "bria/gen/3f2a9c0d1e2b4a5c.png"
    )
    assert object_key(["a"], "2024-06-01", HASH, "mp4") == "a/2024-06-01/3f2a9c0d1e2b4a5c.mp4"


def test_multi_partition_key_becomes_one_folder_per_dimension() -> None:
    assert (
        object_key(["bria", "catalog"], "2024-06-01|SKU-9", HASH, "png")
        == "bria/catalog/2024-06-01/SKU-9/3f2a9c0d1e2b4a5c.png"
    )


@pytest.mark.parametrize(
    ("partition", "segment"),
    [
        ("..", "%2E."),
        (".", "%2E"),
        (".hidden", "%2Ehidden"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        ("/abs/path", "%2Fabs%2Fpath"),
        ("C:\\win\\path", "C%3A%5Cwin%5Cpath"),
        ("tab\there", "tab%09here"),
        ("nul\x00byte", "nul%00byte"),
        ("new\nline", "new%0Aline"),
        ("100%", "100%25"),
        ("café ☕", "caf%C3%A9%20%E2%98%95"),
        ("a?b#c", "a%3Fb%23c"),
    ],
)
def test_odd_partition_keys_are_percent_encoded(partition: str, segment: str) -> None:
    key = object_key(["asset"], partition, HASH, "png")
    assert key == f"asset/{segment}/3f2a9c0d1e2b4a5c.png"
    assert unquote(segment) == partition


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"partition_key": ""}, "partition_key"),
        ({"partition_key": "a||b"}, "partition_key"),
        ({"partition_key": "|"}, "partition_key"),
        ({"partition_key": 7}, "partition_key"),
        ({"partition_key": "\ud800"}, "partition_key"),
        ({"partition_key": "x" * (MAX_SEGMENT_BYTES + 1)}, "partition_key"),
        ({"asset_key": []}, "asset_key"),
        ({"asset_key": "bria/gen"}, "asset_key"),
        ({"asset_key": ["bria", ""]}, "asset_key[1]"),
        ({"asset_key": ["bria", None]}, "asset_key[1]"),
        ({"request_hash": "abc"}, "request_hash"),
        ({"request_hash": "z" * 64}, "request_hash"),
        ({"request_hash": "../" * 8}, "request_hash"),
        ({"extension": "json"}, "extension"),
        ({"extension": "png/../x"}, "extension"),
        ({"extension": ""}, "extension"),
    ],
)
def test_bad_parts_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "asset_key": ["bria", "gen"],
        "partition_key": None,
        "request_hash": HASH,
        "extension": "png",
        **kwargs,
    }
    with pytest.raises(StorageInputError) as caught:
        object_key(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_too_long_keys_are_refused() -> None:
    parts = ["p" * 200] * 6
    with pytest.raises(StorageInputError, match="at most 1024"):
        object_key(parts, None, HASH, "png")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs/x.png",
        "../x.png",
        "a/../x.png",
        "a/./x.png",
        "a//x.png",
        "a/x.png/",
        "a\\x.png",
        "a/\x00.png",
        "a/x\n.png",
        "a/.hidden.png",
        "a/x.png.json",
        "a/x y.png",
        "a/é.png",
        "a/x?.png",
    ],
)
def test_store_refuses_unsafe_keys_before_any_io(key: str, tmp_path: Path) -> None:
    store = ObjectStore.from_uri(str(tmp_path / "store"))
    with pytest.raises(StorageInputError) as caught:
        store.put(key, [b"data"], content_type="image/png", provenance={})
    assert caught.value.field == "key"
    assert not (tmp_path / "store").exists()


segment_text = st.text(min_size=1, max_size=40)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    asset_key=st.lists(segment_text, min_size=1, max_size=4),
    partition_key=st.none() | st.text(max_size=60),
)
@example(asset_key=[".."], partition_key="..|..")
@example(asset_key=["a/../../b"], partition_key="/etc/passwd")
@example(asset_key=["\\\\server\\share"], partition_key="C:\\x|..\\..")
@example(asset_key=["~"], partition_key="~root")
def test_no_generated_key_leaves_the_prefix(
    asset_key: list[str], partition_key: str | None, tmp_path: Path
) -> None:
    try:
        key = object_key(asset_key, partition_key, HASH, "png")
    except StorageInputError as error:
        # Only empty parts (incl. empty multi-partition dimensions) and overlong values.
        assert error.field in {"partition_key", "asset_key"} | {f"asset_key[{i}]" for i in range(4)}
        return

    assert check_key(key) == key
    assert posixpath.normpath(key) == key
    segments = key.split("/")
    assert all(segment and not segment.startswith(".") for segment in segments)
    assert not any(c in key for c in "\\\x00\n\r\t")

    # It resolves inside the root on a real filesystem and on an fsspec URI.
    root = tmp_path.resolve()
    assert Path(os.path.realpath(root / key)).is_relative_to(root)
    assert UPath(f"memory://bucket/prefix/{key}").path.startswith("/bucket/prefix/")

    # Decoding gives every part back: the encoding is injective per segment.
    pieces = [] if partition_key is None else partition_key.split("|")
    assert [unquote(s) for s in segments[:-1]] == [*asset_key, *pieces]
    assert segments[-1] == "3f2a9c0d1e2b4a5c.png"


@given(value=st.text(min_size=1, max_size=20))
def test_segment_encoding_round_trips(value: str) -> None:
    encoded = encode_segment(value, field="v")
    assert "/" not in encoded
    assert unquote(encoded) == value
