"""How a step's failures reach Dagster: which ones its retry policy may retry."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from bria_dagster.assets.execute import JobError

DEFAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Retries a step after a 5xx, a network failure, a 429 that outlasted the client's retries or
a wait that timed out; a retried step resumes its request_ids from the ledger. Moderation
refusals, bad input and ambiguous submits fail without retry (``Failure(allow_retries=False)``)."""


def step_failure(asset_key: str, errors: Sequence[JobError], stored: int) -> dg.Failure:
    """One :class:`dagster.Failure` for every job of the step that did not end stored."""
    lines = [f"- {error.job.label}: {error.message}" for error in errors]
    retryable = all(error.retryable for error in errors)
    capped = next((error.budget for error in errors if error.budget is not None), None)
    description = (
        (f"{asset_key}: {capped}\n" if capped is not None else "")
        + f"{asset_key}: {len(errors)} Bria job(s) failed"
        + (f" ({stored} stored and kept for the next attempt)" if stored else "")
        + ":\n"
        + "\n".join(lines[:20])
        + (f"\n… and {len(lines) - 20} more" if len(lines) > 20 else "")
    )
    return dg.Failure(
        description=description,
        metadata={
            "failed_jobs": dg.MetadataValue.json(
                [
                    {
                        "partition": e.job.partition_key,
                        "variant": e.job.variant,
                        "endpoint": e.job.endpoint,
                        "error": e.message,
                        "retryable": e.retryable,
                    }
                    for e in errors
                ]
            )
        },
        allow_retries=retryable,
    )
