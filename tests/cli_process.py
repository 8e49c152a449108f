"""Run one of the package's CLIs as its own process, for tests of real processes."""

from __future__ import annotations

import re
import select
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager


@contextmanager
def serving(
    command: Sequence[str], ready: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``command``, wait for its first line to match ``ready`` (a regex whose group 1 is
    the URL it serves), yield the process and that URL; stop it with SIGINT at the end."""
    proc = subprocess.Popen(
        list(command),
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started, _, _ = select.select([proc.stdout], [], [], 30)
        assert started, f"{command[0]} printed nothing in 30 s"
        found = re.search(ready, proc.stdout.readline())
        assert found
        yield proc, found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
