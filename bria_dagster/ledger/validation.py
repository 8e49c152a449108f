"""Argument checks run before any database call; each failure names the offending field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from bria_dagster.client.errors import BriaInputError

SUMMARY_MAX_BYTES = 64 * 1024
RESULT_MAX_BYTES = 1024 * 1024

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def text(field: str, value: object, *, max_length: int) -> str:
    """A non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise BriaInputError(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise BriaInputError(field, "must not be empty")
    if len(value) > max_length:
        raise BriaInputError(field, f"is {len(value)} characters long; the limit is {max_length}")
    return value


def optional_text(field: str, value: object, *, max_length: int) -> str | None:
    """None, or what :func:`text` accepts."""
    return None if value is None else text(field, value, max_length=max_length)


def sha256_hex(field: str, value: object) -> str:
    """A SHA-256 digest written as 64 lowercase hex characters."""
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise BriaInputError(field, "must be a SHA-256 digest: 64 lowercase hex characters")
    return value


def count(field: str, value: object, *, minimum: int = 0) -> int:
    """An int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BriaInputError(field, f"must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise BriaInputError(field, f"must be at least {minimum}, got {value}")
    return value


def entry_id(value: object, field: str = "entry_id") -> int:
    """A ledger row id."""
    return count(field, value, minimum=1)


def timestamp(field: str, value: object) -> float:
    """A finite, non-negative epoch time in seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BriaInputError(field, f"must be epoch seconds (a number), got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise BriaInputError(field, f"must be finite, non-negative epoch seconds, got {value}")
    return number


def positive_seconds(field: str, value: object) -> float:
    """A finite duration above zero."""
    number = timestamp(field, value)
    if number <= 0:
        raise BriaInputError(field, f"must be above zero, got {value}")
    return number


def json_object(field: str, value: object, *, max_bytes: int) -> dict[str, Any]:
    """A JSON-serialisable mapping whose JSON text is at most ``max_bytes`` bytes."""
    if not isinstance(value, Mapping):
        raise BriaInputError(field, f"must be a mapping, got {type(value).__name__}")
    try:
        encoded = json.dumps(dict(value), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BriaInputError(field, f"must be JSON-serialisable ({exc})") from None
    if len(encoded.encode("utf-8")) > max_bytes:
        raise BriaInputError(
            field, f"is {len(encoded)} bytes as JSON; the limit is {max_bytes} (drop big blobs)"
        )
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded
