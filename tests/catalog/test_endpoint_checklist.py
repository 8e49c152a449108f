"""The add-an-endpoint checklist of CONTRIBUTING.md, checked: every catalog operation has an
example body for the model tests and is served by the emulator (a job handler or a route), and
nothing is served or exemplified that the catalog lacks."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from bria_dagster.client.catalog import CATALOG, OPERATIONS
from bria_dagster.emulator.app import create_app
from bria_dagster.emulator.handlers import ALL_OPERATIONS

from .examples import MINIMAL


def _template(path: str) -> str:
    """A path template with its id names dropped (``/models/{model_id}`` → ``/models/{}``)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


SERVED = {
    (method, _template(route.path))
    for route in create_app().routes
    if isinstance(route, Route)
    for method in route.methods or ()
}


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda key: f"{key[0]} {key[1]}")
def test_every_operation_is_served_by_the_emulator(key: tuple[str, str]) -> None:
    method, path = key
    assert (method, _template(path)) in SERVED, (
        f"{method} {path} has no emulator handler: add one under bria_dagster/emulator/handlers/"
    )


@pytest.mark.parametrize("path", sorted(CATALOG))
def test_every_body_has_an_example(path: str) -> None:
    model = CATALOG[path].request_model
    assert model in MINIMAL, f"{path}: add a minimal {model} body to tests/catalog/examples.py"


def test_nothing_is_served_or_exemplified_outside_the_catalog() -> None:
    assert {op.path for op in ALL_OPERATIONS} <= set(CATALOG)
    assert set(MINIMAL) <= {spec.request_model for spec in CATALOG.values()}
