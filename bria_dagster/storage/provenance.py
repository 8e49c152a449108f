"""Provenance: what an object is and where it came from.

The caller's provenance (request_id, endpoint, prompt, seed, anything JSON-serialisable) is
stored twice: in full as the JSON sidecar ``<key>.json`` (portable across backends), and as a
few small ASCII fields of backend user metadata where the backend has them (S3, GCS, Azure).
The store adds ``key``, ``size``, ``sha256``, ``content_type`` and ``created_at``; callers may
not set those. The sha256 is known only once the stream ends, after a streamed (multipart)
upload has already fixed the object's metadata, so it lives in the sidecar only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bria_dagster.storage.errors import StorageInputError

STORE_FIELDS = frozenset({"key", "size", "sha256", "content_type", "created_at"})
"""Fields the store writes into every sidecar."""

METADATA_FIELDS = {"request_id": "request-id", "endpoint": "endpoint", "seed": "seed"}
"""Provenance fields copied into backend user metadata, and their metadata names."""

MAX_SIDECAR_BYTES = 1024 * 1024
MAX_METADATA_VALUE = 256

_CONTENT_TYPE = re.compile(
    r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*"
    r"(\s*;\s*[A-Za-z0-9][\w.+-]*=(\"[\x20-\x21\x23-\x7e]*\"|[\w.+-]+))*",
    re.ASCII,
)
_CREDENTIAL_NAME = re.compile(
    r"(^|[_-])(api[_-]?token|token|secret|password|passwd|authorization|credentials?|"
    r"access[_-]?key|secret[_-]?key|private[_-]?key)$",
    re.IGNORECASE,
)
_METADATA_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def check_content_type(content_type: str) -> str:
    """Validate a MIME type such as ``image/png`` (parameters allowed); return it."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise StorageInputError(
            "content_type", f"{content_type!r} is not a MIME type such as 'image/png'"
        )
    return content_type


def check_provenance(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the caller's provenance and return a plain copy.

    It must be a mapping with string keys, JSON-serialisable, at most 1 MiB, free of the
    store's own fields and of anything named like a credential (it is stored in clear).
    """
    if not isinstance(provenance, Mapping):
        raise StorageInputError("provenance", f"must be a mapping, got {type(provenance).__name__}")
    reserved = sorted(STORE_FIELDS.intersection(provenance))
    if reserved:
        raise StorageInputError(
            f"provenance.{reserved[0]}", "is written by the store; do not pass it"
        )
    _refuse_credentials(provenance, "provenance")
    try:
        text = json.dumps(provenance, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StorageInputError("provenance", f"must be JSON-serialisable: {exc}") from None
    if len(text.encode()) > MAX_SIDECAR_BYTES:
        raise StorageInputError("provenance", f"is larger than {MAX_SIDECAR_BYTES} bytes as JSON")
    result: dict[str, Any] = json.loads(text)
    return result


def sidecar_record(
    provenance: Mapping[str, Any], *, key: str, size: int, sha256: str, content_type: str
) -> dict[str, Any]:
    """The full provenance stored in ``<key>.json``: the caller's fields plus the store's."""
    return {
        **provenance,
        "key": key,
        "size": size,
        "sha256": sha256,
        "content_type": content_type,
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def sidecar_bytes(record: Mapping[str, Any]) -> bytes:
    """Serialise a sidecar record (stable key order, UTF-8)."""
    return json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def object_metadata(provenance: Mapping[str, Any]) -> dict[str, str]:
    """Small ASCII user metadata for the backend: request-id, endpoint, seed when given.

    Values are stringified, non-ASCII and ``%`` are percent-encoded, and each is cut to 256
    characters, well within S3's 2 KB budget for user metadata.
    """
    metadata: dict[str, str] = {}
    for field, name in METADATA_FIELDS.items():
        value = provenance.get(field)
        if value is None or isinstance(value, dict | list):
            continue
        metadata[name] = quote(str(value), safe=_METADATA_SAFE)[:MAX_METADATA_VALUE]
    return metadata


def _refuse_credentials(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str):
                raise StorageInputError(path, f"keys must be strings, got {type(name).__name__}")
            if _CREDENTIAL_NAME.search(name):
                raise StorageInputError(
                    f"{path}.{name}",
                    "looks like a credential; provenance is stored in clear beside the object",
                )
            _refuse_credentials(item, f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_credentials(item, f"{path}[{index}]")
