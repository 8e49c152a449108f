"""Turning a step's typed requests into planned jobs: endpoint, wire payload, hash, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bria_dagster.assets.step import StepInput
from bria_dagster.client.catalog import OperationSpec, spec_for
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest
from bria_dagster.ledger import canonical_payload_hash, request_summary
from bria_dagster.results.storing import SUMMARY_EXPECTED, SUMMARY_VARIANT
from bria_dagster.storage import object_key

RequestSet = BriaRequest | Sequence[BriaRequest] | Mapping[str, BriaRequest] | None
"""What a request builder returns for one partition: one request, a list, or named variants
(``{"1:1": ..., "9:16": ...}``); None (or an empty list) when the partition needs nothing."""

RequestBuilder = Callable[[StepInput], RequestSet]

ALPHA_ENDPOINTS = frozenset(
    {
        "/v2/image/edit/remove_background",
        "/v2/image/edit/remove_background/guided",
        "/v2/image/edit/product/cutout",
        "/v1/product/cutout",
    }
)
"""Operations whose image must carry a real alpha channel (a cut-out)."""

VIDEO_ALPHA_ENDPOINTS = frozenset({"/v2/video/edit/remove_background"})
"""Video operations whose result has an alpha plane when asked for a ``Transparent`` background."""

KEY_CHECK_EXTENSION = "webm"
"""The longest extension a result gets (see ``images.extension_for``): the key checked before
the POST is never shorter than the one stored."""


@dataclass(frozen=True)
class PlannedJob:
    """One Bria request of a step, before anything is sent."""

    partition_key: str | None
    variant: str | None
    spec: OperationSpec
    payload: dict[str, Any]
    """The request's body as hashed (without the client's own fields such as ``sync``)."""
    call_payload: dict[str, Any]
    """The body a synchronous v1 call sends (with the client's defaults)."""
    payload_hash: str
    summary: dict[str, Any]
    expected: dict[str, Any]

    @property
    def endpoint(self) -> str:
        """The operation's path."""
        return self.spec.path

    @property
    def label(self) -> str:
        """``partition[variant]`` for messages."""
        text = self.partition_key or "(unpartitioned)"
        return f"{text}[{self.variant}]" if self.variant is not None else text


def plan_step(requests: RequestSet, step: StepInput, *, field: str = "request") -> list[PlannedJob]:
    """Validate what a builder returned for ``step`` and plan its jobs (no HTTP call).

    Raises :class:`BriaInputError` naming the field (``request[9:16].aspect_ratio``) on a
    request that is not a catalog model or whose payload cannot be built.
    """
    if requests is None:
        return []
    if isinstance(requests, BriaRequest):
        named: list[tuple[str | None, object]] = [(None, requests)]
    elif isinstance(requests, Mapping):
        named = [(str(name), request) for name, request in requests.items()]
    elif isinstance(requests, Sequence) and not isinstance(requests, str | bytes):
        named = [(str(i), request) for i, request in enumerate(requests)]
    else:
        raise BriaInputError(
            field,
            "a request builder must return a catalog request, a list of them or a dict of "
            f"named ones, got {type(requests).__name__}",
        )
    return [_plan(request, step, variant, field) for variant, request in named]


def _plan(request: object, step: StepInput, variant: str | None, field: str) -> PlannedJob:
    where = f"{field}[{variant}]" if variant is not None else field
    if not isinstance(request, BriaRequest):
        raise BriaInputError(
            where, f"must be a catalog request model, got {type(request).__name__}"
        )
    try:
        spec = spec_for(type(request))
    except KeyError as exc:
        raise BriaInputError(where, str(exc.args[0])) from None
    if spec.request_model is None or spec.method != "POST":
        raise BriaInputError(where, f"{spec.path} is not a job operation")
    try:
        payload = request.to_payload()
        call_payload = request.with_client_defaults().to_payload()
    except BriaInputError as exc:
        raise BriaInputError(f"{where}.{exc.field}", str(exc).split(": ", 1)[-1]) from None
    payload_hash = canonical_payload_hash(spec.path, payload)
    # The result's object key must be possible before anything is paid for (a partition key
    # that encodes to more than a file name's 255 bytes is refused here, not after the POST).
    object_key(step.asset_key.split("/"), step.partition_key, payload_hash, KEY_CHECK_EXTENSION)
    expected = expected_output(spec.path, payload, step)
    summary = {**request_summary(payload), SUMMARY_VARIANT: variant, SUMMARY_EXPECTED: expected}
    return PlannedJob(
        partition_key=step.partition_key,
        variant=variant,
        spec=spec,
        payload=payload,
        call_payload=call_payload,
        payload_hash=payload_hash,
        summary=summary,
        expected=expected,
    )


def expected_output(endpoint: str, payload: Mapping[str, Any], step: StepInput) -> dict[str, Any]:
    """What the stored image should be: aspect ratio, exact size, alpha (for the checks)."""
    expected: dict[str, Any] = {}
    ratio = payload.get("aspect_ratio")
    if isinstance(ratio, str) and ":" in ratio:
        expected["aspect_ratio"] = ratio
    increase = payload.get("desired_increase")
    images = step.images
    if isinstance(increase, int) and len(images) == 1:
        source = images[0]
        if source.width and source.height:
            expected["width"] = source.width * increase
            expected["height"] = source.height * increase
    if endpoint in ALPHA_ENDPOINTS:
        expected["alpha"] = True
    if endpoint.startswith("/v2/video/"):
        expected.update(_expected_video(endpoint, payload, step))
    return expected


def _expected_video(endpoint: str, payload: Mapping[str, Any], step: StepInput) -> dict[str, Any]:
    """A video edit lasts as long as its input: the duration an upstream record knows, else
    the input's URL (the check reads its duration); alpha when asked for transparency."""
    expected: dict[str, Any] = {}
    if endpoint in VIDEO_ALPHA_ENDPOINTS and payload.get("background_color") == "Transparent":
        expected["alpha"] = True
    video = payload.get("video")
    if not isinstance(video, str):
        return expected
    known = [
        image.record.duration_s
        for image in step.images
        if image.record.duration_s is not None and video in (image.result_url, image.uri)
    ]
    if known:
        expected["duration_s"] = known[0]
    else:
        expected["source_video"] = video
    return expected
