"""What a Bria step checks once, before its first request: the settings it cannot work without.

The client's settings (token, base URL, rate-limit store), the ledger (reachable and writable)
and the object store (a probe object written and deleted under the prefix). A wrong setting
fails the step at once, naming the setting to fix, instead of after three retries or, worse,
after Bria has been paid for a result that cannot be kept.
"""

from __future__ import annotations

import dagster as dg
import pydantic
import sqlalchemy as sa

from bria_dagster.client import BriaClient, ClientSettings, RateLimitStoreError
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import to_input_error
from bria_dagster.ledger import Ledger
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.storage import (
    ObjectStore,
    StorageAccessError,
    StorageBackendError,
    StorageInputError,
)

_ENV = {"api_token": "BRIA_API_TOKEN", "base_url": "BRIA_BASE_URL"}


def config_failure(setting: str, problem: str) -> dg.Failure:
    """A step failure the retry policy does not retry: a setting must change first."""
    return dg.Failure(
        description=f"configuration: {setting}: {problem}",
        metadata={"setting": setting},
        allow_retries=False,
    )


def _client_setting(field: str) -> str:
    env = _ENV.get(field.split(".")[0])
    return f"BriaResource.{field}" + (f" (or {env})" if env else "")


def checked_client(bria: BriaResource) -> BriaClient:
    """The step's client, its settings valid and its rate-limit store reachable."""
    try:
        client = bria.get_client()
    except pydantic.ValidationError as exc:
        error = to_input_error(exc, ClientSettings)
        raise config_failure(_client_setting(error.field), _problem(error)) from None
    except BriaInputError as exc:
        raise config_failure(_client_setting(exc.field), _problem(exc)) from None
    try:
        client.check_rate_limit_store()
    except RateLimitStoreError as exc:
        raise config_failure("BriaResource.rate_limit_backend", str(exc)) from None
    return client


def checked_ledger(resource: BriaLedgerResource) -> Ledger:
    """The ledger, reachable and writable."""
    setting = "BriaLedgerResource.url (or BRIA_LEDGER_URL)"
    try:
        ledger = resource.get_ledger()
        ledger.check_writable()
    except BriaInputError as exc:
        raise config_failure(f"BriaLedgerResource.{exc.field}", _problem(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        text = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else ""
        raise config_failure(
            setting, f"the ledger database cannot be written ({type(cause).__name__}: {text})"
        ) from None
    return ledger


def checked_store(resource: BriaStorageResource) -> ObjectStore:
    """The object store, its settings valid and a probe object written and deleted."""
    try:
        store = resource.get_store()
        store.probe()
    except StorageInputError as exc:
        raise config_failure(f"BriaStorageResource.{exc.field}", _problem(exc)) from None
    except StorageAccessError as exc:
        raise config_failure(
            "BriaStorageResource (uri, endpoint_url, access_key_id, secret_access_key)",
            f"storage refused a write: {exc}",
        ) from None
    except StorageBackendError as exc:
        # Perhaps transient (a network failure): the retry policy may try again; nothing has
        # been sent to Bria yet.
        raise dg.Failure(
            description=f"storage unreachable, nothing sent to Bria: {exc}",
            metadata={"setting": "BriaStorageResource"},
        ) from None
    return store


def _problem(error: BriaInputError | StorageInputError) -> str:
    return str(error).removeprefix(f"{error.field}: ")
