"""The metadata of a Bria materialization: what was asked, what came back, where it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from bria_dagster.client import UsageSnapshot
from bria_dagster.ledger import LedgerEntry
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord

PREVIEW_KEY = "preview"

COST_KEYS = ("bria/api_calls", "bria/status_polls", "bria/rate_limited", "bria/billed_jobs")
"""The integer metadata every Bria materialization carries (inline, submit and result alike),
for the asset page's plots and Dagster+ Insights custom metrics, which read numeric metadata by
key (neither reserves a key of its own)."""


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
        metadata |= cost_metadata(usage)
        if "job_wait_s" in usage:
            metadata["bria/wait_s"] = dg.MetadataValue.float(usage["job_wait_s"])
    return metadata


def cost_metadata(usage: dict[str, Any]) -> dict[str, Any]:
    """``bria/usage`` (all of ``usage``) and those of the :data:`COST_KEYS` that ``usage`` has,
    as integers."""
    values: dict[str, Any] = {"bria/usage": dg.MetadataValue.json(usage)}
    for key in COST_KEYS:
        name = key.removeprefix("bria/")
        if name in usage:
            values[key] = dg.MetadataValue.int(int(usage[name]))
    return values


def deferred_result_usage(entries: Sequence[tuple[LedgerEntry, int]]) -> dict[str, Any]:
    """What deferred requests cost, from their ledger rows and billed POSTs (``(entry,
    billed)`` pairs): their submits (one per attempt), the status polls of their current
    attempts, and the billed POSTs of all their attempts. The 429s met by the result sensor's
    polls are counted in its tick log, not per request."""
    submits = sum(entry.attempts for entry, _ in entries)
    polls = sum(entry.poll_count for entry, _ in entries)
    return {
        "api_calls": submits + polls,
        "submits": submits,
        "status_polls": polls,
        "billed_jobs": sum(billed for _, billed in entries),
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
    if record.is_video:
        values["bria/duration_s"] = dg.MetadataValue.float(float(record.duration_s or 0))
        values["bria/fps"] = dg.MetadataValue.float(float(record.fps or 0))
        values["bria/frames"] = dg.MetadataValue.int(int(record.frames or 0))
        values["bria/codec"] = dg.MetadataValue.text(record.codec or "")
        values["bria/resolution"] = dg.MetadataValue.text(f"{record.width}x{record.height}")
        values["bria/content_type"] = dg.MetadataValue.text(record.content_type)
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
        if r.is_video:
            size += f", {r.duration_s} s {r.codec}"
        lines.append(
            f"| {r.variant or '-'} | {r.request_id} | {size} | {r.seed or '-'} | {r.uri} |"
        )
    return "\n".join(lines)
