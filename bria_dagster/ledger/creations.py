"""Ledger rows for the creating steps of a tailored model's training.

``client.tailored.train_model`` creates a project, a dataset and a model, then starts training.
:class:`LedgerCreationLog` (a :class:`~bria_dagster.client.types.tailored.CreationLog`) records
each step as a ``bria_requests`` row: ``submitting`` right before its POST, then the id Bria
answered as the row's request_id (``tailored-<kind>-<id>:<asset>``). A resumed run finds the ids
there instead of creating the objects again. Project, dataset and model rows end ``completed``
at once; the training row stays ``pending`` under the model asset's key, and the result sensor
follows it (polling the model) as it follows a job's request_id.

Each row's key is (asset, payload hash of the step's kind and the training's identity): the
identity covers the training images' digest, so changed images are a new dataset and model; the
project's row is keyed by the project's own identity, so it is one project for every image set.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bria_dagster.client.types.tailored import CreationKind
from bria_dagster.failpoints import crash_point
from bria_dagster.ledger.caps import SpendCaps
from bria_dagster.ledger.entry import TRAINING_ENDPOINT, EntryState, LedgerEntry, PendingRow
from bria_dagster.ledger.errors import LedgerStateError
from bria_dagster.ledger.ledger import Ledger

_TG = "/v1/tailored-gen"
ENDPOINTS: dict[CreationKind, str] = {
    "project": f"{_TG}/projects",
    "dataset": f"{_TG}/datasets",
    "model": f"{_TG}/models",
    "training": TRAINING_ENDPOINT,
}
_REQUEST_ID = re.compile(r"^tailored-(project|dataset|model|training)-(\d+)(?::|$)")
_KEPT_FIELDS = ("id", "name", "project_name", "status", "project_id", "dataset_id")


def creation_request_id(kind: CreationKind, object_id: int, asset_key: str) -> str:
    """The request_id of a creating step's row (request_ids are unique across the ledger, and
    two model assets may share one project)."""
    return f"tailored-{kind}-{object_id}:{asset_key}"[:256]


def created_id(entry: LedgerEntry) -> int | None:
    """The id of the object a creating step's row recorded, or None (none recorded yet)."""
    found = _REQUEST_ID.match(entry.request_id or "")
    return int(found.group(2)) if found else None


def is_training(entry: LedgerEntry) -> bool:
    """Whether ``entry`` is a tailored model's training (followed by polling the model)."""
    return entry.endpoint == TRAINING_ENDPOINT


@dataclass
class LedgerCreationLog:
    """The ledger rows of one training: project, dataset and model under ``steps_asset`` (the
    asset whose run trains), the training under ``model_asset`` (the one the sensor reports)."""

    ledger: Ledger
    steps_asset: str
    model_asset: str
    identity: str
    """What is trained (images digest, names, settings): a hex digest, part of each row's key."""
    project_identity: str
    """What the project is (its name and IP): the key of the project's row."""
    run_id: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    """Added to each row's request summary (image count, images digest)."""
    first_poll_s: float = 5.0
    """When the sensor first polls a training it started."""
    caps: SpendCaps | None = None
    """Spend caps each creating POST is counted against (it may be billed)."""

    def _where(self, kind: CreationKind) -> tuple[str, str]:
        asset = self.model_asset if kind == "training" else self.steps_asset
        identity = self.project_identity if kind == "project" else self.identity
        return asset, hashlib.sha256(f"{kind}:{identity}".encode()).hexdigest()

    def entry(self, kind: CreationKind) -> LedgerEntry | None:
        """The row of ``kind``, or None."""
        asset, payload_hash = self._where(kind)
        return self.ledger.find(asset, None, payload_hash)

    def known(self, kind: CreationKind) -> int | None:
        """The id recorded for ``kind`` by this or an earlier run."""
        found = self.entry(kind)
        return None if found is None else created_id(found)

    def before(self, kind: CreationKind, payload: Mapping[str, Any]) -> None:
        """A ``submitting`` row right before the POST. A row an earlier run left
        ``submitting`` is sent again only because the caller looked and found nothing made (the
        earlier POST made nothing); a row holding an id whose object is gone is an error."""
        asset, payload_hash = self._where(kind)
        summary = {"kind": kind, **self.summary, **dict(payload)}
        args = (asset, None, ENDPOINTS[kind], payload_hash, summary, self.run_id)
        entry = self.ledger.begin_submit(*args, caps=self.caps)
        if entry.submit_now:
            return
        if entry.state is EntryState.SUBMITTING and entry.request_id is None:
            self.ledger.release_unsent(entry.id)
            entry = self.ledger.begin_submit(*args, caps=self.caps)
            if entry.submit_now:
                return
        raise LedgerStateError(
            entry.id,
            entry.state,
            f"create the tailored {kind} again",
            f"it recorded {entry.request_id or 'no id'}, which Bria no longer lists; "
            f"`bria-ledger abandon {entry.id}` to let a new one be created",
        )

    def after(self, kind: CreationKind, object_id: int, body: Mapping[str, Any]) -> None:
        """Record the id of what ``kind`` made (or was found made). A project, dataset or
        model row ends ``completed``; a training row is left ``pending`` for the sensor."""
        asset, payload_hash = self._where(kind)
        request_id = creation_request_id(kind, object_id, asset)
        now = time.time()
        entry = self.entry(kind)
        if entry is None and self.ledger.by_request_id(request_id) is not None:
            return  # recorded under another key (the same object, found by name)
        if entry is None:  # made before the ledger knew of it (by hand, or an older version)
            summary = {"kind": kind, **self.summary, "adopted": True}
            row = PendingRow(
                asset_key=asset,
                partition_key=None,
                endpoint=ENDPOINTS[kind],
                payload_hash=payload_hash,
                request_id=request_id,
                submitted_at=now,
                next_poll_at=now,
                request_summary=summary,
                run_id=self.run_id,
            )
            self.ledger.bulk_insert_pending([row])
            entry = self.entry(kind)
        elif entry.state is EntryState.SUBMITTING:
            crash_point(f"tailored.{kind}_posted")
            entry = self.ledger.mark_submitted(entry.id, request_id, None, now + self.first_poll_s)
        if entry is not None and kind != "training" and entry.state is EntryState.PENDING:
            kept = {name: body[name] for name in _KEPT_FIELDS if name in body}
            self.ledger.mark_completed(entry.id, kept)
