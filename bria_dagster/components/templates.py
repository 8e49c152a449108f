"""Request templates: a step's request written in YAML, with Jinja over the partition and a row.

A template is the request's body as a mapping (``{"prompt": "a {{ row.colour }} shoe", "seed":
"{{ row.seed }}"}``). Every string leaf is rendered per partition with ``partition_key``, ``row``
(the table row of the partition, a dict) and ``step`` (the
:class:`~bria_dagster.assets.StepInput`: ``step.image.data``, ``step.variant("1:1")``, ...). A
leaf that is exactly one expression (``"{{ step.image.data }}"``) keeps the expression's value
(bytes, a number); any other leaf becomes text. Undefined names and attributes are errors,
never empty strings.

Templates are checked when the component loads (syntax, names, and every part of the request
that no template touches, against the catalog's request model), so a typo fails ``dg check defs``
naming the field; what depends on the partition is checked when the step runs, before any HTTP
call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.meta
import jinja2.sandbox
import pydantic
from pydantic_core import InitErrorDetails

from bria_dagster.assets.step import StepInput
from bria_dagster.client.catalog import OperationSpec
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest, to_input_error

TEMPLATE_NAMES = frozenset({"partition_key", "row", "step"})
"""The names a request template may use."""

_ENV = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
_ONE_EXPRESSION = re.compile(r"^\s*\{\{((?:(?!\}\}|\{\{|\{%).)*)\}\}\s*$", re.DOTALL)


def is_template(value: object) -> bool:
    """Whether ``value`` is a string Jinja would change."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@dataclass(frozen=True)
class Leaf:
    """One compiled string leaf: renders to a value (one expression) or to text."""

    where: str
    render: Callable[[Mapping[str, Any]], Any]


def _compile(where: str, text: str, names: frozenset[str]) -> Leaf:
    try:
        parsed = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise BriaInputError(where, f"bad template {text!r}: {exc.message}") from None
    unknown = sorted(jinja2.meta.find_undeclared_variables(parsed) - names)
    if unknown:
        raise BriaInputError(
            where, f"template {text!r} uses {unknown}; a template may use {sorted(names)}"
        )
    single = _ONE_EXPRESSION.match(text)
    if single:
        expression = _ENV.compile_expression(single.group(1), undefined_to_none=False)

        def evaluate(scope: Mapping[str, Any]) -> Any:
            value = expression(**scope)
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()  # StrictUndefined: raises UndefinedError
            return value

        return Leaf(where, evaluate)
    template = _ENV.from_string(text)
    return Leaf(where, lambda scope: template.render(**scope))


class RequestTemplate:
    """A request model and the YAML mapping that builds it, compiled once."""

    def __init__(
        self,
        spec: OperationSpec,
        body: Mapping[str, Any],
        *,
        field: str,
        names: frozenset[str] = TEMPLATE_NAMES,
    ) -> None:
        if spec.request_model is None:
            raise BriaInputError(field, f"{spec.name} takes no request body")
        self.model: type[BriaRequest] = spec.request_model
        self.field = field
        self.body = dict(body)
        self.leaves: dict[tuple[str | int, ...], Leaf] = {}
        self._collect(self.body, (), names)
        self._check_fixed_parts()

    @property
    def fields(self) -> frozenset[str]:
        """The request fields the template sets."""
        return frozenset(self.body)

    def _collect(self, value: Any, path: tuple[str | int, ...], names: frozenset[str]) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                self._collect(item, (*path, str(key)), names)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._collect(item, (*path, index), names)
        elif is_template(value):
            self.leaves[path] = _compile(_where(self.field, path), value, names)

    def _check_fixed_parts(self) -> None:
        """Validate the request with the model, keeping only the errors no template can fix:
        an unknown or missing field, a literal value out of range."""
        try:
            self.model.model_validate(self.body)
        except pydantic.ValidationError as exc:
            definite: list[InitErrorDetails] = []
            for error in exc.errors():
                # An unknown field is one whatever its value; a template's value is not known.
                if error["type"] != "extra_forbidden" and self._touches_template(error["loc"]):
                    continue
                detail: InitErrorDetails = {
                    "type": error["type"],
                    "loc": error["loc"],
                    "input": error["input"],
                }
                if "ctx" in error:
                    detail["ctx"] = error["ctx"]
                definite.append(detail)
            if definite:
                found = to_input_error(
                    pydantic.ValidationError.from_exception_data(exc.title, definite), self.model
                )
                raise BriaInputError(
                    f"{self.field}.{found.field}", str(found).split(": ", 1)[-1]
                ) from None

    def _touches_template(self, loc: Sequence[str | int]) -> bool:
        value: Any = self.body
        for part in loc:
            if is_template(value):
                return True
            in_mapping = isinstance(value, Mapping) and part in value
            in_list = isinstance(value, list) and isinstance(part, int) and part < len(value)
            if not (in_mapping or in_list):
                return False
            value = value[part]
        return is_template(value) or any(path[: len(loc)] == tuple(loc) for path in self.leaves)

    def render(self, scope: Mapping[str, Any]) -> BriaRequest:
        """The request for one partition: every leaf rendered, then validated by the model.
        A template that fails (an undefined name, a missing upstream image) raises
        :class:`BriaInputError` naming its field; so does a rendered value the model refuses."""
        rendered = self._render(self.body, (), scope)
        try:
            return self.model.model_validate(rendered)
        except pydantic.ValidationError as exc:
            found = to_input_error(exc, self.model)
            raise BriaInputError(
                f"{self.field}.{found.field}", str(found).split(": ", 1)[-1]
            ) from None

    def _render(self, value: Any, path: tuple[str | int, ...], scope: Mapping[str, Any]) -> Any:
        if isinstance(value, Mapping):
            return {k: self._render(item, (*path, str(k)), scope) for k, item in value.items()}
        if isinstance(value, list):
            return [self._render(item, (*path, i), scope) for i, item in enumerate(value)]
        leaf = self.leaves.get(path)
        if leaf is None:
            return value
        try:
            return leaf.render(scope)
        except BriaInputError:
            raise
        except jinja2.UndefinedError as exc:
            raise BriaInputError(leaf.where, f"template: {exc.message}") from None
        except Exception as exc:  # a filter or a method that failed on this partition's values
            raise BriaInputError(leaf.where, f"template failed: {exc}") from None


def template_scope(step: StepInput, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a request template sees for ``step``."""
    scope: dict[str, Any] = {"partition_key": step.partition_key, "step": step}
    if row is not None:
        scope["row"] = row
    return scope


def _where(field: str, path: Sequence[str | int]) -> str:
    text = field
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
