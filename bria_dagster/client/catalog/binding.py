"""How catalog operations become client methods, once for both the sync and async clients.

A namespace class (``EditNamespace`` ...) declares its operations as descriptors:

* :class:`JobOp` for a v2 job — ``ns.op(**fields)`` waits and returns a
  :class:`~bria_dagster.client.results.JobResult`; ``ns.op.submit(**fields)`` returns the
  :class:`~bria_dagster.client.results.Submission` without waiting (pass ``webhook_url=`` to
  be called back). Both also take a request model instance: ``ns.op(RemoveBackgroundRequest(...))``.
* :class:`V1Op` for a synchronous v1 call, returning its typed answer.
* :func:`operation` for a hand-written plan (CRUD calls with path ids, multi-step flows).

The keyword arguments are the request model's fields (editors complete them). Bad input raises
:class:`~bria_dagster.client.errors.BriaInputError` naming the field, before any HTTP call. On an
async client the same attributes return coroutines.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from bria_dagster.client.catalog.effects import (
    ApiCall,
    AwaitPlaceholders,
    Plan,
    Run,
    Submit,
    Wait,
    run_plan,
    run_plan_async,
    start,
)
from bria_dagster.client.catalog.registry import (
    OperationSpec,
    find_operation,
    returns_placeholders,
    spec_for,
)
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.results import JobResult, Submission
from bria_dagster.client.types.base import BriaRequest
from bria_dagster.client.types.responses import placeholder_urls

logger = logging.getLogger("bria_dagster.client.catalog")

P = ParamSpec("P")
M = TypeVar("M", bound=BriaRequest)
T = TypeVar("T")
S = TypeVar("S")


class Sync:
    """Marker type: a namespace of a synchronous client."""


class Async:
    """Marker type: a namespace of an asynchronous client (methods return coroutines)."""


ModeT = TypeVar("ModeT", Sync, Async)


def client_is_async(client: Any) -> bool:
    """True when ``client.run`` is a coroutine function (an async client)."""
    return inspect.iscoroutinefunction(getattr(type(client), "run", None))


class Namespace(Generic[ModeT]):
    """A group of operations bound to one client."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._async = client_is_async(client)

    def _execute(self, plan: Plan[T]) -> Any:
        started = start(plan)  # input checks run here, before any I/O, on both clients
        if self._async:
            return run_plan_async(self._client, started)
        return run_plan(self._client, started)


def _coerce(model: type[M], args: tuple[Any, ...], fields: Mapping[str, Any]) -> M:
    if not args:
        return model.parse(**fields)
    if len(args) > 1:
        raise BriaInputError("request", "pass one request object or keyword fields")
    request = args[0]
    if isinstance(request, Mapping):
        return model.parse(request, **fields)
    if not isinstance(request, model):
        raise BriaInputError(
            "request", f"expected a {model.__name__}, got {type(request).__name__}"
        )
    if not fields:
        return request
    return model.parse(request.model_dump(exclude_none=True), **fields)


def build_request(model: type[M], request: M | Mapping[str, Any] | None, fields: Any) -> M:
    """A validated request from an instance or mapping and/or keyword fields (BriaInputError)."""
    return _coerce(model, () if request is None else (request,), fields)


def _warn(spec: OperationSpec, warning: str | None) -> None:
    if warning:
        logger.warning("%s: %s", spec.path, warning)


def job_plan(spec: OperationSpec, request: BriaRequest, *, wait: bool) -> Plan[Any]:
    """Submit a v2 job and, with ``wait``, return its result (``sync`` where allowed)."""
    if getattr(request, "sync", None) is not None:
        raise BriaInputError(
            "sync", "set by the call: call the operation to wait, or use .submit() not to"
        )
    payload = request.with_client_defaults().to_payload()
    if wait and spec.sync == "allowed":
        result: JobResult = yield Run(spec.path, payload)
        _warn(spec, result.warning)
        return result
    webhook_url = payload.pop("webhook_url", None)
    submission: Submission = yield Submit(spec.path, payload, webhook_url)
    _warn(spec, submission.warning)
    if not wait:
        return submission
    result = yield Wait(submission)
    if submission.warning and not result.warning:
        result = result.model_copy(update={"warning": submission.warning})
    return result


def v1_plan(spec: OperationSpec, request: BriaRequest, parse: Callable[[Any], T]) -> Plan[T]:
    """POST a synchronous v1 body and parse the answer; an answer of placeholder URLs (ads,
    ``sync: false`` shots) is returned once every URL has filled (never POSTed again)."""
    payload = request.with_client_defaults().to_payload()
    body = yield ApiCall(spec.method, spec.path, json=payload)
    if returns_placeholders(spec.path, payload):
        urls = tuple(placeholder_urls(body))
        yield AwaitPlaceholders(urls, spec.path, f"{spec.method} {spec.path}")
    return parse(body)


