"""The options of a Bria step, written once for both factories.

:class:`BriaStepOptions` (both factories) and :class:`BriaAssetOptions` (``bria_asset`` only:
automation and checks) are frozen dataclasses holding each option's type, default and meaning.
:func:`takes_options` gives a factory the keyword arguments of one of them, so ``bria_asset(name,
request, partitions_def=..., pool=...)`` keeps working and a type checker sees each keyword (the
factory's type is derived from the dataclass through a ``ParamSpec``); the factory's body gets
one options object instead of a copy of the signature.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import dagster as dg

from bria_dagster.assets.errors import DEFAULT_RETRY_POLICY
from bria_dagster.assets.plan import RequestBuilder
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest

Upstream = dg.AssetsDefinition | dg.AssetSpec | dg.AssetKey | str | Any
"""An upstream step: an asset, a spec, a key, or a deferred step (anything with ``key`` and
``partitions_def``)."""

RequestSource = RequestBuilder | BriaRequest
"""What a step sends: a catalog request, or a function of :class:`StepInput` building them."""

BRIA_IO_MANAGER_KEY = "bria_io_manager"
"""The default IO manager key of Bria assets (their images load through
:class:`~bria_dagster.assets.io_manager.BriaImageIOManager`)."""

P = ParamSpec("P")
R = TypeVar("R")
OptionsT = TypeVar("OptionsT", bound="BriaStepOptions")


@dataclass(frozen=True, kw_only=True)
class BriaStepOptions:
    """What every Bria step (inline or deferred) takes besides its name and request."""

    upstream: Upstream | Sequence[Upstream] | None = None
    """Steps whose stored images feed this one (``step.image``); also draws the lineage."""
    key_prefix: str | Sequence[str] | None = None
    partitions_def: dg.PartitionsDefinition | None = None
    group_name: str | None = None
    description: str | None = None
    owners: Sequence[str] | None = None
    tags: Mapping[str, str] | None = None
    kinds: set[str] | None = None
    """Added to ``{"bria"}``."""
    pool: str | None = "bria"
    """The Dagster concurrency pool of the step."""
    retry_policy: dg.RetryPolicy | None = DEFAULT_RETRY_POLICY
    backfill_policy: dg.BackfillPolicy | None = None
    bria_key: str = "bria"
    storage_key: str = "bria_storage"
    ledger_key: str = "bria_ledger"
    io_manager_key: str = BRIA_IO_MANAGER_KEY
    """The IO manager a plain downstream ``@asset`` loads this step's images through
    (:class:`~bria_dagster.assets.io_manager.BriaImageIOManager`)."""

    def key(self, name: str) -> dg.AssetKey:
        """The key of the step's asset ``name`` (under ``key_prefix``)."""
        return dg.AssetKey([*key_prefix_parts(self.key_prefix), name])

    @property
    def upstream_steps(self) -> list[Upstream]:
        """``upstream`` as a list."""
        return upstream_list(self.upstream)

    def spec_arguments(self, description: str) -> dict[str, Any]:
        """What an asset or a spec of the step takes from these options."""
        return {
            "partitions_def": self.partitions_def,
            "group_name": self.group_name,
            "description": description,
            "owners": self.owners,
            "tags": self.tags,
            "kinds": {"bria", *(self.kinds or set())},
        }

    def asset_arguments(self, key: dg.AssetKey, description: str) -> dict[str, Any]:
        """What ``@dg.asset`` takes from these options for the executed asset ``key``."""
        return {
            **self.spec_arguments(description),
            "key": key,
            "deps": [key_of(item) for item in self.upstream_steps],
            "pool": self.pool,
            "retry_policy": self.retry_policy,
            "backfill_policy": self.backfill_policy,
            "required_resource_keys": {self.bria_key, self.storage_key, self.ledger_key},
        }


@dataclass(frozen=True, kw_only=True)
class BriaAssetOptions(BriaStepOptions):
    """The options of an inline step (:func:`~bria_dagster.assets.bria_asset`)."""

    automation_condition: dg.AutomationCondition[Any] | None = None
    checks: bool | Collection[str] = True
    """The image checks to attach: True decides from the request's operation when the asset is
    built (see :func:`~bria_dagster.assets.checks.applicable_checks`), False none, or a set of
    names (``image_readable``, ``image_dimensions``, ``image_alpha``)."""


Factory = Callable[[str, RequestSource, OptionsT], R]
"""A factory written against one options object."""


def takes_options(
    options: Callable[P, OptionsT],
) -> Callable[[Factory[OptionsT, R]], Callable[Concatenate[str, RequestSource, P], R]]:
    """Make ``factory(name, request, options)`` callable as ``factory(name, request, **options)``
    with the keyword arguments of the ``options`` dataclass."""

    def decorate(
        factory: Factory[OptionsT, R],
    ) -> Callable[Concatenate[str, RequestSource, P], R]:
        def with_keywords(
            name: str, request: RequestSource, /, *args: P.args, **kwargs: P.kwargs
        ) -> R:
            return factory(name, request, options(*args, **kwargs))

        functools.update_wrapper(with_keywords, factory)

        head = list(inspect.signature(factory).parameters.values())[:2]
        keywords = [
            inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default)
            for field in dataclasses.fields(options)  # type: ignore[arg-type]
        ]
        with_keywords.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*head, *keywords], return_annotation=inspect.signature(factory).return_annotation
        )
        return with_keywords

    return decorate


def upstream_list(upstream: Upstream | Sequence[Upstream] | None) -> list[Upstream]:
    """``upstream`` as a list (one step, several, or none)."""
    if upstream is None:
        return []
    if isinstance(upstream, str | dg.AssetKey) or hasattr(upstream, "key"):
        return [upstream]
    return list(upstream)


def key_of(item: Upstream) -> dg.AssetKey:
    """The asset key of an upstream step, spec, key or key string."""
    if isinstance(item, dg.AssetKey):
        return item
    if isinstance(item, str):
        return dg.AssetKey.from_user_string(item)
    key = getattr(item, "key", None)
    if isinstance(key, dg.AssetKey):
        return key
    raise BriaInputError(
        "upstream", f"must be an asset, an AssetSpec, an AssetKey or a key string: {item!r}"
    )


def key_prefix_parts(key_prefix: str | Sequence[str] | None) -> list[str]:
    """A key prefix as a list of parts."""
    if key_prefix is None:
        return []
    return [key_prefix] if isinstance(key_prefix, str) else list(key_prefix)
