"""Deterministic, safe object keys.

An object key is relative to the store's prefix and is built from the asset key, the partition
key and the request hash::

    <asset/key/parts>/<partition>/<request_hash[:16]>.<extension>
    bria/product_shots/SKU-123/3f2a9c0d1e2b4a5c.png
    bria/catalog/2024-06-01/SKU-9/3f2a9c0d1e2b4a5c.png      (multi-partition key "2024-06-01|SKU-9")

This is the layout of Dagster's ``UPathIOManager`` (a multi-partition key ``a|b`` becomes the
folders ``a/b``). Each asset-key part and partition piece becomes one path segment:
characters other than ASCII letters, digits and ``-._~`` are percent-encoded (UTF-8), and a
leading ``.`` is encoded too, so ``..``, ``/``, ``\\``, control characters and hidden names
cannot occur and ordinary values stay readable. Empty parts are refused. Encoding is injective
per segment (``urllib.parse.unquote`` gives the value back). Two different (asset, partition)
pairs can only share a key if they also share the request hash, that is, if they stored the
same Bria request; write-once then reuses the object.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from bria_dagster.storage.errors import StorageInputError

MAX_KEY_BYTES = 1024
"""S3's limit on a key; GCS and Azure allow as much or more."""

MAX_SEGMENT_BYTES = 255
"""The usual limit on one file name (ext4, APFS, NTFS)."""

HASH_CHARS = 16
"""How many hex digits of the request hash name the object."""

SIDECAR_SUFFIX = ".json"
"""``<key>.json`` holds an object's provenance; object keys may therefore not end with it."""

MULTIPARTITION_DELIMITER = "|"
"""Dagster's separator between the dimensions of a multi-partition key."""

_SEGMENT = re.compile(r"[A-Za-z0-9_~%=+,@-][A-Za-z0-9._~%=+,@-]*")
_HEX = re.compile(r"[0-9a-f]+")
_EXTENSION = re.compile(r"[a-z0-9]{1,16}")


def encode_segment(value: str, *, field: str) -> str:
    """Percent-encode one key segment (an asset-key part or a partition piece).

    Raises :class:`StorageInputError` naming ``field`` for an empty, non-text or too-long value.
    """
    if not isinstance(value, str):
        raise StorageInputError(field, f"must be a string, got {type(value).__name__}")
    if not value:
        raise StorageInputError(field, "must not be empty")
    try:
        encoded = quote(value, safe="", errors="strict")
    except UnicodeEncodeError as exc:
        raise StorageInputError(field, f"is not valid Unicode text ({exc.reason})") from None
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) > MAX_SEGMENT_BYTES:
        raise StorageInputError(
            field, f"is too long: {len(encoded)} bytes once encoded, at most {MAX_SEGMENT_BYTES}"
        )
    return encoded


def object_key(
    asset_key: Sequence[str],
    partition_key: str | None,
    request_hash: str,
    extension: str,
) -> str:
    """The deterministic key of a result: ``<asset/parts>/<partition>/<hash[:16]>.<ext>``.

    ``asset_key`` is the asset key's path (e.g. ``AssetKey.path``); ``partition_key`` is the
    partition key or ``None``; a multi-partition key ``a|b`` becomes two folders ``a/b``.
    ``request_hash`` is the hex digest identifying the request (at least 16 digits);
    ``extension`` is the file extension without the dot (``png``, ``mp4``; ``json`` is
    reserved for sidecars). Bad input raises :class:`StorageInputError` naming the field.
    """
    if isinstance(asset_key, str) or not isinstance(asset_key, Sequence):
        raise StorageInputError(
            "asset_key", "must be a sequence of strings such as ['bria', 'product_shots']"
        )
    if not asset_key:
        raise StorageInputError("asset_key", "must have at least one part")
    segments = [encode_segment(part, field=f"asset_key[{i}]") for i, part in enumerate(asset_key)]
    if partition_key is not None:
        if not isinstance(partition_key, str):
            raise StorageInputError(
                "partition_key", f"must be a string or None, got {type(partition_key).__name__}"
            )
        pieces = partition_key.split(MULTIPARTITION_DELIMITER)
        segments += [encode_segment(piece, field="partition_key") for piece in pieces]
    segments.append(f"{_short_hash(request_hash)}.{_extension(extension)}")
    key = "/".join(segments)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise StorageInputError(
            "partition_key" if partition_key else "asset_key",
            f"makes a key of {len(key.encode())} bytes, at most {MAX_KEY_BYTES}",
        )
    return key


