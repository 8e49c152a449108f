"""Batch-throughput modes (b), (c), (d): the Dagster layer over the same batch as the others.

(b) one inline asset whose step sends the whole batch (a list of requests) and waits for it;
(c) a deferred asset over N dynamic partitions, submitted in one run, collected by ticks of the
    result sensor evaluated back to back in a thread while that run goes on (the daemon ticks
    beside the runs in the same way, every ``minimum_interval``);
(d) the same with ``webhook_url``: the ``bria-webhooks`` receiver completes the ledger rows and
    the sensor only stores and reports.

Each returns a ``ModeResult`` (``batch_mode.py``), as ``batch_throughput.py`` expects.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
from _common import dagster_instance
from batch_mode import BenchSettings, ModeResult

from bria_dagster.assets import METADATA_IMAGES, BriaImageIOManager, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor, run_tick
from bria_dagster.webhooks.app import create_webhook_app
from bria_dagster.webhooks.server import WebhookServer

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
TICK_PAUSE_S = 0.5


def _resources(settings: BenchSettings, webhook_url: str | None = None) -> dict[str, Any]:
    bria = BriaResource(**settings.client_kwargs(), webhook_url=webhook_url)
    return {
        "bria": bria,
        "bria_storage": BriaStorageResource(uri=settings.store_uri),
        "bria_ledger": BriaLedgerResource(
            url=f"sqlite:///{Path(settings.scratch, 'ledger.db').resolve()}"
        ),
        "bria_io_manager": BriaImageIOManager(storage=BriaStorageResource(uri=settings.store_uri)),
    }


def _request(settings: BenchSettings, index: int) -> GenerateImageRequest:
    return GenerateImageRequest(**settings.payload(index))


def _instance(settings: BenchSettings) -> contextlib.AbstractContextManager[dg.DagsterInstance]:
    return dagster_instance(Path(settings.scratch, "dagster_home"), settings.dagster_instance)


def inline_asset(settings: BenchSettings) -> ModeResult:
    """(b) one inline step: all N requests fanned out, waited for and stored in one run."""
    n = settings.jobs
    asset = bria_asset(
        "batch", lambda _step: [_request(settings, i) for i in range(n)], retry_policy=None
    )
    resources = _resources(settings)
    with _instance(settings) as instance:
        started = time.monotonic()
        result = dg.materialize(
            [asset], instance=instance, resources=resources, raise_on_error=False, run_config=QUIET
        )
        makespan = time.monotonic() - started
        stored = 0
        errors: list[str] = []
        if result.success:
            (m,) = result.asset_materializations_for_node("batch")
            stored = len(m.metadata[METADATA_IMAGES].value)
        else:
            failure = result.failure_data_for_node("batch")
            errors.append(str(failure.error.message if failure and failure.error else "failed"))
    return ModeResult(n, stored, n - stored, makespan, errors[:5])


def _deferred(settings: BenchSettings, webhooks: bool) -> ModeResult:
    n = settings.jobs
    keys = [f"job-{i:05d}" for i in range(n)]
    parts = dg.DynamicPartitionsDefinition(name="bench_jobs")
    photo = bria_deferred_asset(
        "batch",
        lambda step: _request(settings, int((step.partition_key or "0").split("-")[1])),
        partitions_def=parts,
        retry_policy=None,
    )
    sensor = build_bria_result_sensor(
        [photo], limits=TickLimits(budget_s=30.0, max_polls=1000, max_stores=200, max_reports=500)
    )
    resources = _resources(settings)
    receiver: WebhookServer | None = None
    if webhooks:
        ledger = resources["bria_ledger"].get_ledger()
        receiver = WebhookServer(create_webhook_app(ledger, settings.token)).start()
        resources = _resources(settings, webhook_url=receiver.webhook_url)
    defs = dg.Definitions(assets=[*photo], sensors=[sensor], resources=resources)
    reported: set[str] = set()
    ticks = 0
    submit_done = threading.Event()
    tick_errors: list[str] = []
    try:
        with _instance(settings) as instance:
            instance.add_dynamic_partitions("bench_jobs", keys)
            started = time.monotonic()
            deadline = started + max(600.0, 4 * n / max(settings.plan_rpm / 60, 0.1))
            submit_ok = False  # until the run says otherwise (it may also raise)

            def tick_until_done() -> None:
                # The daemon's part: ticks while the submit run is still going, as in a deployment.
                nonlocal ticks
                cursor: str | None = None
                try:
                    while len(reported) < n and time.monotonic() < deadline:
                        if submit_done.is_set() and not submit_ok:
                            return
                        data = run_tick(
                            sensor,
                            instance=instance,
                            definitions=defs,
                            resources=resources,
                            cursor=cursor,
                        )
                        ticks += 1
                        reported.update(
                            event.partition
                            for event in data.asset_events or []
                            if isinstance(event, dg.AssetMaterialization) and event.partition
                        )
                        cursor = data.cursor
                        if len(reported) < n:
                            time.sleep(TICK_PAUSE_S)
                except Exception as exc:  # reported as the mode's error, not lost in a thread
                    tick_errors.append(f"sensor tick failed: {exc!r}"[:300])

            ticking = threading.Thread(target=tick_until_done, name="bench-sensor")
            ticking.start()
            try:
                submitted = dg.materialize(
                    [*photo],
                    selection=[photo.submit.key],
                    instance=instance,
                    resources=resources,
                    tags={
                        "dagster/asset_partition_range_start": keys[0],
                        "dagster/asset_partition_range_end": keys[-1],
                    },
                    raise_on_error=False,
                    run_config=QUIET,
                )
                submit_ok = submitted.success
            finally:
                submit_done.set()
                submitted_s = time.monotonic() - started
                ticking.join()
            makespan = time.monotonic() - started
    finally:
        if receiver is not None:
            receiver.stop()
    errors = ([] if submit_ok else ["the submit step failed"]) + tick_errors
    phases = {"submitted_s": round(submitted_s, 2), "sensor_ticks": float(ticks)}
    return ModeResult(n, len(reported), n - len(reported), makespan, errors, None, phases)


def deferred_sensor(settings: BenchSettings) -> ModeResult:
    """(c) deferred asset + result sensor polling within the status budget."""
    return _deferred(settings, webhooks=False)


def deferred_webhooks(settings: BenchSettings) -> ModeResult:
    """(d) deferred asset + webhooks: the sensor stores and reports, polls only as fallback."""
    return _deferred(settings, webhooks=True)
