"""``BriaResource``: Bria's API client, configured in Dagster, with per-step usage."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from bria_dagster.client import BriaClient, ClientSettings, UsageSnapshot
from bria_dagster.client.settings import Plan
from bria_dagster.ledger.caps import DEFAULT_SCOPE, SpendCaps

_NOT_CLIENT_FIELDS = frozenset(
    {
        "webhook_url",
        "max_requests_per_run",
        "max_requests_per_day",
        "max_requests_per_asset_per_day",
        "spend_scope",
    }
)


def _setting(name: str, description: str) -> Any:
    """A field whose default is :class:`ClientSettings`' own default for ``name``."""
    return Field(default=ClientSettings.model_fields[name].default, description=description)


class BriaResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # the resource is its own value
    """Hands out Bria clients that share one rate budget and one set of usage counters.

    Configure the token as ``BriaResource(api_token=dg.EnvVar("BRIA_API_TOKEN"))``: Dagster then
    shows and stores only the variable's name. Left unset, the token is read from
    ``BRIA_API_TOKEN`` when a step runs; it never appears in run config, logs or metadata.
    ``base_url`` (default: ``BRIA_BASE_URL`` or Bria's engine) points at the local emulator in
    development. The other fields are :class:`~bria_dagster.client.ClientSettings` fields.
    """

    api_token: str | None = Field(
        default=None,
        description="Bria API token; pass dg.EnvVar('BRIA_API_TOKEN'). Unset: read from "
        "BRIA_API_TOKEN at execution.",
    )
    base_url: str | None = Field(
        default=None,
        description="Engine URL; unset: BRIA_BASE_URL or https://engine.prod.bria-api.com",
    )
    plan: Plan = _setting("plan", "Sets the requests-per-minute budget.")
    requests_per_minute: int | None = _setting(
        "requests_per_minute", "Explicit per-endpoint budget (overrides the plan's)."
    )
    rate_limit_fraction: float = _setting("rate_limit_fraction", "Share of the budget used.")
    rate_limit_window_s: float = _setting(
        "rate_limit_window_s", "The window of the per-minute limit (Bria: 60 s)."
    )
    rate_limit_backend: str | None = Field(
        default=None,
        description="Where budgets are counted: memory, sqlite:///path, redis://..., "
        "postgresql://...; unset: $BRIA_RATE_LIMIT_BACKEND, else a SQLite file shared by this "
        "machine's processes.",
    )
    read_timeout_s: float = _setting("read_timeout_s", "HTTP read timeout.")
    poll_first_factor: float = _setting(
        "poll_first_factor", "First poll after this fraction of the expected latency."
    )
    poll_interval_s: float = _setting("poll_interval_s", "Base interval between polls.")
    poll_max_interval_s: float = _setting("poll_max_interval_s", "Longest interval.")
    wait_timeout_s: float = _setting("wait_timeout_s", "Longest wait for one job.")
    max_concurrent_polls: int = _setting("max_concurrent_polls", "Status calls in flight at once.")
    max_attempts: int = _setting("max_attempts", "Attempts per retryable HTTP call.")
    retry_base_delay_s: float = _setting("retry_base_delay_s", "Backoff base.")
    retry_max_delay_s: float = _setting("retry_max_delay_s", "Backoff cap.")

    webhook_url: str | None = Field(
        default=None,
        description="Where Bria posts finished jobs (the bria-webhooks receiver); deferred "
        "steps then need no status polls.",
    )

    # Spend caps (bria_dagster.ledger.caps): billed requests counted in the ledger, refused
    # before the POST. Unset: no cap.
    max_requests_per_run: int | None = Field(
        default=None, ge=0, description="Billed requests one run may send."
    )
    max_requests_per_day: int | None = Field(
        default=None, ge=0, description="Billed requests per rolling 24 h in spend_scope."
    )
    max_requests_per_asset_per_day: int | None = Field(
        default=None, ge=0, description="Billed requests per asset per rolling 24 h."
    )
    spend_scope: str | None = Field(
        default=None,
        description="Who shares the daily caps (every process using this ledger and scope); "
        "unset: the run's code location name, else 'default'.",
    )

    _client: BriaClient | None = PrivateAttr(default=None)

    def client_settings(self) -> ClientSettings:
        """The :class:`ClientSettings` these fields make (the token stays a secret)."""
        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in type(self).model_fields
            if getattr(self, name) is not None and name not in _NOT_CLIENT_FIELDS
        }
        return ClientSettings(**values)

    def get_client(self) -> BriaClient:
        """The step's :class:`BriaClient` (made on first use, closed when the step ends).

        For asyncio code use ``get_client().async_view()``: it shares budgets and counters.
        """
        if self._client is None:
            self._client = BriaClient(self.client_settings())
        return self._client

    def spend_caps(self, default_scope: str = DEFAULT_SCOPE) -> SpendCaps:
        """The spend caps these fields set; the scope defaults to ``default_scope``."""
        return SpendCaps(
            scope=self.spend_scope or default_scope,
            per_run=self.max_requests_per_run,
            per_day=self.max_requests_per_day,
            per_asset_per_day=self.max_requests_per_asset_per_day,
            setting_prefix="BriaResource.",
        )

    def usage(self) -> UsageSnapshot:
        """What this resource's clients have spent so far in this step."""
        return self.get_client().usage()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None
