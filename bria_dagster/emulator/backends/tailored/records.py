"""The records the tailored-generation workflow keeps, and the views Bria answers of them.

Records are the JSON objects Bria answers; keys starting with ``_`` are the emulator's own and
never shown.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bria_dagster.emulator.errors import ApiError

Json = dict[str, Any]
Key = int | str
"""A record id as a path (``str``) or a body (``int``) gives it."""
StoreFile = Callable[[bytes, str, str], str]
"""Stores ``(data, content_type, extension)`` as a v1 result file and returns its URL."""


def caption_of(name: str) -> str:
    """The automatic caption of an image named ``name``."""
    return json.dumps({"short_description": f"an image named {name}"})


@dataclass
class Records:
    """Everything the tailored workflow holds for the emulator's lifetime."""

    clock: Callable[[], float]
    training_seconds: Callable[[], float]
    store_file: StoreFile
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    projects: dict[int, Json] = field(default_factory=dict)
    datasets: dict[int, Json] = field(default_factory=dict)
    images: dict[int, dict[int, Json]] = field(default_factory=dict)
    models: dict[int, Json] = field(default_factory=dict)

    def get(self, table: dict[int, Json], key: Key, what: str) -> Json:
        """The record ``key`` of ``table``; ApiError 404 naming ``what`` when there is none."""
        try:
            return table[int(key)]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found", f"{what} {key} not found") from None

    def now(self) -> str:
        """The clock's time as Bria's timestamps show it."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))

    def model_view(self, model: Json) -> Json:
        """A model with its training status brought up to date (training ends by time)."""
        started = model.get("_started")
        done = started is not None and self.clock() - started >= self.training_seconds()
        if model["status"] == "InProgress" and done:
            model["status"] = "Failed" if model.get("_fails") else "Completed"
            model["updated_at"] = self.now()
        return {k: v for k, v in model.items() if not k.startswith("_")}

    def dataset_view(self, dataset: Json, *, with_images: bool = False) -> Json:
        """A dataset as Bria shows it: its image count, and its images if asked."""
        view = {k: v for k, v in dataset.items() if not k.startswith("_")}
        images = list(self.images.get(dataset["id"], {}).values())
        view["images_count"] = len(images)
        if with_images:
            view["images"] = images
        return view

    def training(self, dataset_id: int) -> bool:
        """Whether a model is training on the dataset."""
        return any(
            m["dataset_id"] == dataset_id and self.model_view(m)["status"] == "InProgress"
            for m in self.models.values()
        )
