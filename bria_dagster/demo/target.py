"""Where the demo sends its requests: Bria when configured, else an embedded emulator.

With neither ``BRIA_API_TOKEN`` nor ``BRIA_BASE_URL`` set, a local emulator is started on a free
127.0.0.1 port and used with a throwaway token: no credit is spent and nothing leaves the
machine. Setting the token (and optionally the base URL) targets Bria with no code change.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bria_dagster.client.settings import DEFAULT_BASE_URL

LOCAL_TOKEN = "local-emulator-token"


@dataclass(frozen=True)
class Target:
    """The API the demo talks to."""

    base_url: str
    api_token: str
    emulated: bool

    def describe(self) -> str:
        """One line for the console: which API, and whether credits are spent."""
        if self.emulated:
            return f"the local Bria emulator at {self.base_url} (no token, no credits spent)"
        return f"Bria at {self.base_url} (token from BRIA_API_TOKEN; credits are spent)"


@contextmanager
def api_target(*, output_megapixels: float = 0.25) -> Iterator[Target]:
    """Yield the configured Bria target, starting an emulator for the embedded default."""
    token = os.environ.get("BRIA_API_TOKEN")
    base_url = os.environ.get("BRIA_BASE_URL")
    if token:
        yield Target(base_url or DEFAULT_BASE_URL, token, emulated=False)
        return
    if base_url:
        # An emulator (or another Bria-compatible server) the user started: any token works.
        yield Target(base_url, LOCAL_TOKEN, emulated=True)
        return
    from bria_dagster.emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(
        output_megapixels=output_megapixels,
        latency={"*": "uniform:0.5,1.5"},
        training_seconds=5,
    )
    with EmulatorServer(config) as server:
        yield Target(server.base_url, LOCAL_TOKEN, emulated=True)
