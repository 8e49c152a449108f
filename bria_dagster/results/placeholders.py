"""v1 calls answered with placeholder URLs (ads, ``sync: false`` shots), through the ledger.

The POST's answer is kept in the ledger row while it is still ``pending`` (the URLs), so the wait
for the files survives a crash: the inline step's retry, or the result sensor for a deferred
step, probes the same URLs again and never sends the request twice. Once every URL has its file
the row is completed with that answer and stored like any result.
"""

from __future__ import annotations

import time
import uuid

from bria_dagster.client import AsyncBriaClient
from bria_dagster.client.catalog import CATALOG
from bria_dagster.client.polling import PollSchedule
from bria_dagster.client.types.responses import parse_v1_result, placeholder_urls
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry


def sync_request_id(entry: LedgerEntry) -> str:
    """The ledger's request_id of a v1 call (v1 answers carry none)."""
    return f"sync-{entry.id}-{uuid.uuid4().hex[:12]}"


def urls_of(entry: LedgerEntry) -> list[str] | None:
    """The placeholder URLs a ``pending`` v1 entry waits for, or None for any other entry."""
    spec = CATALOG.get(entry.endpoint)
    if entry.state is not EntryState.PENDING or spec is None or spec.placeholders is None:
        return None
    if not isinstance(entry.result, dict):
        return None
    return placeholder_urls(entry.result.get("raw") or {})


def keep_answer(
    client: AsyncBriaClient, ledger: Ledger, entry: LedgerEntry, body: object
) -> LedgerEntry:
    """Record a placeholder answer: ``pending`` with the URLs kept, first probe when the
    endpoint family's first status poll would be."""
    result = parse_v1_result(body)
    first = PollSchedule.for_endpoint(entry.endpoint, client.settings).next_delay(0)
    request_id = sync_request_id(entry)
    kept = result.model_copy(update={"request_id": request_id}).model_dump(mode="json")
    return ledger.mark_submitted(
        entry.id, request_id, None, time.time() + first, result=kept, result_url=result.url
    )


async def wait_and_complete(
    client: AsyncBriaClient,
    ledger: Ledger,
    entry: LedgerEntry,
    *,
    resume: bool,
    timeout: float | None = None,  # noqa: ASYNC109 - per-URL deadline, WaitTimeoutError
) -> LedgerEntry:
    """Wait for an entry's placeholder URLs (``resume``: probe at once) and complete it.

    Raises what :meth:`AsyncBriaClient.wait_placeholders` raises (``JobFailedError`` for a
    moderated, zero-byte result; ``WaitTimeoutError`` for a URL still empty).
    """
    urls = urls_of(entry) or []
    await client.wait_placeholders(
        urls,
        endpoint=entry.endpoint,
        request=f"request {entry.request_id} (POST {entry.endpoint})",
        timeout=timeout,
        resume=resume,
    )
    return ledger.mark_completed(entry.id, entry.result or {}, entry.result_url)
