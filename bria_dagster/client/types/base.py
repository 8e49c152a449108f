"""The base of every request model: strict validation, wire serialisation, error conversion.

A request model describes one operation's JSON body with the API's own field names. It forbids
unknown fields (a typo is an error, not a silently dropped parameter), validates types, enums,
ranges, list lengths and the cross-field rules Bria documents, and serialises to the exact wire
body with :meth:`BriaRequest.to_payload`. The emulator validates incoming bodies with the same
models, so both sides share one set of rules.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types.fields import PATTERN_MESSAGES, Flag, HttpUrl, ImageMarker


class RuleViolation(ValueError):
    """A cross-field rule was broken. ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.rule = message
        super().__init__(f"{field}: {message}")


def _has_image_marker(annotation: Any) -> bool:
    if any(isinstance(meta, ImageMarker) for meta in getattr(annotation, "__metadata__", ())):
        return True
    return any(_has_image_marker(arg) for arg in typing.get_args(annotation))


def _is_image_field(info: FieldInfo) -> bool:
    return any(isinstance(meta, ImageMarker) for meta in info.metadata) or _has_image_marker(
        info.annotation
    )


class BriaRequest(BaseModel):
    """Base class of request models. Subclasses are plain pydantic models with API field names.

    ``spec_notes`` documents, per field, where the model deliberately differs from Bria's OpenAPI
    description (a field real clients send that the spec omits, a stricter requirement, a
    conflict between sources). The conformance test requires a note for every difference.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    spec_notes: ClassVar[Mapping[str, str]] = {}

    def to_payload(self) -> dict[str, Any]:
        """The exact JSON body to send: API field names, ``None`` dropped, images normalised.

        Image inputs go through ``bria_dagster.client.inputs.to_api_image`` (URLs pass through;
        paths, bytes, PIL images and data URIs become bare base64). That may raise
        :class:`BriaInputError` naming the field, e.g. ``images[0]``.
        """
        return self._payload("")

    def with_client_defaults(self) -> typing.Self:
        """This request with the values the client sends when the caller left them unset.

        Most requests have none (the API applies its own defaults); the v1 product calls send
        ``sync`` explicitly.
        """
        return self

    def _payload(self, prefix: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            key = info.serialization_alias or info.alias or name
            body[key] = _wire_value(value, prefix + key, _is_image_field(info))
        return body

    @classmethod
    def all_spec_notes(cls) -> dict[str, str]:
        """``spec_notes`` of this model and its bases (a subclass's note wins)."""
        notes: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            notes.update(getattr(klass, "spec_notes", None) or {})
        return notes

    @classmethod
    def image_fields(cls) -> tuple[str, ...]:
        """Names of the fields that carry image inputs (directly or as a list)."""
        return tuple(name for name, info in cls.model_fields.items() if _is_image_field(info))

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None = None, /, **fields: Any) -> typing.Self:
        """Validate a body or keyword fields; raise :class:`BriaInputError` naming the field."""
        merged = {**(data or {}), **fields}
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise to_input_error(exc, cls) from None


ENVELOPE_FIELDS: frozenset[str] = frozenset({"sync", "webhook_url"})
"""Fields every v2 job accepts: the response mode and the completion webhook (bria-api.md §1.4)."""


class JobRequest(BriaRequest):
    """A v2 job body. ``sync`` and ``webhook_url`` are the common envelope of every v2 job.

    The grouped client methods set ``sync`` themselves (waiting call vs ``.submit``); pass
    ``webhook_url`` to ``.submit`` to be called back when the job ends.
    """

    sync: Flag | None = None
    """``false`` (default): answer 202 and a status URL; ``true``: hold the connection."""
    webhook_url: HttpUrl | None = None
    """Called with the final status body when the job ends (signed, see ``client.webhooks``)."""


class AsyncOnlyRequest(JobRequest):
    """A v2 job that only runs asynchronously: ``sync=true`` is refused (HTTP 400 at Bria)."""

    @model_validator(mode="after")
    def _async_only(self) -> typing.Self:
        if self.sync:
            raise RuleViolation("sync", "this endpoint only supports asynchronous requests")
        return self


def _wire_value(value: Any, path: str, is_image: bool) -> Any:
    if is_image:
        from bria_dagster.client.inputs import to_api_image

        if isinstance(value, list):
            return [to_api_image(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return to_api_image(value, path)
    if isinstance(value, BriaRequest):
        return value._payload(path + ".")
    if isinstance(value, list):
        return [_wire_value(item, f"{path}[{i}]", False) for i, item in enumerate(value)]
    return to_jsonable_python(value)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "bytes"})


def _is_branch_tag(part: str) -> bool:
    """pydantic's union/validator branch names in a location, e.g. "literal['a','b']"."""
    return "[" in part or "-" in part or part in _TYPE_TAGS


def _location(loc: Iterable[int | str]) -> str:
    text = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif index == 0 or not _is_branch_tag(part):
            text += f".{part}" if text else part
    return text


def _describe(error: Mapping[str, Any], model: type[BaseModel] | None) -> tuple[str, str]:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, RuleViolation):
        prefix = _location(error.get("loc", ()))
        field = f"{prefix}.{cause.field}" if prefix else cause.field
        return field, cause.rule
    field = _location(error.get("loc", ())) or "request"
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error.get("type") == "extra_forbidden":
        message = "unknown field"
        if model is not None and "." not in field and "[" not in field:
            close = difflib.get_close_matches(field, list(model.model_fields), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
    elif error.get("type") == "missing":
        message = "required"
    elif error.get("type") == "string_pattern_mismatch":
        message = PATTERN_MESSAGES.get(str(ctx.get("pattern")), message)
    return field, message


def to_input_error(exc: ValidationError, model: type[BaseModel] | None = None) -> BriaInputError:
    """Turn pydantic's ValidationError into a :class:`BriaInputError` naming the (first) field.

    The message lists every problem found, each with its field, so one round trip fixes all.
    """
    grouped: dict[str, list[str]] = {}
    # An unknown field first: it is usually a typo, and the "required" error it causes follows.
    errors = sorted(exc.errors(), key=lambda error: error.get("type") != "extra_forbidden")
    for error in errors:
        name, text = _describe(error, model)
        if text not in grouped.setdefault(name, []):
            grouped[name].append(text)
    problems = [(name, " / ".join(texts)) for name, texts in grouped.items()]
    field, message = problems[0]
    if len(problems) > 1:
        others = "; ".join(f"{f}: {m}" for f, m in problems[1:])
        message = f"{message} (also {others})"
    return BriaInputError(field, message)


def require_one_of(model: BaseModel, *names: str) -> None:
    """At least one of ``names`` must be given."""
    if all(getattr(model, name) is None for name in names):
        raise RuleViolation(names[0], f"required: provide one of {', '.join(names)}")


def forbid_together(model: BaseModel, first: str, second: str, why: str = "") -> None:
    """``first`` and ``second`` are mutually exclusive."""
    if getattr(model, first) is not None and getattr(model, second) is not None:
        reason = f" ({why})" if why else ""
        raise RuleViolation(second, f"cannot be combined with {first}{reason}")