def _path_id(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BriaInputError(name, f"must be an id (int), got {type(value).__name__}")
    text = str(value).strip()
    minimum = 0 if name == "checkpoint_step" else 1
    if name != "template_id" and not (text.isdigit() and int(text) >= minimum):
        raise BriaInputError(name, "must be a positive integer id")
    if not text or "/" in text or "?" in text:
        raise BriaInputError(name, "must be a plain id")
    return text


def api_call(
    method: str,
    template: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    **ids: Any,
) -> ApiCall:
    """An :class:`ApiCall` to a catalog operation, with its path ids checked and filled in."""
    find_operation(method, template)  # a typo here is a bug: fail loudly
    path = template.format(**{name: _path_id(name, value) for name, value in ids.items()})
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    return ApiCall(method, path, json=json, params=clean or None)


class BoundPlan(Generic[P, M, T]):
    """A plan bound to a namespace: called with its request model or the model's fields."""

    def __init__(
        self, namespace: Namespace[Any], model: type[M], plan: Callable[[M], Plan[Any]]
    ) -> None:
        self._namespace = namespace
        self.request_model = model
        self._plan = plan

    @overload
    def __call__(self, request: M, /) -> T: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Check the request, run the plan and return its answer."""
        request = _coerce(self.request_model, args, kwargs)
        return self._namespace._execute(self._plan(request))


class BoundJob(BoundPlan[P, M, T], Generic[P, M, T, S]):
    """A v2 job operation bound to a namespace: calling returns ``T`` (the JobResult, or its
    awaitable on an async client), ``.submit`` returns ``S`` (the Submission, or its awaitable).
    """

    def __init__(self, namespace: Namespace[Any], spec: OperationSpec, model: type[M]) -> None:
        super().__init__(namespace, model, lambda request: job_plan(spec, request, wait=True))
        self.spec = spec

    @overload
    def submit(self, request: M, /) -> S: ...
    @overload
    def submit(self, *args: P.args, **kwargs: P.kwargs) -> S: ...
    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Start the job and return its Submission at once (``webhook_url=`` to be called back)."""
        request = _coerce(self.request_model, args, kwargs)
        return self._namespace._execute(job_plan(self.spec, request, wait=False))

    def __repr__(self) -> str:
        return f"<operation {self.spec.name} {self.spec.method} {self.spec.path}>"


class JobOp(Generic[P, M]):
    """Declare a v2 job operation from its request model (path and mode come from the catalog)."""

    def __init__(self, model: Callable[P, M]) -> None:
        if not (isinstance(model, type) and issubclass(model, BriaRequest)):
            raise TypeError("JobOp needs a BriaRequest subclass")
        self.model: type[M] = model  # type: ignore[assignment]
        self.spec = spec_for(model)
        if self.spec.sync == "always":
            raise TypeError(f"{self.spec.path} is a synchronous v1 call: declare it with V1Op")

    @overload
    def __get__(self, namespace: None, owner: type) -> JobOp[P, M]: ...
    @overload
    def __get__(
        self, namespace: Namespace[Sync], owner: type
    ) -> BoundJob[P, M, JobResult, Submission]: ...
    @overload
    def __get__(
        self, namespace: Namespace[Async], owner: type
    ) -> BoundJob[P, M, Awaitable[JobResult], Awaitable[Submission]]: ...
    def __get__(self, namespace: Any, owner: type) -> Any:
        if namespace is None:
            return self
        return BoundJob(namespace, self.spec, self.model)


class BoundV1(BoundPlan[P, M, T]):
    """A synchronous v1 operation bound to a namespace."""

    def __init__(
        self,
        namespace: Namespace[Any],
        spec: OperationSpec,
        model: type[M],
        parse: Callable[[Any], Any],
    ) -> None:
        super().__init__(namespace, model, lambda request: v1_plan(spec, request, parse))
        self.spec = spec

    def __repr__(self) -> str:
        return f"<operation {self.spec.name} {self.spec.method} {self.spec.path}>"


class V1Op(Generic[P, M, T]):
    """Declare a synchronous v1 operation: its request model and the parser of its answer."""

    def __init__(self, model: Callable[P, M], parse: Callable[[Any], T]) -> None:
        if not (isinstance(model, type) and issubclass(model, BriaRequest)):
            raise TypeError("V1Op needs a BriaRequest subclass")
        self.model: type[M] = model  # type: ignore[assignment]
        self.spec = spec_for(model)
        self.parse = parse
        if self.spec.sync != "always" or "{" in self.spec.path:
            raise TypeError(f"{self.spec.path} is not a synchronous v1 call without path ids")

    @overload
    def __get__(self, namespace: None, owner: type) -> V1Op[P, M, T]: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type) -> BoundV1[P, M, T]: ...
    @overload
    def __get__(self, namespace: Namespace[Async], owner: type) -> BoundV1[P, M, Awaitable[T]]: ...
    def __get__(self, namespace: Any, owner: type) -> Any:
        if namespace is None:
            return self
        return BoundV1(namespace, self.spec, self.model, self.parse)


class operation(Generic[P, T]):
    """Turn a plan-returning method into a client method (sync or async by namespace)."""

    def __init__(self, method: Callable[Concatenate[Any, P], Plan[T]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    @overload
    def __get__(self, namespace: None, owner: type) -> operation[P, T]: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, namespace: Namespace[Async], owner: type) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, namespace: Any, owner: type) -> Any:
        if namespace is None:
            return self
        method = self._method

        def bound(*args: Any, **kwargs: Any) -> Any:
            return namespace._execute(method(namespace, *args, **kwargs))

        bound.__doc__ = method.__doc__
        bound.__name__ = method.__name__
        return bound


class WorkflowOp(Generic[P, M, T]):
    """Declare a client-side workflow (several calls, e.g. ``tailored.train_model``): the
    request model it takes and the plan that runs it."""

    def __init__(self, model: Callable[P, M], plan: Callable[[M], Plan[T]]) -> None:
        if not (isinstance(model, type) and issubclass(model, BriaRequest)):
            raise TypeError("WorkflowOp needs a BriaRequest subclass")
        self.model: type[M] = model  # type: ignore[assignment]
        self.plan = plan

    @overload
    def __get__(self, namespace: None, owner: type) -> WorkflowOp[P, M, T]: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type) -> BoundPlan[P, M, T]: ...
    @overload
    def __get__(
        self, namespace: Namespace[Async], owner: type
    ) -> BoundPlan[P, M, Awaitable[T]]: ...
    def __get__(self, namespace: Any, owner: type) -> Any:
        if namespace is None:
            return self
        return BoundPlan(namespace, self.model, self.plan)
