"""Named crash points for fault tests.

With ``BRIA_DAGSTER_CRASH_AT=<name>`` in its environment, a process dies at that point with
``os._exit`` (no cleanup, no finally blocks: what a SIGKILL or a lost machine does). The crash
tests use them to stop a step or a sensor between two writes and check what a restart does.
Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os

CRASH_ENV = "BRIA_DAGSTER_CRASH_AT"
CRASH_EXIT_CODE = 86

POINTS = (
    "submit.reserved",
    "submit.before_post",
    "submit.after_post",
    "store.downloaded",
    "store.after_put",
    "sensor.before_report",
)
"""Where a process can be made to die: with the ledger row reserved (waiting for its rate-limit
slot); after the row says ``submitting`` and before the POST; after the POST
and before its request_id is written; after a result is downloaded and before it is stored;
after it is stored and before the ledger says so; after a tick stored and before it reported."""


def crash_point(name: str) -> None:
    """Die here if ``BRIA_DAGSTER_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT_CODE)
