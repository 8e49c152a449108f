"""``dg scaffold defs bria_dagster.components.BriaAssetsComponent <path> [--family ...]``:
a ``defs.yaml`` with one step and the table its request template reads, ready for
``dg check defs``."""

from __future__ import annotations

import csv
import re
from typing import Any, Literal

import dagster as dg
from pydantic import BaseModel, Field

from bria_dagster.client.errors import BriaInputError

EXAMPLE_PROMPT = "studio photo of a red trail running shoe on a white background"


class BriaAssetsScaffoldParams(BaseModel):
    """What ``dg scaffold defs`` accepts (``--family image --operation generate ...``)."""

    family: str = Field(default="image", description="The catalog family of the first step.")
    operation: str = Field(default="generate", description="Its operation.")
    name: str | None = Field(
        default=None, description="The first step's asset name (default: the folder's name)."
    )
    mode: Literal["inline", "deferred"] = "inline"
    table: str = Field(default="items.csv", description="The table written beside defs.yaml.")


class BriaAssetsScaffolder(dg.Scaffolder[BriaAssetsScaffoldParams]):
    """Writes ``defs.yaml`` (one step of the chosen operation, partitions from the table's
    ``key`` column, resources from ``{{ env.* }}``) and an example table with a column for
    each required field of the request."""

    @classmethod
    def get_scaffold_params(cls) -> type[BriaAssetsScaffoldParams]:
        """The scaffolder's parameters."""
        return BriaAssetsScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[BriaAssetsScaffoldParams]) -> None:
        """Write the files under ``request.target_path``."""
        from bria_dagster.components.models import operation_spec

        params = request.params
        spec = operation_spec(params.family, params.operation, "scaffold")
        model = spec.request_model
        if model is None:  # only job operations are listed
            raise BriaInputError("scaffold.operation", f"{spec.name} takes no request")
        required = [name for name, info in model.model_fields.items() if info.is_required()]
        columns = required if required or "prompt" not in model.model_fields else ["prompt"]
        request.target_path.mkdir(parents=True, exist_ok=True)
        table = request.target_path / params.table
        if not table.exists():
            with table.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["key", *columns])
                writer.writerow(["item-1", *(_example(column) for column in columns)])
        step: dict[str, Any] = {
            "name": params.name or re.sub(r"\W", "_", request.target_path.name),
            "family": params.family,
            "operation": params.operation,
            "mode": params.mode,
            "request": {column: f"{{{{ row.{column} }}}}" for column in columns},
        }
        dg.scaffold_component(
            request,
            {
                "table": {"path": params.table, "key": "key"},
                "partitions": {"column": "key"},
                "steps": [step],
                "resources": {
                    "bria": {
                        "api_token_env": "BRIA_API_TOKEN",
                        "base_url": "{{ env.BRIA_BASE_URL }}",
                        "rate_limit_backend": "{{ env.BRIA_RATE_LIMIT_BACKEND }}",
                    },
                    "storage": {"uri": "{{ env.BRIA_STORAGE_URI }}"},
                    "ledger": {"url": "{{ env.BRIA_LEDGER_URL }}"},
                },
            },
        )


def _example(column: str) -> str:
    return EXAMPLE_PROMPT if column == "prompt" else f"REPLACE: the {column} of item-1"
