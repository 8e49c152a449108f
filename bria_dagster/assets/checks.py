"""Asset checks on stored results: images readable, of the requested shape, with a real alpha
channel; videos readable, as long as their input, with alpha where the operation promises it."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dagster as dg

from bria_dagster.assets.plan import ALPHA_ENDPOINTS, VIDEO_ALPHA_ENDPOINTS
from bria_dagster.client.catalog.registry import spec_for
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest
from bria_dagster.results.images import (
    VIDEO_ENDPOINT_PREFIX,
    ImageFacts,
    ResultFacts,
    inspect_result,
    poster_data_uri,
    preview_data_uri,
)
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord
from bria_dagster.storage import ObjectStore, StorageError
from bria_dagster.video_files import VideoFacts, probe_duration

CHECK_READABLE = "image_readable"
CHECK_DIMENSIONS = "image_dimensions"
CHECK_ALPHA = "image_alpha"
CHECK_VIDEO_READABLE = "video_readable"
CHECK_VIDEO_DURATION = "video_duration"
CHECK_VIDEO_ALPHA = "video_alpha"
CHECK_NAMES = (
    CHECK_READABLE,
    CHECK_DIMENSIONS,
    CHECK_ALPHA,
    CHECK_VIDEO_READABLE,
    CHECK_VIDEO_DURATION,
    CHECK_VIDEO_ALPHA,
)
BLOCKING = frozenset({CHECK_READABLE, CHECK_VIDEO_READABLE})

DURATION_TOLERANCE = 0.02
"""Relative difference allowed between a video's duration and its input's, beyond one frame."""

RATIO_TOLERANCE = 0.03
"""Relative difference allowed between the stored and the requested aspect ratio (Bria rounds
sizes to multiples of 8 or 16 pixels)."""

PREVIEWS = 4
"""At most this many previews per materialization."""
VERIFY_THREADS = 4
"""Stored objects read back and decoded at once by :func:`verify_stored`."""


SHAPE_FIELDS = frozenset({"aspect_ratio", "desired_increase"})
"""Request fields that ask for a shape the dimensions check can compare."""

_DESCRIPTIONS = {
    CHECK_READABLE: "Every stored result exists in object storage and decodes as an image.",
    CHECK_DIMENSIONS: "Stored images have the requested aspect ratio or upscaled size.",
    CHECK_ALPHA: "Cut-outs (background removal) have a real alpha channel.",
    CHECK_VIDEO_READABLE: "Every stored video exists in object storage and decodes (PyAV).",
    CHECK_VIDEO_DURATION: "Stored videos last as long as their input video (within a frame).",
    CHECK_VIDEO_ALPHA: "Videos whose background was made transparent have a real alpha plane.",
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
        names = {requested} if isinstance(requested, str) else set(requested)
        unknown = sorted(names - set(CHECK_NAMES))
        if unknown:
            raise BriaInputError(
                "checks", f"unknown check(s) {unknown}; the checks are {list(CHECK_NAMES)}"
            )
        return tuple(name for name in CHECK_NAMES if name in names)
    model = request_model_of(request)
    if model is None:
        return (CHECK_READABLE,)
    if spec_for(model).path.startswith(VIDEO_ENDPOINT_PREFIX):
        return _video_checks(request, model)
    found = [CHECK_READABLE]
    shape_fields: set[str] = set(SHAPE_FIELDS & set(model.model_fields))
    if isinstance(request, BriaRequest):
        # A fixed request: what it actually asks for, not what its model could.
        shape_fields = {name for name in shape_fields if getattr(request, name) is not None}
    if shape_fields:
        found.append(CHECK_DIMENSIONS)
    if spec_for(model).path in ALPHA_ENDPOINTS:
        found.append(CHECK_ALPHA)
    return tuple(found)


def _video_checks(request: object, model: type[BriaRequest]) -> tuple[str, ...]:
    found = [CHECK_VIDEO_READABLE]
    if "video" in model.model_fields:  # an edit of a video input lasts as long as it
        found.append(CHECK_VIDEO_DURATION)
    promises_alpha = spec_for(model).path in VIDEO_ALPHA_ENDPOINTS and (
        not isinstance(request, BriaRequest)
        or getattr(request, "background_color", None) == "Transparent"
    )
    if promises_alpha:
        found.append(CHECK_VIDEO_ALPHA)
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
            blocking=name in BLOCKING,
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
    videos: dict[str, VideoFacts | None] = dataclasses.field(default_factory=dict)
    """Video facts per object key of a video result (None: missing or not a video)."""


def verify_stored(
    store: ObjectStore,
    records: Sequence[ImageRecord],
    inspected: Mapping[str, ResultFacts] | None = None,
) -> Verified:
    """Read every stored object back and decode it (a video streamed, its packets counted);
    make previews of the first few (a video's is its poster frame).

    ``inspected``: what reading some of the objects back already found (per object key, from
    :func:`~bria_dagster.results.storing.inspect_stored` in the same tick or step); those are
    not read and decoded again, and their previews are taken from there when made.

    The objects are read and decoded by a few threads at once (reads wait on storage; Pillow
    and PyAV decode without the GIL): a batch's read-back is on the step's critical path."""
    known = inspected or {}
    facts: dict[str, ImageFacts | None] = {}
    videos: dict[str, VideoFacts | None] = {}
    problems: dict[str, str] = {}
    previews: list[tuple[ImageRecord, str]] = []

    def read_back(record: ImageRecord) -> tuple[ResultFacts | None, str | None]:
        if record.key in known:
            return known[record.key], None
        try:
            with store.open(record.key) as file:
                return inspect_result(file, record.content_type, record.endpoint), None
        except (StorageError, OSError) as exc:
            return None, str(exc)

    workers = min(VERIFY_THREADS, sum(record.key not in known for record in records))
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="bria-verify") as pool:
            found = list(pool.map(read_back, records))
    else:
        found = [read_back(record) for record in records]
    for record, (seen, problem) in zip(records, found, strict=True):
        facts[record.key] = seen.image if seen is not None else None
        if seen is None or record.endpoint.startswith(VIDEO_ENDPOINT_PREFIX) or record.is_video:
            videos[record.key] = seen.video if seen is not None else None
        if problem is not None:
            problems[record.key] = problem
        elif seen is not None and (seen.image or seen.video) and len(previews) < PREVIEWS:
            make = poster_data_uri if seen.image is None else preview_data_uri
            uri = seen.preview or _preview(store, record, make)
            if uri:
                previews.append((record, uri))
    return Verified(facts, problems, previews, videos)


def _preview(
    store: ObjectStore, record: ImageRecord, make: Callable[[typing.IO[bytes]], str | None]
) -> str | None:
    try:
        with store.open(record.key) as file:
            return make(file)
    except (StorageError, OSError):
        return None


def merge_verified(found: Sequence[Verified]) -> Verified:
    """What several :func:`verify_stored` calls found, as one (previews left out: each call's
    belong to the images it read)."""
    return Verified(
        facts={k: v for item in found for k, v in item.facts.items()},
        problems={k: v for item in found for k, v in item.problems.items()},
        previews=[],
        videos={k: v for item in found for k, v in item.videos.items()},
    )


def evaluate(
    records: Sequence[ImageRecord], verified: Verified, names: Collection[str] = CHECK_NAMES
) -> list[dg.AssetCheckResult]:
    """The results of the checks ``names`` for one materialization's records."""
    checks = {
        CHECK_READABLE: _readable,
        CHECK_DIMENSIONS: _dimensions,
        CHECK_ALPHA: _alpha,
        CHECK_VIDEO_READABLE: _video_readable,
        CHECK_VIDEO_DURATION: _video_duration,
        CHECK_VIDEO_ALPHA: _video_alpha,
    }
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
    return _all_read(CHECK_READABLE, records, bad)


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
    return _outcome(
        CHECK_DIMENSIONS,
        checked,
        bad,
        "no stored result carries a requested size; nothing was compared",
    )


def _alpha(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    return _alpha_in(
        CHECK_ALPHA,
        records,
        verified.facts,
        "no stored result comes from a cut-out operation; nothing was checked",
    )


def _alpha_in(
    name: str,
    records: Sequence[ImageRecord],
    facts: Mapping[str, ImageFacts | VideoFacts | None],
    nothing: str,
) -> dg.AssetCheckResult:
    """Every record expected to have alpha has it, by the ``facts`` read back."""
    wanted = [r for r in records if r.expected.get("alpha")]
    bad = [r.key for r in wanted if not getattr(facts.get(r.key), "has_alpha", False)]
    return _outcome(name, len(wanted), bad, nothing, "without_alpha")


def _video_readable(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    bad = {
        r.key: verified.problems.get(r.key, "does not decode as a video")
        for r in records
        if (facts := verified.videos.get(r.key)) is None or facts.frames == 0
    }
    return _all_read(CHECK_VIDEO_READABLE, records, bad)


def _all_read(
    name: str, records: Sequence[ImageRecord], bad: dict[str, str]
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=bool(records) and not bad,
        metadata={"checked": len(records), "failures": dg.MetadataValue.json(bad)},
        description=None if records else "no stored results",
    )


def _video_duration(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    checked = 0
    bad: dict[str, str] = {}
    for record in records:
        wanted = record.expected.get("duration_s")
        source = record.expected.get("source_video")
        if wanted is None and source is None:
            continue
        checked += 1
        facts = verified.videos.get(record.key)
        if facts is None:
            bad[record.key] = "not readable"
            continue
        if wanted is None:
            try:
                wanted = probe_duration(str(source))
            except ValueError as exc:
                bad[record.key] = f"the input video could not be read: {exc}"
                continue
        tolerance = (1 / facts.fps if facts.fps else 0) + DURATION_TOLERANCE * float(wanted)
        if abs(facts.duration_s - float(wanted)) > tolerance:
            bad[record.key] = f"{facts.duration_s:.3f} s, the input lasts {float(wanted):.3f} s"
    return _outcome(
        CHECK_VIDEO_DURATION,
        checked,
        bad,
        "no stored video records its input; nothing was compared",
    )


def _outcome(
    name: str,
    checked: int,
    bad: Sequence[str] | Mapping[str, str],
    nothing: str,
    key: str = "failures",
) -> dg.AssetCheckResult:
    """Passed when something was compared and nothing is ``bad``; a WARN when nothing was."""
    if not checked:
        return _nothing_checked(name, nothing)
    return dg.AssetCheckResult(
        check_name=name,
        passed=not bad,
        metadata={"checked": checked, key: dg.MetadataValue.json(bad)},
    )


def _video_alpha(records: Sequence[ImageRecord], verified: Verified) -> dg.AssetCheckResult:
    return _alpha_in(
        CHECK_VIDEO_ALPHA,
        records,
        verified.videos,
        "no stored video was asked for a transparent background",
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
    items = value.value if value is not None else None
    if not isinstance(items, list):
        return []
    return [ImageRecord.from_json(item) for item in items if isinstance(item, dict)]


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
