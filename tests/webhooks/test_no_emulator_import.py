"""The production webhook receiver does not depend on the emulator (a test tool)."""

from __future__ import annotations

import subprocess
import sys


def test_the_webhook_receiver_and_its_cli_import_no_emulator_module() -> None:
    code = (
        "import sys, bria_dagster.webhooks.server, bria_dagster.webhooks.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('bria_dagster.emulator')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
