"""The metadata of a Bria materialization: what was asked, what came back, where it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from bria_dagster.client import UsageSnapshot
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord

PREVIEW_KEY = "preview"


def usage_delta(before: UsageSnapshot, after: UsageSnapshot) -> dict[str, Any]:
    """What a step spent: ``after`` minus ``before`` (calls by endpoint, polls, 429s, waits)."""
    calls = {
        name: count - before.calls.get(name, 0)
        for name, count in after.calls.items()
        if count - before.calls.get(name, 0)
    }
    return {
        "calls": calls,
        "api_calls": sum(calls.values()),
        "status_polls": after.status_polls - before.status_polls,
        "rate_limited": after.rate_limited - before.rate_limited,
        "retries": after.retries - before.retries,
        "limiter_wait_s": round(after.limiter_wait_s - before.limiter_wait_s, 3),
        "retry_wait_s": round(after.retry_wait_s - before.retry_wait_s, 3),
        "job_wait_s": round(after.job_wait_s - before.job_wait_s, 3),
        "downloads": after.downloads - before.downloads,
        "downloaded_bytes": after.downloaded_bytes - before.downloaded_bytes,
    }


def materialization_metadata(
    records: Sequence[ImageRecord],
    previews: Sequence[tuple[ImageRecord, str]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """Metadata for the UI and for downstream steps (``bria/images``)."""
    metadata: dict[str, Any] = {}
    if previews:  # first, so the UI lists it at the top
        metadata[PREVIEW_KEY] = dg.MetadataValue.md(
            "\n".join(f"![{_caption(record)}]({uri})" for record, uri in previews)
        )
    metadata |= {
        METADATA_IMAGES: dg.MetadataValue.json([r.as_json() for r in records]),
        "bria/count": dg.MetadataValue.int(len(records)),
        "bria/reused": dg.MetadataValue.int(sum(r.reused for r in records)),
        "bria/bytes": dg.MetadataValue.int(sum(r.size for r in records)),
    }
    if len(records) == 1:
        metadata.update(_single(records[0]))
    elif records:
        metadata["bria/results"] = dg.MetadataValue.md(_table(records))
    job_seconds = [
        r.completed_at - r.submitted_at
        for r in records
        if r.completed_at is not None and r.submitted_at is not None
    ]
    if job_seconds:
        metadata["bria/job_seconds_max"] = dg.MetadataValue.float(round(max(job_seconds), 3))
    if usage is not None:
        metadata |= usage_metadata(usage)
    return metadata


def usage_metadata(usage: dict[str, Any]) -> dict[str, Any]:
    """What a step spent (:func:`usage_delta`), as metadata."""
    return {
        "bria/usage": dg.MetadataValue.json(usage),
        "bria/api_calls": dg.MetadataValue.int(usage["api_calls"]),
        "bria/status_polls": dg.MetadataValue.int(usage["status_polls"]),
        "bria/rate_limited": dg.MetadataValue.int(usage["rate_limited"]),
        "bria/wait_s": dg.MetadataValue.float(usage["job_wait_s"]),
    }


def _single(record: ImageRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "bria/request_id": dg.MetadataValue.text(record.request_id),
        "bria/endpoint": dg.MetadataValue.text(record.endpoint),
        "bria/storage_uri": dg.MetadataValue.path(record.uri),
        "bria/size_bytes": dg.MetadataValue.int(record.size),
        "bria/sha256": dg.MetadataValue.text(record.sha256),
    }
    if record.width is not None and record.height is not None:
        values["bria/width"] = dg.MetadataValue.int(record.width)
        values["bria/height"] = dg.MetadataValue.int(record.height)
    if record.seed is not None:
        values["bria/seed"] = dg.MetadataValue.int(record.seed)
    for name in ("prompt", "refined_prompt"):
        text = getattr(record, name)
        if text:
            values[f"bria/{name}"] = dg.MetadataValue.text(text)
    if record.structured_prompt:
        values["bria/structured_prompt"] = dg.MetadataValue.md(
            f"```json\n{record.structured_prompt}\n```"
        )
    return values


def _caption(record: ImageRecord) -> str:
    return record.variant or record.partition_key or record.request_id


def _table(records: Sequence[ImageRecord]) -> str:
    lines = [
        "| variant | request_id | size | seed | stored at |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        size = f"{r.width}x{r.height}" if r.width else f"{r.size} B"
        lines.append(
            f"| {r.variant or '-'} | {r.request_id} | {size} | {r.seed or '-'} | {r.uri} |"
        )
    return "\n".join(lines)
