"""One :class:`JobOperation` per job endpoint of the client's catalog.

Validation is the catalog's own request model (one set of rules for the client and the
emulator); a violation answers 400 in Bria's envelope naming the field. The work comes from one
handler map per family (:mod:`.generation`, :mod:`.image_edit`, :mod:`.product`, :mod:`.ads`,
:mod:`.video`, :mod:`.attribution`): real image operations from :mod:`.draw`, with results
carrying the fields Bria returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bria_dagster.client.catalog import CATALOG, OperationSpec
from bria_dagster.emulator.contract import WARNING_KEY, JobOperation, check_request
from bria_dagster.emulator.handlers import (
    ads,
    attribution,
    generation,
    image_edit,
    product,
    segment,
    video,
)
from bria_dagster.emulator.handlers.common import Body, V1Body, Work

IP_TRIGGERS = ("mickey mouse", "pikachu", "darth vader")
"""Prompt words that make an ``ip_signal`` request come back with a warning."""

MODERATED_INPUT_FAMILIES = frozenset({"generation", "structured_prompt", "fibo_edit"})
"""Families whose ``visual_input_content_moderation`` defaults to true (bria-api.md §1.4);
elsewhere it is off unless the body turns it on."""
MODERATED_INPUT_PATHS = frozenset({"/v2/image/edit/product/integrate"})
FAMILY_WORK: tuple[Mapping[str, Work], ...] = (
    generation.WORK,
    image_edit.WORK,
    product.WORK,
    ads.WORK,
    video.WORK,
    attribution.WORK,
    segment.WORK,
)
V1_BODIES: dict[str, V1Body] = {**product.V1_BODIES, **ads.V1_BODIES}
"""How each v1 endpoint that answers at once shapes its answer."""


def _work_table() -> dict[str, Work]:
    """Every family's work by path: each path a POST of the catalog, in one family only."""
    table: dict[str, Work] = {}
    for family in FAMILY_WORK:
        for path, work in family.items():
            if path in table:
                raise ValueError(f"{path}: has work in two handler maps")
            if path not in CATALOG or CATALOG[path].method != "POST":
                raise ValueError(f"{path}: not a POST endpoint of the client's catalog")
            table[path] = work
    return table


def _validator(spec: OperationSpec) -> Callable[[Body], Body]:
    model = spec.request_model
    assert model is not None

    def validate(body: Body) -> Body:
        check_request(model, body)
        checked = dict(body)
        if spec.family in MODERATED_INPUT_FAMILIES or spec.path in MODERATED_INPUT_PATHS:
            checked.setdefault("visual_input_content_moderation", True)
        text = f"{body.get('prompt') or ''} {body.get('instruction') or ''}".lower()
        if body.get("ip_signal") and any(word in text for word in IP_TRIGGERS):
            checked[WARNING_KEY] = "The prompt may refer to protected intellectual property"
        return checked

    return validate


def _image_fields(spec: OperationSpec) -> tuple[str, ...]:
    """The request model's image inputs, and a v1 ``image_url`` (typed as a plain URL)."""
    model = spec.request_model
    assert model is not None
    fields = model.image_fields()
    return (*fields, "image_url") if "image_url" in model.model_fields else fields


def _fibo_sync_result(result: Body) -> Body:
    """FIBO ``/v2/image/edit`` answers ``structured_instruction`` when sync (bria-api.md §5.6)."""
    renamed = {k: v for k, v in result.items() if k != "structured_prompt"}
    if "structured_prompt" in result:
        renamed["structured_instruction"] = result["structured_prompt"]
    return renamed


def job_operations() -> list[JobOperation]:
    """A JobOperation for every catalog endpoint a family's handler map serves, in catalog
    order."""
    work = _work_table()
    return [
        JobOperation(
            path=spec.path,
            family=spec.family,
            sync=spec.sync,
            validate=_validator(spec),
            execute=work[spec.path],
            v1_body=V1_BODIES.get(spec.path),
            image_fields=_image_fields(spec),
            sync_result=_fibo_sync_result if spec.path == image_edit.FIBO_EDIT else None,
        )
        for spec in CATALOG.values()
        if spec.method == "POST" and spec.path in work
    ]
