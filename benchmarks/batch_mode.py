"""What a batch-throughput mode takes (``BenchSettings``) and returns (``ModeResult``).

Apart from ``batch_throughput.py`` so that the modes defined elsewhere (``dagster_modes.py``)
import it without importing the harness that runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchSettings:
    """Everything a mode needs: the batch, the plan, and where the emulator and store are.

    The harness fills ``base_url``, ``token`` (fresh per mode), ``store_uri`` (an empty
    ``file://`` folder per mode) and ``scratch`` (a private temp folder) before each mode runs.
    """

    jobs: int = 600
    width: int = 32
    """Jobs in flight at once: the SDK's thread pool; our fan-out's submits and downloads."""
    plan_rpm: int = 1000
    window_s: float = 60.0
    latency: str = "lognormal:6,0.5"
    seed: int = 1
    naive_jobs: int = 6
    rate_limit_fraction: float = 0.9
    rate_limit_backend: str = "memory"
    """``memory`` or ``sqlite`` (a file in ``scratch``) for our client's limiter."""
    poll_first_factor: float = 1.0
    """Our client's ``poll_first_factor`` (its default; ``--smoke`` polls sooner)."""
    output_megapixels: float = 0.25
    """Size of the emulator's images: its own image work shares the two cores with the client."""
    dagster_instance: str = "sqlite"
    """The Dagster modes' instance: ``sqlite`` files, or ``postgres`` (a fresh database)."""
    base_url: str = ""
    token: str = ""
    store_uri: str = ""
    scratch: str = ""

    def payload(self, index: int) -> dict[str, Any]:
        """The request body of job ``index`` (unique, so each job has its own object key)."""
        return {"prompt": f"studio photo of product {index}, white background", "seed": index}

    def client_backend(self) -> str:
        """Our client's ``rate_limit_backend`` value."""
        if self.rate_limit_backend == "sqlite":
            return f"sqlite:///{Path(self.scratch, 'ratelimit.sqlite').resolve()}"
        return self.rate_limit_backend

    def client_kwargs(self) -> dict[str, Any]:
        """The settings every mode's own client (or ``BriaResource``) is built with."""
        return {
            "api_token": self.token,
            "base_url": self.base_url,
            "requests_per_minute": self.plan_rpm,
            "rate_limit_window_s": self.window_s,
            "rate_limit_fraction": self.rate_limit_fraction,
            "rate_limit_backend": self.client_backend(),
            "poll_first_factor": self.poll_first_factor,
        }


@dataclass
class ModeResult:
    """What one mode did. The harness adds the emulator's counters."""

    jobs: int
    """Jobs this run attempted (``naive_jobs`` for the naive loop)."""
    stored: int
    """Objects created in the store."""
    failed: int
    makespan_s: float
    errors: list[str] = field(default_factory=list)
    """The first few failures, as ``Type: message``."""
    client_usage: dict[str, Any] | None = None
    phases: dict[str, float] = field(default_factory=dict)
    """Optional timings from the start, e.g. ``last_submit_s``, for reading the makespan."""


Mode = Callable[[BenchSettings], ModeResult]
