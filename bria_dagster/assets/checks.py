"""Asset checks on stored images: readable, the requested shape, a real alpha channel."""

from __future__ import annotations

import typing
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import dagster as dg

from bria_dagster.assets.plan import ALPHA_ENDPOINTS
from bria_dagster.client.catalog.registry import spec_for
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest
from bria_dagster.results.images import ImageFacts, inspect_image, preview_data_uri
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord
from bria_dagster.storage import ObjectStore, StorageError

CHECK_READABLE = "image_readable"
CHECK_DIMENSIONS = "image_dimensions"
CHECK_ALPHA = "image_alpha"
CHECK_NAMES = (CHECK_READABLE, CHECK_DIMENSIONS, CHECK_ALPHA)

RATIO_TOLERANCE = 0.03
"""Relative difference allowed between the stored and the requested aspect ratio (Bria rounds
sizes to multiples of 8 or 16 pixels)."""

PREVIEWS = 4
"""At most this many previews per materialization."""


SHAPE_FIELDS = frozenset({"aspect_ratio", "desired_increase"})
"""Request fields that ask for a shape the dimensions check can compare."""

_DESCRIPTIONS = {
    CHECK_READABLE: "Every stored result exists in object storage and decodes as an image.",
    CHECK_DIMENSIONS: "Stored images have the requested aspect ratio or upscaled size.",
    CHECK_ALPHA: "Cut-outs (background removal) have a real alpha channel.",
}


def applicable_checks(request: object, requested: bool | Collection[str] = True) -> tuple[str, ...]:
    """The checks an asset sending ``request`` carries, decided when the asset is built.

    ``requested`` is False (none), an explicit collection of check names, or True: decide from
    the request's operation (a catalog request, or a builder whose return annotation is one):
    ``image_readable`` always, ``image_dimensions`` when a fixed request sets a size field
    (``aspect_ratio``, ``desired_increase``) or a builder's request model has one,
    ``image_alpha`` for cut-out operations. A builder of unknown operation (no return
    annotation naming one request model) gets ``image_readable`` only (pass ``checks=``).
    """
    if requested is False:
        return ()
    if requested is not True:
        names = {requested} if isinstance(requested, str) else set(requested)  # type: ignore[arg-type]
        unknown = sorted(names - set(CHECK_NAMES))
        if unknown:
            raise BriaInputError(
                "checks", f"unknown check(s) {unknown}; the checks are {list(CHECK_NAMES)}"
            )
        return tuple(name for name in CHECK_NAMES if name in names)
    model = request_model_of(request)
    if model is None:
        return (CHECK_READABLE,)
    found = [CHECK_READABLE]
    shape_fields = SHAPE_FIELDS & set(model.model_fields)
    if isinstance(request, BriaRequest):
        # A fixed request: what it actually asks for, not what its model could.
        shape_fields = {name for name in shape_fields if getattr(request, name) is not None}
    if shape_fields:
        found.append(CHECK_DIMENSIONS)
    if spec_for(model).path in ALPHA_ENDPOINTS:
        found.append(CHECK_ALPHA)
    return tuple(found)


def request_model_of(request: object) -> type[BriaRequest] | None:
    """The catalog request model ``request`` is, or that a builder's return annotation names
    (``ExpandRequest``, ``list[ExpandRequest]``, ``dict[str, ExpandRequest] | None``); None
    when it cannot be known or several models are named."""
    if isinstance(request, BriaRequest):
        return type(request)
    try:
        annotation = typing.get_type_hints(request).get("return")
    except Exception:  # an unresolvable annotation says nothing
        return None
    models = _request_models(annotation)
    if len(models) != 1:
        return None
    (model,) = models
    try:
        spec_for(model)
    except KeyError:
        return None
    return model


def _request_models(annotation: object) -> set[type[BriaRequest]]:
    if isinstance(annotation, type) and issubclass(annotation, BriaRequest):
        return {annotation}
    return {
        model for argument in typing.get_args(annotation) for model in _request_models(argument)
    }


