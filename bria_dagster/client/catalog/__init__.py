"""Every Bria operation as a registry entry and a grouped client method.

* ``CATALOG`` (path → :class:`OperationSpec`, every operation with a JSON body) and
  ``OPERATIONS`` ((method, path) → spec, every operation) in :mod:`~.registry`, with the
  latency families in :mod:`~.families`. The request and response models they name are in
  :mod:`bria_dagster.client.types`.
* :class:`CatalogMixin` gives the client ``client.image``, ``.edit``, ``.product``, ``.ads``,
  ``.tailored`` (``.projects``, ``.datasets``, ``.images``, ``.models``, ``.train_model``),
  ``.video`` and ``.attribution``. A job method waits and returns a JobResult; its ``.submit``
  returns the Submission at once. The descriptors that build them are in :mod:`~.binding`, the
  plans they run in :mod:`~.effects`, the tailored training workflow in :mod:`~.training`.
"""

from bria_dagster.client.catalog.binding import Async, Sync
from bria_dagster.client.catalog.mixin import CatalogMixin
from bria_dagster.client.catalog.registry import (
    CATALOG,
    OPERATIONS,
    OperationSpec,
    ResultKind,
    SyncMode,
    find_operation,
    spec_for,
)
from bria_dagster.client.catalog.training import TrainingFailedError

__all__ = [
    "CATALOG",
    "OPERATIONS",
    "Async",
    "CatalogMixin",
    "OperationSpec",
    "ResultKind",
    "Sync",
    "SyncMode",
    "TrainingFailedError",
    "find_operation",
    "spec_for",
]
