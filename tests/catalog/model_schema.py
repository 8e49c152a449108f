"""Reading a request model's JSON schema: resolved refs, union branches, enums, types, bounds."""

from __future__ import annotations

from typing import Any

from bria_dagster.client.types.base import BriaRequest


def model_schema(model: type[BriaRequest]) -> dict[str, Any]:
    """The model's validation JSON schema with every ``$ref`` replaced by its definition."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a property (itself when it is not a union)."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if not options:
        return [prop]
    found: list[dict[str, Any]] = []
    for option in options:
        if option.get("type") != "null":
            found.extend(branches(option))
    return found


def enum_values(prop: dict[str, Any]) -> set[Any]:
    """Every listed value (``enum``/``const``) across the property's branches."""
    values: set[Any] = set()
    for branch in branches(prop):
        values.update(branch.get("enum", ()))
        if "const" in branch:
            values.add(branch["const"])
    return values


def json_types(prop: dict[str, Any]) -> set[str]:
    """The JSON types the property's branches declare."""
    kinds: set[str] = set()
    for branch in branches(prop):
        kind = branch.get("type")
        kinds.update(kind if isinstance(kind, list) else [kind] if kind else [])
    return kinds


def bound(prop: dict[str, Any], key: str) -> Any:
    """A bound (``minimum``, ``maxItems``...) of the first branch that declares it."""
    for branch in branches(prop):
        if key in branch:
            return branch[key]
    return None