def check_specs(
    asset_key: dg.AssetKey, names: Collection[str] = CHECK_NAMES
) -> list[dg.AssetCheckSpec]:
    """The specs of the checks ``names`` (see :func:`applicable_checks`) on ``asset_key``."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=asset_key,
            blocking=name == CHECK_READABLE,
            description=_DESCRIPTIONS[name],
        )
        for name in CHECK_NAMES
        if name in names
    ]


@dataclass(frozen=True)
class Verified:
    """What reading the stored objects back found."""

    facts: dict[str, ImageFacts | None]
    """Decoded facts per object key (None: missing or not an image)."""
    problems: dict[str, str]
    """Why an object could not be read, per key."""
    previews: list[tuple[ImageRecord, str]]


def verify_stored(store: ObjectStore, records: Sequence[ImageRecord]) -> Verified:
    """Read every stored object back and decode it; make previews of the first few."""
    facts: dict[str, ImageFacts | None] = {}
    problems: dict[str, str] = {}
    previews: list[tuple[ImageRecord, str]] = []
    for record in records:
        try:
            with store.open(record.key) as file:
                found = inspect_image(file)
                facts[record.key] = found
                if found is not None and len(previews) < PREVIEWS:
                    uri = preview_data_uri(file)
                    if uri:
                        previews.append((record, uri))
        except (StorageError, OSError) as exc:
            facts[record.key] = None
            problems[record.key] = str(exc)
    return Verified(facts, problems, previews)


def merge_verified(found: Sequence[Verified]) -> Verified:
    """What several :func:`verify_stored` calls found, as one (previews left out: each call's
    belong to the images it read)."""
    return Verified(
        facts={k: v for item in found for k, v in item.facts.items()},
        problems={k: v for item in found for k, v in item.problems.items()},
        previews=[],
    )


def evaluate(
    records: Sequence[ImageRecord], verified: Verified, names: Collection[str] = CHECK_NAMES
) -> list[dg.AssetCheckResult]:
    """The results of the checks ``names`` for one materialization's records."""
    checks = {CHECK_READABLE: _readable, CHECK_DIMENSIONS: _dimensions, CHECK_ALPHA: _alpha}
    return [checks[name](records, verified) for name in CHECK_NAMES if name in names]


def _nothing_checked(name: str, why: str) -> dg.AssetCheckResult:
    # A defined check that compared nothing is not a pass: it warns (a request that asked for
    # no size is not a defect of the image, so it does not fail as an error would).
    return dg.AssetCheckResult(
        check_name=name,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"checked": 0},
        description=why,
    )


def _readable(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    bad = {
        r.key: verified.problems.get(r.key, "does not decode as an image")
        for r in records
        if verified.facts.get(r.key) is None and r.content_type.startswith("image/")
    }
    return dg.AssetCheckResult(
        check_name=CHECK_READABLE,
        passed=bool(records) and not bad,
        metadata={"checked": len(records), "failures": dg.MetadataValue.json(bad)},
        description=None if records else "no stored results",
    )


def _dimensions(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    checked = 0
    bad: dict[str, str] = {}
    for record in records:
        facts = verified.facts.get(record.key)
        problem = shape_problem(record, facts)
        if problem is None and facts is not None and _has_shape_expectation(record):
            checked += 1
        elif problem is not None:
            checked += 1
            bad[record.key] = problem
    if not checked:
        return _nothing_checked(
            CHECK_DIMENSIONS, "no stored result carries a requested size; nothing was compared"
        )
    return dg.AssetCheckResult(
        check_name=CHECK_DIMENSIONS,
        passed=not bad,
        metadata={"checked": checked, "failures": dg.MetadataValue.json(bad)},
    )


def _alpha(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    wanted = [r for r in records if r.expected.get("alpha")]
    bad = [
        r.key for r in wanted if (facts := verified.facts.get(r.key)) is None or not facts.has_alpha
    ]
    if not wanted:
        return _nothing_checked(
            CHECK_ALPHA, "no stored result comes from a cut-out operation; nothing was checked"
        )
    return dg.AssetCheckResult(
        check_name=CHECK_ALPHA,
        passed=not bad,
        metadata={"checked": len(wanted), "without_alpha": dg.MetadataValue.json(bad)},
    )


def _has_shape_expectation(record: ImageRecord) -> bool:
    return "aspect_ratio" in record.expected or "width" in record.expected


def shape_problem(record: ImageRecord, facts: ImageFacts | None) -> str | None:
    """Why the stored image does not have the requested shape, or None."""
    if not _has_shape_expectation(record):
        return None
    if facts is None:
        return "not readable"
    expected = record.expected
    if "width" in expected and "height" in expected:
        if (facts.width, facts.height) != (expected["width"], expected["height"]):
            return (
                f"{facts.width}x{facts.height}, expected {expected['width']}x{expected['height']}"
            )
        return None
    ratio_text = str(expected["aspect_ratio"])
    try:
        numerator, denominator = (float(part) for part in ratio_text.split(":"))
        wanted = numerator / denominator
    except ValueError:
        return None
    actual = facts.width / facts.height
    if abs(actual - wanted) / wanted > RATIO_TOLERANCE:
        return f"{facts.width}x{facts.height} is {actual:.3f}, expected {ratio_text} ({wanted:.3f})"
    return None


def latest_records(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[ImageRecord]:
    """The records of ``key``'s latest materialization (any partition)."""
    found = instance.fetch_materializations(key, limit=1).records
    if not found or found[0].asset_materialization is None:
        return []
    value = found[0].asset_materialization.metadata.get(METADATA_IMAGES)
    return [ImageRecord.from_json(item) for item in (value.value if value else [])]


def latest_checks(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    store: ObjectStore,
) -> Iterator[dg.AssetCheckResult]:
    """The selected image checks of ``key``, evaluated on its latest materialization."""
    records = latest_records(context.instance, key)
    selected = {check.name for check in context.selected_asset_check_keys}
    for check in evaluate(records, verify_stored(store, records)):
        if check.check_name in selected:
            yield check
