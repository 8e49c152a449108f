"""The demo's product table (``products.csv``, shipped with the package)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Product:
    """One row of the product table."""

    sku: str
    name: str
    description: str
    colour: str
    category: str

    @property
    def prompt(self) -> str:
        """The generation prompt for this product's photo."""
        return f"studio photo of a {self.colour} {self.name}, {self.description}"

    @property
    def seed(self) -> int:
        """A fixed seed per SKU, so the demo makes the same pictures every time."""
        return int("".join(c for c in self.sku if c.isdigit()) or "0")


def load_products(limit: int | None = None) -> list[Product]:
    """The rows of ``bria_dagster/demo/products.csv`` (the first ``limit`` if given)."""
    text = resources.files("bria_dagster.demo").joinpath("products.csv").read_text("utf-8")
    rows = [Product(**row) for row in csv.DictReader(io.StringIO(text))]
    return rows[:limit] if limit else rows