def check_key(key: str, *, field: str = "key") -> str:
    """Validate a key handed to the store and return it; raise :class:`StorageInputError`.

    A key is a ``/``-separated relative path: no empty segment, no segment starting with ``.``
    (so no ``.`` or ``..``), ASCII letters, digits and ``._~%=+,@-`` only, at most 1024 bytes.
    Object keys may not end with ``.json`` (reserved for provenance sidecars).
    """
    if not isinstance(key, str):
        raise StorageInputError(field, f"must be a string, got {type(key).__name__}")
    if not key:
        raise StorageInputError(field, "must not be empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise StorageInputError(field, f"is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise StorageInputError(field, f"{key!r} must be relative to the store (no leading '/')")
    for segment in key.split("/"):
        _check_segment(segment, key, field)
    if key.endswith(SIDECAR_SUFFIX):
        raise StorageInputError(
            field,
            f"{key!r} ends with {SIDECAR_SUFFIX!r}, which is reserved for provenance sidecars",
        )
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: ``""``, a folder (``a/b/``) or the start of a key (``a/b/3f``)."""
    if not isinstance(prefix, str):
        raise StorageInputError("prefix", f"must be a string, got {type(prefix).__name__}")
    if prefix.startswith("/"):
        raise StorageInputError("prefix", f"{prefix!r} must be relative (no leading '/')")
    segments = prefix.split("/")
    for segment in segments[:-1]:
        _check_segment(segment, prefix, "prefix")
    if segments[-1]:
        _check_segment(segments[-1], prefix, "prefix")
    return prefix


def sidecar_key(key: str) -> str:
    """The key of ``key``'s provenance sidecar."""
    return key + SIDECAR_SUFFIX


def _check_segment(segment: str, key: str, field: str) -> None:
    if not segment:
        raise StorageInputError(field, f"{key!r} has an empty segment ('//' or a trailing '/')")
    if segment.startswith("."):
        raise StorageInputError(field, f"{key!r} has a segment starting with '.' ({segment!r})")
    if not _SEGMENT.fullmatch(segment):
        bad = next(c for c in segment if not _SEGMENT.fullmatch("a" + c))
        raise StorageInputError(
            field,
            f"{key!r} holds {bad!r}; keys use ASCII letters, digits and '._~%=+,@-' "
            "(build them with object_key())",
        )
    if len(segment.encode()) > MAX_SEGMENT_BYTES:
        raise StorageInputError(field, f"{key!r} has a segment longer than {MAX_SEGMENT_BYTES}")


def _short_hash(request_hash: str) -> str:
    if not isinstance(request_hash, str):
        raise StorageInputError(
            "request_hash", f"must be a hex string, got {type(request_hash).__name__}"
        )
    digest = request_hash.lower()
    if len(digest) < HASH_CHARS or not _HEX.fullmatch(digest):
        raise StorageInputError(
            "request_hash", f"must be a hex digest of at least {HASH_CHARS} digits"
        )
    return digest[:HASH_CHARS]


def _extension(extension: str) -> str:
    if not isinstance(extension, str):
        raise StorageInputError("extension", f"must be a string, got {type(extension).__name__}")
    ext = extension.lower().removeprefix(".")
    if not _EXTENSION.fullmatch(ext):
        raise StorageInputError(
            "extension", f"{extension!r} must be 1-16 ASCII letters or digits, e.g. 'png'"
        )
    if "." + ext == SIDECAR_SUFFIX:
        raise StorageInputError("extension", "'json' is reserved for provenance sidecars")
    return ext
