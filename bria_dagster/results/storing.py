"""Storing a finished request's result: download, inspect, write once, mark ``stored``.

Inline steps (``bria_dagster.assets``) and the result sensor (``bria_dagster.sensors``) store
results the same way through :func:`store_entry`, so either one can finish what the other began.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from bria_dagster.client import AsyncBriaClient, JobResult
from bria_dagster.client.errors import DownloadError
from bria_dagster.failpoints import crash_point
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from bria_dagster.ledger.grouped import GroupedWrites
from bria_dagster.results.images import ResultFacts, extension_for, inspect_result
from bria_dagster.results.records import ImageRecord
from bria_dagster.storage import ObjectStore, object_key

SPOOL_BYTES = 16 * 1024 * 1024
"""Results up to this size are held in memory between download and store; larger ones spill
to a temporary file."""

STREAM_CHUNK = 1024 * 1024

SUMMARY_VARIANT = "_variant"
SUMMARY_EXPECTED = "_expected"
"""Keys of a ledger entry's summary that keep the step's variant name and the checks'
expectations, so whoever stores the result (the step or the sensor) records the same thing."""


def storage_hash(payload_hash: str, forced_generation: int) -> str:
    """The hash that names a result's object: a forced refresh gets a new object (write-once)."""
    if forced_generation == 0:
        return payload_hash
    return hashlib.sha256(f"{payload_hash}:{forced_generation}".encode()).hexdigest()


async def store_entry(
    client: AsyncBriaClient,
    ledger: Ledger,
    store: ObjectStore,
    entry: LedgerEntry,
    *,
    writes: GroupedWrites | None = None,
) -> ImageRecord:
    """Download a ``completed`` entry's result into the store and mark it ``stored``.

    A ``stored`` entry is reused as it is (``reused=True``). An expired result URL is fetched
    anew from the Status Service. The object's key is deterministic, so a crash between storing
    and marking finds the object already there and reuses it (write-once). ``writes``: mark it
    stored in a commit shared with other jobs' writes (:mod:`bria_dagster.ledger.grouped`).
    """
    return (await store_inspected(client, ledger, store, entry, writes=writes))[0]


async def store_inspected(
    client: AsyncBriaClient,
    ledger: Ledger,
    store: ObjectStore,
    entry: LedgerEntry,
    *,
    preview: bool = False,
    writes: GroupedWrites | None = None,
) -> tuple[ImageRecord, ResultFacts]:
    """:func:`store_entry`, and what decoding the result found (with ``preview``, its
    thumbnail too, made from the same decode)."""
    if entry.state is EntryState.STORED:
        record, found = inspect_stored(store, entry, preview=preview)
        return record.with_(reused=True), found
    result = JobResult.model_validate(entry.result or {})
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        download_type = await _download(client, entry, result, spool)
        crash_point("store.downloaded")
        # Decoding takes milliseconds (Pillow and PyAV let go of the GIL): off the event loop,
        # which meanwhile polls and downloads the batch's other jobs.
        facts = await asyncio.to_thread(
            inspect_result, spool, download_type, entry.endpoint, preview=preview
        )
        content_type, extension = extension_for(facts, download_type)
        key = object_key(
            entry.asset_key.split("/"),
            entry.partition_key,
            storage_hash(entry.payload_hash, entry.forced_generation),
            extension,
        )
        stored = await store.put_async(
            key,
            _chunks(spool),
            content_type=content_type,
            provenance=_provenance(entry, result),
        )
    crash_point("store.after_put")
    # In a worker thread, or in a commit shared with other jobs' writes (``writes``): the
    # commit waits for the disk, the event loop need not.
    mark = functools.partial(ledger.mark_stored, entry.id, stored.uri, stored.sha256)
    marked = await (asyncio.to_thread(mark) if writes is None else writes.run(mark))
    record = _record(marked, result, stored.key, stored.size, stored.sha256, content_type, facts)
    return record, facts


def record_of_stored(store: ObjectStore, entry: LedgerEntry) -> ImageRecord:
    """The :class:`ImageRecord` of a ``stored`` entry, its facts read back from the object."""
    return inspect_stored(store, entry)[0]


