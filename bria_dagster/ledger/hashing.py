"""What makes two requests "the same": the canonical payload and its hash.

:func:`canonical_json` renders ``{"endpoint": <path>, "payload": <payload>}`` as JSON with

- the endpoint normalised (``"image/generate"`` and ``"/v2/image/generate"`` are one endpoint);
- keys sorted and no whitespace, so dict order does not matter;
- ``None`` values dropped from mappings at every depth (the API treats a missing field and a
  ``null`` alike); ``None`` inside a list is kept, since dropping it would shift positions;
- tuples written as lists;
- every base64 image of at least 256 characters (bare, or with a ``data:...;base64,`` header,
  which the client strips anyway) replaced by ``"sha256:<hex>"``, the SHA-256 of its decoded
  bytes: the hash stays cheap to compute and store, and equals the ``sha256`` an upstream asset
  recorded for the same image file.

:func:`canonical_payload_hash` is the SHA-256 hex digest of that JSON's UTF-8 bytes. Two calls
that would send the same request get the same hash; any changed value changes it. A payload
that omits ``seed`` hashes equal to itself: Bria picks a random seed, but the ledger treats the
repeated request as the same work and reuses its result (use ``forced_generation`` for a new one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from bria_dagster.client.endpoints import normalize_endpoint
from bria_dagster.client.errors import BriaInputError

BLOB_MIN_LENGTH = 256
SUMMARY_TEXT_LIMIT = 2000

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_DATA_URI_HEADER = re.compile(r"data:[^,]*;base64,", re.IGNORECASE)


def blob_digest(value: str) -> str | None:
    """``"sha256:<hex>"`` of a long base64 string's decoded bytes; None if it is not one."""
    header = _DATA_URI_HEADER.match(value)
    body = value[header.end() :] if header else value
    if len(body) < BLOB_MIN_LENGTH or len(body) % 4 or not _BASE64.fullmatch(body):
        return None
    try:
        raw = base64.b64decode(body, validate=True)
    except binascii.Error:
        return None
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _canonical(value: Any, path: str, text_limit: int | None) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BriaInputError(path, f"keys must be strings, got {type(key).__name__}")
            if item is not None:
                out[key] = _canonical(item, f"{path}.{key}", text_limit)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{i}]", text_limit) for i, item in enumerate(value)]
    if isinstance(value, str):
        digest = blob_digest(value)
        if digest is not None:
            return digest
        if text_limit is not None and len(value) > text_limit:
            return f"{value[:text_limit]}…[{len(value)} chars]"
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise BriaInputError(path, f"{value} is not a JSON number")
    if value is None or isinstance(value, bool | int | float):
        return value
    raise BriaInputError(path, f"{type(value).__name__} is not a JSON value")


def canonical_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as it is hashed: ``None`` dropped, tuples as lists, base64 blobs digested."""
    if not isinstance(payload, Mapping):
        raise BriaInputError("payload", f"must be a mapping, got {type(payload).__name__}")
    result: dict[str, Any] = _canonical(payload, "payload", None)
    return result


def canonical_json(endpoint: str, payload: Mapping[str, Any]) -> str:
    """The canonical JSON text of a request (see the module docstring for the rules)."""
    try:
        path = normalize_endpoint(endpoint)
    except ValueError as exc:
        raise BriaInputError("endpoint", str(exc).removeprefix("endpoint: ")) from None
    document = {"endpoint": path, "payload": canonical_payload(payload)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_payload_hash(endpoint: str, payload: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of :func:`canonical_json` of ``endpoint`` and ``payload``."""
    return hashlib.sha256(canonical_json(endpoint, payload).encode("utf-8")).hexdigest()


def request_summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A small, display-friendly copy of a payload for the ledger's ``request_summary``.

    Like :func:`canonical_payload`, and strings longer than 2,000 characters (long structured
    prompts) are cut with a note of their length. Keep it for people: hashing uses the full text.
    """
    if not isinstance(payload, Mapping):
        raise BriaInputError("payload", f"must be a mapping, got {type(payload).__name__}")
    result: dict[str, Any] = _canonical(payload, "payload", SUMMARY_TEXT_LIMIT)
    return result
