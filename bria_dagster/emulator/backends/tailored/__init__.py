"""The v1 tailored-generation workflow as a state machine (no HTTP here).

Projects → datasets (``draft`` → ``completed``, captions) → images → models (``Created`` →
``InProgress`` → ``Completed`` (``Failed`` under a ``training_failed`` fault) after
``training_seconds``; ``stop_training`` → ``Stopped``), with Bria's 404/409/412 rules
(bria-api.md §5.3) raised as ApiError. The HTTP side is
:mod:`bria_dagster.emulator.handlers.tailored`.
"""

from bria_dagster.emulator.backends.tailored.workflow import Tailored, trained_model

__all__ = ["Tailored", "trained_model"]
