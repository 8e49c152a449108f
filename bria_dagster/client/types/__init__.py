"""The request and response models of Bria's API (the catalog's types; no client code).

* Request models, one per operation (pydantic, unknown fields forbidden), in :mod:`~.generation`,
  :mod:`~.editing`, :mod:`~.fibo_edit`, :mod:`~.segment`, :mod:`~.product`, :mod:`~.ads`,
  :mod:`~.tailored`, :mod:`~.tailored_generation`, :mod:`~.video`, :mod:`~.attribution`, on
  the bases in :mod:`~.base` with the field types of :mod:`~.fields`.
  ``Model(...).to_payload()`` is the exact wire body; ``Model.parse(...)`` raises
  :class:`~bria_dagster.client.errors.BriaInputError` naming the field.
* Typed answers (projects, datasets, templates, shots ...) in :mod:`~.responses`.

The client methods that send them are in :mod:`bria_dagster.client.catalog`. Importing the
models does not import the client core: image inputs are normalised by
``bria_dagster.client.inputs.to_api_image`` only when a payload is built.
"""

from bria_dagster.client.types.base import (
    AsyncOnlyRequest,
    BriaRequest,
    JobRequest,
    RuleViolation,
    to_input_error,
)

__all__ = ["AsyncOnlyRequest", "BriaRequest", "JobRequest", "RuleViolation", "to_input_error"]
