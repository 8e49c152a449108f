"""Bria's OpenAPI files, read from the repository's copies in ``tests/data/bria-openapi`` (see
its PROVENANCE.md), with their ``$ref``s resolved and ``allOf``/``oneOf``/``anyOf`` merged into
plain property maps."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

SPEC_DIR = Path(__file__).resolve().parents[1] / "data" / "bria-openapi"
SPEC_FILE_COUNT = 10
METHODS = ("get", "post", "put", "delete", "patch")


@dataclass
class SpecOperation:
    """One operation of a spec file."""

    file: str
    method: str
    path: str
    body: dict[str, Any] | None
    """The JSON body schema (resolved), or None when the operation takes no body."""
    examples: dict[str, Any] = field(default_factory=dict)
    """Example bodies by name."""
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The JSON schema of each documented answer, by status code (``"200"``, ``"202"``...)."""


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    if depth > 50:
        raise RecursionError("cyclic $ref")
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(doc, target, depth + 1)
        return {key: _resolve(doc, value, depth) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, item, depth) for item in node]
    return node


def properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All properties a schema names, through allOf / oneOf / anyOf."""
    found = dict(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key, []):
            found.update(properties(branch))
    return found


def required(schema: dict[str, Any]) -> set[str]:
    """Fields required in every valid body (allOf branches add, oneOf/anyOf do not)."""
    names = set(schema.get("required", []))
    for branch in schema.get("allOf", []):
        names |= required(branch)
    return names


def _examples(content: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "example" in content:
        found["example"] = content["example"]
    for name, example in (content.get("examples") or {}).items():
        if isinstance(example, dict) and "value" in example:
            found[name] = example["value"]
    schema = content.get("schema") or {}
    if isinstance(schema.get("example"), dict):
        found["schema example"] = schema["example"]
    return found


def _responses(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for code, answer in (op.get("responses") or {}).items():
        content = (_resolve(doc, answer).get("content") or {}).get("application/json") or {}
        if isinstance(content.get("schema"), dict):
            found[str(code)] = content["schema"]
    return found


@functools.cache
def load_operations() -> tuple[SpecOperation, ...]:
    """Every operation of every spec file, with its full path (server path + path)."""
    operations: list[SpecOperation] = []
    files = sorted(SPEC_DIR.glob("*.yml"))
    if len(files) != SPEC_FILE_COUNT:  # at import time: parametrized tests must never go empty
        raise FileNotFoundError(f"{SPEC_DIR}: expected {SPEC_FILE_COUNT} spec files")
    for file in files:
        doc = yaml.safe_load(file.read_text())
        for path, item in doc["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                servers = op.get("servers") or item.get("servers") or doc.get("servers")
                base = urlparse(servers[0]["url"]).path.rstrip("/")
                body = _resolve(doc, op.get("requestBody") or {})
                content = (body.get("content") or {}).get("application/json")
                operations.append(
                    SpecOperation(
                        file=file.stem,
                        method=method.upper(),
                        path=base + path,
                        body=content.get("schema") if content else None,
                        examples=_examples(content) if content else {},
                        responses=_responses(doc, op),
                    )
                )
    return tuple(operations)
