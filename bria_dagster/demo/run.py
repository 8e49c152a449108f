"""``bria-dagster-demo``: the product-image chain over the shipped product table.

For each SKU: a product photo is generated, its background removed, and a packshot on white
made from the cut-out; every result is stored (write-once, with provenance) under the output
folder. Jobs of one step are submitted together and waited for by one polling loop.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bria_dagster.client import BriaClient, JobResult
from bria_dagster.demo.target import Target, api_target
from bria_dagster.ledger.hashing import canonical_payload_hash
from bria_dagster.storage import ObjectStore, StoredObject, object_key


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


def load_products(limit: int | None = None) -> list[Product]:
    """The product table shipped with the package (``bria_dagster/demo/products.csv``)."""
    text = resources.files("bria_dagster.demo").joinpath("products.csv").read_text("utf-8")
    rows = [Product(**row) for row in csv.DictReader(io.StringIO(text))]
    return rows[:limit] if limit else rows


def _store(
    bria: BriaClient,
    store: ObjectStore,
    step: str,
    sku: str,
    endpoint: str,
    payload: dict[str, object],
    result: JobResult,
) -> StoredObject:
    url = result.url
    if not url:
        raise RuntimeError(f"{step} {sku}: the result has no URL")
    buffer = io.BytesIO()
    bria.download(url, buffer)
    key = object_key(["demo", step], sku, canonical_payload_hash(endpoint, payload), "png")
    provenance = {
        "request_id": result.request_id,
        "endpoint": endpoint,
        "prompt": result.prompt,
        "seed": result.seed,
        "sku": sku,
    }
    return store.put(key, [buffer.getvalue()], content_type="image/png", provenance=provenance)


def _b64(store: ObjectStore, stored: StoredObject) -> str:
    return base64.b64encode(store.read_bytes(stored.key)).decode("ascii")


def run_chain(target: Target, products: Sequence[Product], store: ObjectStore) -> dict[str, list]:
    """Generate → remove background → packshot for every product; return what was stored."""
    out: dict[str, list[StoredObject]] = {"generated": [], "cutout": [], "packshot": []}
    # Against the emulator, poll sooner and keep the budget in memory; against Bria, the
    # defaults (starter plan, shared SQLite budget, polls from the expected latency).
    local = {"plan": "pro", "rate_limit_backend": "memory", "poll_first_factor": 0.1}
    settings = local if target.emulated else {}
    with BriaClient(api_token=target.api_token, base_url=target.base_url, **settings) as bria:
        steps = [
            (
                "generated",
                "/v2/image/generate",
                lambda p, _: {"prompt": p.prompt, "aspect_ratio": "1:1", "seed": int(p.sku[-4:])},
            ),
            (
                "cutout",
                "/v2/image/edit/remove_background",
                lambda p, prev: {"image": _b64(store, prev)},
            ),
        ]
        previous: list[StoredObject | None] = [None] * len(products)
        for step, endpoint, build in steps:
            payloads = [build(p, prev) for p, prev in zip(products, previous, strict=True)]
            jobs = [bria.submit(endpoint, payload) for payload in payloads]
            results = bria.wait_many(jobs)
            stored = [
                _store(bria, store, step, p.sku, endpoint, payload, result)
                for p, payload, result in zip(products, payloads, results, strict=True)
            ]
            out[step] = stored
            previous = stored
            print(f"  {step:<10} {len(stored)} images")
        for product, cutout in zip(products, previous, strict=True):
            payload = {
                "file": _b64(store, cutout),
                "background_color": "#FFFFFF",
                "sku": product.sku,
            }
            shot = bria.product.packshot(**payload)
            out["packshot"].append(
                _store(bria, store, "packshot", product.sku, "/v1/product/packshot", payload, shot)
            )
        print(f"  {'packshot':<10} {len(out['packshot'])} images")
        print(f"  API usage: {bria.usage().as_dict()}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo chain and print where the images are."""
    parser = argparse.ArgumentParser(prog="bria-dagster-demo", description=__doc__)
    parser.add_argument("--output", default="bria_demo_output", help="folder or storage URI")
    parser.add_argument("--limit", type=int, default=None, help="only the first N products")
    args = parser.parse_args(argv)
    uri = args.output if "://" in args.output else Path(args.output).resolve().as_uri()
    store = ObjectStore.from_uri(uri)
    products = load_products(args.limit)
    started = time.monotonic()
    with api_target() as target:
        print(f"Using {target.describe()}")
        print(f"Storing results in {store.uri}")
        run_chain(target, products, store)
    print(f"Done in {time.monotonic() - started:.1f} s: {len(products)} products, 3 steps each.")
    print(f"Images: {store.uri}/demo/<step>/<sku>/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