def inspect_stored(
    store: ObjectStore,
    entry: LedgerEntry,
    *,
    preview: bool = False,
    decoded: tuple[str, ResultFacts] | None = None,
) -> tuple[ImageRecord, ResultFacts]:
    """A ``stored`` entry's record and what reading its object back and decoding it found
    (with ``preview``, its thumbnail too): one decode that the checks, the metadata and the
    preview can share (see :func:`~bria_dagster.assets.checks.verify_stored`'s ``inspected``).

    ``decoded``: the sha256 and facts of the bytes :func:`store_inspected` decoded on their way
    into the store; when the stored object is there with that sha256, its facts are taken and
    the object is not decoded again."""
    key = _key_of(store, entry)
    info = store.info(key)
    if decoded is not None and decoded[0] == info.sha256 and (decoded[1].preview or not preview):
        facts = decoded[1]
    else:
        with store.open(key) as file:
            facts = inspect_result(file, info.content_type, entry.endpoint, preview=preview)
    result = JobResult.model_validate(entry.result or {})
    record = _record(entry, result, key, info.size, info.sha256, info.content_type, facts)
    return record, facts


def _record(
    entry: LedgerEntry,
    result: JobResult,
    key: str,
    size: int,
    sha256: str,
    content_type: str,
    facts: ResultFacts,
) -> ImageRecord:
    summary = entry.request_summary
    video = facts.video
    return ImageRecord(
        partition_key=entry.partition_key,
        variant=summary.get(SUMMARY_VARIANT),
        request_id=entry.request_id or "",
        endpoint=entry.endpoint,
        uri=entry.storage_uri or "",
        key=key,
        size=size,
        sha256=sha256,
        content_type=content_type,
        width=facts.width,
        height=facts.height,
        has_alpha=facts.has_alpha,
        seed=result.seed,
        prompt=result.prompt,
        refined_prompt=result.refined_prompt,
        structured_prompt=_clip(result.structured_prompt),
        result_url=entry.result_url,
        submitted_at=entry.submitted_at,
        completed_at=entry.completed_at,
        stored_at=entry.stored_at,
        expected=dict(summary.get(SUMMARY_EXPECTED) or {}),
        duration_s=video.duration_s if video else None,
        fps=video.fps if video else None,
        frames=video.frames if video else None,
        codec=video.codec if video else None,
    )


async def _download(
    client: AsyncBriaClient, entry: LedgerEntry, result: JobResult, sink: IO[bytes]
) -> str | None:
    url = entry.result_url or result.url
    if not url:
        raise DownloadError(f"request {entry.request_id}: the result has no file URL")
    try:
        return (await client.download(url, sink)).content_type
    except DownloadError as exc:
        if not exc.expired or not entry.request_id or entry.request_id.startswith("sync-"):
            raise
    # The signed URL expired: the Status Service signs a fresh one.
    status = await client.status(entry.request_id)
    fresh = status.result.url if status.result else None
    if not fresh:
        raise DownloadError(f"request {entry.request_id}: no fresh result URL after expiry")
    sink.seek(0)
    sink.truncate()
    return (await client.download(fresh, sink)).content_type


def _key_of(store: ObjectStore, entry: LedgerEntry) -> str:
    root = store.uri.rstrip("/") + "/"
    uri = entry.storage_uri or ""
    if not uri.startswith(root):
        raise DownloadError(
            f"request {entry.request_id} was stored at {uri}, outside this store ({store.uri})"
        )
    return uri[len(root) :]


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    file.seek(0)
    while chunk := file.read(STREAM_CHUNK):
        yield chunk


def _provenance(entry: LedgerEntry, result: JobResult) -> dict[str, Any]:
    values = {
        "request_id": entry.request_id,
        "endpoint": entry.endpoint,
        "prompt": result.prompt,
        "seed": result.seed,
        "asset_key": entry.asset_key,
        "partition_key": entry.partition_key,
        "variant": entry.request_summary.get(SUMMARY_VARIANT),
        "payload_hash": entry.payload_hash,
        "forced_generation": entry.forced_generation,
    }
    return {name: value for name, value in values.items() if value is not None}


def _clip(text: str | None, limit: int = 4000) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"…[{len(text)} chars]"
