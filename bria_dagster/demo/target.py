"""Where the demo sends its requests: Bria when configured, else a local emulator.

With neither ``BRIA_API_TOKEN`` nor ``BRIA_BASE_URL`` set, the demo's processes share one local
emulator on 127.0.0.1 and use a throwaway token: no credit is spent and nothing leaves the
machine. Setting the token (and optionally the base URL) targets Bria with no code change.
"""

from __future__ import annotations

import os

from bria_dagster.client.settings import DEFAULT_BASE_URL

LOCAL_TOKEN = "local-emulator-token"


DEMO_EMULATOR_PORT_ENV = "BRIA_DEMO_EMULATOR_PORT"
DEFAULT_DEMO_EMULATOR_PORT = 8765
_EMBEDDED: list[object] = []


def shared_emulator_url() -> str:
    """The URL of a local emulator every process of the demo shares, started here if none runs.

    Dagster runs steps and sensors in several processes (the code server, one per run); they all
    load the definitions, and the first one finds no emulator on ``127.0.0.1:<port>`` and starts
    one in a daemon thread. The others find it answering and use it.
    """
    import httpx

    port = int(os.environ.get(DEMO_EMULATOR_PORT_ENV, DEFAULT_DEMO_EMULATOR_PORT))
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.get(f"{url}/_emulator/stats", timeout=1.0).raise_for_status()
        return url
    except httpx.HTTPError:
        pass
    from bria_dagster.emulator import EmulatorConfig, EmulatorServer
    from bria_dagster.emulator.latency import Distribution

    config = EmulatorConfig(
        port=port,
        output_megapixels=0.25,
        latency={"*": Distribution.parse("uniform:0.5,1.5")},
        training_seconds=5,
    )
    try:
        server = EmulatorServer(config).start()
    except OSError:  # another process won the race for the port
        return url
    _EMBEDDED.append(server)
    return server.base_url


DEMO_DAILY_CAP = 1000
"""The demo's spend cap: billed requests per rolling 24 h (a full demo run sends a few dozen),
a guard against a loop or a mistaken backfill, not a budget."""

DEMO_SPEND_SCOPE = "bria-demo"


def demo_resources() -> dict[str, object]:
    """The resources of ``definitions.py``: Bria when ``BRIA_API_TOKEN`` is set, else a local
    emulator; storage at ``BRIA_STORAGE_URI`` or ``$DAGSTER_HOME/bria_images``; the ledger
    beside the Dagster instance."""
    import dagster as dg

    from bria_dagster.assets import BriaImageIOManager
    from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource

    if os.environ.get("BRIA_API_TOKEN"):
        bria = BriaResource(
            api_token=dg.EnvVar("BRIA_API_TOKEN"),
            max_requests_per_day=DEMO_DAILY_CAP,
            spend_scope=DEMO_SPEND_SCOPE,
        )
    else:
        base_url = os.environ.get("BRIA_BASE_URL") or shared_emulator_url()
        bria = BriaResource(
            api_token=LOCAL_TOKEN,
            base_url=base_url,
            requests_per_minute=1000,
            poll_first_factor=0.1,
            poll_interval_s=0.5,
            max_requests_per_day=DEMO_DAILY_CAP,
            spend_scope=DEMO_SPEND_SCOPE,
        )
    storage = BriaStorageResource()
    return {
        "bria": bria,
        "bria_storage": storage,
        "bria_ledger": BriaLedgerResource(),
        "bria_io_manager": BriaImageIOManager(storage=storage),
    }


def describe_target() -> str:
    """One line: which API the demo's definitions use."""
    if os.environ.get("BRIA_API_TOKEN"):
        base = os.environ.get("BRIA_BASE_URL") or DEFAULT_BASE_URL
        return f"Bria at {base} (token from BRIA_API_TOKEN; credits are spent)"
    base = os.environ.get("BRIA_BASE_URL") or shared_emulator_url()
    return f"the local Bria emulator at {base} (no token, no credits spent)"
