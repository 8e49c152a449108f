"""Every Bria capability as typed requests and grouped client methods.

* Request models (one per operation, pydantic, unknown fields forbidden) in
  :mod:`~.generation`, :mod:`~.editing`, :mod:`~.fibo_edit`, :mod:`~.product`, :mod:`~.ads`,
  :mod:`~.tailored`, :mod:`~.tailored_generation`, :mod:`~.video`, :mod:`~.attribution`.
  ``Model(...).to_payload()`` is the exact wire body; ``Model.parse(...)`` raises
  :class:`~bria_dagster.client.errors.BriaInputError` naming the field.
* ``CATALOG`` (path → :class:`OperationSpec`, every operation with a JSON body) and
  ``OPERATIONS`` ((method, path) → spec, every operation) in :mod:`~.registry`.
* :class:`CatalogMixin` gives the client ``client.image``, ``.edit``, ``.product``, ``.ads``,
  ``.tailored`` (``.projects``, ``.datasets``, ``.images``, ``.models``, ``.train_model``),
  ``.video`` and ``.attribution``. A job method waits and returns a JobResult; its ``.submit``
  returns the Submission at once.

Importing the models does not import the client core: image inputs are normalised by
``bria_dagster.client.inputs.to_api_image`` only when a payload is built.
"""

from bria_dagster.client.catalog.base import (
    AsyncOnlyRequest,
    BriaRequest,
    JobRequest,
    RuleViolation,
    to_input_error,
)
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
    "AsyncOnlyRequest",
    "BriaRequest",
    "CatalogMixin",
    "JobRequest",
    "OperationSpec",
    "ResultKind",
    "RuleViolation",
    "Sync",
    "SyncMode",
    "TrainingFailedError",
    "find_operation",
    "spec_for",
    "to_input_error",
]
