"""``bria-ledger spend`` (billed requests per day, asset and run; the caps and how much of each
is used) and ``bria-ledger estimate`` (the price of a backfill, before launching it).

``estimate`` runs the selected assets in-process as a dry run (run tag ``bria/dry_run=true``)
with the code location's own resources: each step plans and validates its requests, looks them
up in the ledger, and sends nothing. It runs on the instance of ``$DAGSTER_HOME`` when set (so
upstream images already materialized are found), else on an ephemeral one.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from bria_dagster.assets.spend import BLOCKED, DRY_RUN_TAG, RESUME, REUSE, SEND
from bria_dagster.demo.run import load_module
from bria_dagster.ledger import Ledger, SpendCaps
from bria_dagster.ledger.caps import DAY_S, GROUPS
from bria_dagster.ops_cli.table import format_table
from bria_dagster.resources import BriaResource

TOP = 20
"""Rows shown per asset and per run."""


class DefinitionsError(Exception):
    """The code location cannot be loaded; the message names the argument at fault."""


def add_location_args(parser: argparse.ArgumentParser, required: bool) -> None:
    """``-m MODULE`` / ``-f FILE``: where the Dagster definitions are (as the ``dagster`` CLI)."""
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("-m", "--module-name", help="Python module holding the Definitions")
    where.add_argument("-f", "--python-file", help="Python file holding the Definitions")


def load_definitions(args: argparse.Namespace) -> dg.Definitions | None:
    """The Definitions of ``-m``/``-f`` (the module's ``defs``, else its only Definitions)."""
    try:
        if args.module_name:
            module = importlib.import_module(args.module_name)
        elif args.python_file:
            path = Path(args.python_file)
            if not path.is_file():
                raise DefinitionsError(f"-f: no file at {path}")
            module = load_module(path)
        else:
            return None
    except ImportError as exc:
        raise DefinitionsError(f"-m: cannot import {args.module_name}: {exc}") from None
    found = [v for v in vars(module).values() if isinstance(v, dg.Definitions)]
    defs = getattr(module, "defs", None)
    if isinstance(defs, dg.Definitions):
        return defs
    if len(found) != 1:
        raise DefinitionsError(f"-m/-f: expected one Definitions object, found {len(found)}")
    return found[0]


def caps_of(defs: dg.Definitions | None) -> list[tuple[str, SpendCaps]]:
    """(resource key, caps) of every BriaResource of the definitions."""
    if defs is None:
        return []
    resources: dict[str, Any] = dict(defs.resources or {})
    return [
        (name, value.spend_caps())
        for name, value in sorted(resources.items())
        if isinstance(value, BriaResource)
    ]


def spend(ledger: Ledger, args: argparse.Namespace) -> int:
    """``spend``: billed requests per day, asset and run; each cap with its use."""
    since = time.time() - args.days * DAY_S
    print(f"billed requests in the last {args.days} day(s) (a POST that may have been billed)")
    for group in GROUPS:
        try:
            rows = ledger.spend_per(group, since=since, scope=args.scope)
        except sa.exc.SQLAlchemyError as exc:
            if "bria_spend" not in str(exc):
                raise
            print("no spend recorded: this ledger predates spend tracking (its bria_spend table")
            print("is created the next time a Bria step or sensor opens the ledger)")
            return 0
        shown = rows if group == "day" else rows[:TOP]
        print()
        print(format_table([group, "billed"], [(key, str(n)) for key, n in shown] or [("-", "0")]))
        if len(rows) > len(shown):
            print(f"(top {TOP} of {len(rows)})")
    try:
        defs = load_definitions(args)
    except DefinitionsError as exc:
        print(f"bria-ledger: {exc}")
        return 2
    caps = caps_of(defs)
    print()
    if not caps:
        print("caps: pass -m/-f (the code location) to show its caps and their use")
        return 0
    rows_out: list[tuple[str, str, str, str, str]] = []
    for name, found in caps:
        if args.scope:
            found = SpendCaps(**{**found.__dict__, "scope": args.scope})
        for use in ledger.scope_usage(found):
            rows_out.append(
                (name, use.cap.setting, str(use.cap.limit), str(use.used), str(use.left))
            )
        for field, value in (
            ("max_requests_per_run", found.per_run),
            ("max_requests_per_asset_per_day", found.per_asset_per_day),
        ):
            if value is not None:
                rows_out.append((name, f"BriaResource.{field}", str(value), "per run/asset", "-"))
    print(format_table(["resource", "cap", "limit", "used", "left"], rows_out or [("-",) * 5]))
    return 0


def estimate(args: argparse.Namespace) -> int:
    """``estimate``: what a backfill of the selection would bill, sending nothing.

    Each selected Bria step is dry-run on its own, in dependency order, against the upstream
    images that exist now (only steps of kind ``bria`` run: anything else would really
    execute)."""
    try:
        defs = load_definitions(args)
    except DefinitionsError as exc:
        print(f"bria-ledger: {exc}")
        return 2
    assert defs is not None
    graph = defs.resolve_asset_graph()
    steps = [
        key
        for key in graph.toposorted_asset_keys
        if graph.get(key).is_executable and "bria" in graph.get(key).kinds
    ]
    if args.select:
        wanted = {dg.AssetKey.from_user_string(key) for key in args.select}
        unknown = sorted(k.to_user_string() for k in wanted - set(steps))
        if unknown:
            print(f"bria-ledger: --select: not a Bria step of this code location: {unknown}")
            return 2
        steps = [key for key in steps if key in wanted]
    job = defs.resolve_implicit_global_asset_job_def()
    totals: dict[str, dict[str, int]] = {}
    notes: dict[str, str] = {}
    with _instance() as instance:
        for key in steps:
            upstream = _upstream_of(graph, key)
            changed = sorted(k for k in upstream if totals.get(k, {}).get(SEND))
            if changed:
                notes[key.to_user_string()] = (
                    f"priced on the current images of {', '.join(changed)}, which would change"
                )
            for extra in _partition_runs(args):
                tags = {DRY_RUN_TAG: "true", **extra.pop("tags", {})}
                result = job.execute_in_process(
                    instance=instance,
                    asset_selection=[key],
                    tags=tags,
                    raise_on_error=False,
                    **extra,
                )
                if not result.success:
                    notes[key.to_user_string()] = f"not priced: {_failure(result)}"
                    continue
                for name, counts in _observed(result).items():
                    row = totals.setdefault(name, dict.fromkeys((SEND, REUSE, RESUME, BLOCKED), 0))
                    for kind, n in counts.items():
                        row[kind] += n
    headers = ["asset", "would send (billed)", "reused", "resumed", "blocked", "note"]
    kinds = (SEND, REUSE, RESUME, BLOCKED)
    names = sorted(set(totals) | set(notes))
    empty = dict.fromkeys(kinds, 0)
    rows = [
        (name, *(str(totals.get(name, empty)[k]) for k in kinds), notes.get(name, ""))
        for name in names
    ]
    print(format_table(headers, rows or [("-", "0", "0", "0", "0", "")]))
    billed = sum(c[SEND] for c in totals.values())
    reused = sum(c[REUSE] for c in totals.values())
    print(f"this backfill would send {billed} billed request(s) ({reused} already stored, reused)")
    print("0 requests were sent")
    return 1 if any(note.startswith("not priced") for note in notes.values()) else 0


def _partition_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One dry run's arguments per partition selection: a range, each key, or none."""
    runs: list[dict[str, Any]] = []
    if args.range:
        start, end = args.range
        tags = {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        }
        runs.append({"tags": tags})
    runs.extend({"partition_key": key} for key in args.partition or [])
    return runs or [{}]


def _upstream_of(graph: Any, key: dg.AssetKey) -> set[str]:
    """The asset keys ``key`` reads from, through non-executable specs (a deferred step's
    result is fed by its submit asset)."""
    found: set[str] = set()
    for parent in graph.get(key).parent_keys:
        found.add(parent.to_user_string())
        if not graph.get(parent).is_executable:
            found |= _upstream_of(graph, parent)
    return found


def _observed(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_OBSERVATION":
            continue
        observation = event.asset_observation_data.asset_observation
        meta = observation.metadata
        if "bria/would_send" not in meta:
            continue
        row = found.setdefault(observation.asset_key.to_user_string(), {})
        for kind in (SEND, REUSE, RESUME, BLOCKED):
            value = meta[f"bria/{kind}"].value
            row[kind] = row.get(kind, 0) + int(value if isinstance(value, int) else 0)
    return found


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None:
            return error.message.strip().splitlines()[0]
    return "see the run's events"


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()
