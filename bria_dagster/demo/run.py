"""``bria-dagster-demo``: the demo pipeline of ``definitions.py``, end to end, in one command.

It keeps Dagster's state in a local instance folder, submits every SKU's product photo (the
deferred step), evaluates the result sensor as the daemon would until every photo has landed,
then runs the rest of the chain for all SKUs in one run and the video branch in another, and
prints where the images are and how to open the UI on the same instance.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def load_module(path: Path) -> ModuleType:
    """Import ``definitions.py`` from its path."""
    spec = importlib.util.spec_from_file_location("bria_demo_definitions", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def prepare_home(home: Path) -> None:
    """Make ``home`` the Dagster instance folder (telemetry off) for this process."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    nux = home / ".nux" / "nux.yaml"  # the UI's first-visit dialog, already seen
    nux.parent.mkdir(exist_ok=True)
    nux.write_text("seen: 1\n")
    os.environ["DAGSTER_HOME"] = str(home)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the whole demo pipeline and print where its results are."""
    parser = argparse.ArgumentParser(prog="bria-dagster-demo", description=__doc__)
    parser.add_argument("--definitions", default="definitions.py", help="the pipeline file")
    parser.add_argument("--home", default=".dagster_home", help="the Dagster instance folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N SKUs")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for Bria")
    args = parser.parse_args(argv)
    definitions = Path(args.definitions).resolve()
    if not definitions.exists():
        parser.error(f"--definitions: {definitions} not found (run from the repository root)")
    home = Path(args.home).resolve()
    prepare_home(home)

    from bria_dagster.demo.pipeline_run import run_demo

    started = time.monotonic()
    module = load_module(definitions)
    summary = run_demo(module, limit=args.limit, timeout_s=args.timeout)
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    print(f"Images:          {summary.storage_uri}")
    print(f"Spend:           {summary.spend}")
    print(f"Dagster state:   {home}")
    print(
        "Open the UI:     "
        f"DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml  (then http://127.0.0.1:3000)"
    )
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
