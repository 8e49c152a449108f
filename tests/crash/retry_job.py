"""The deferred submit step as a reconstructable job, for runs that Dagster re-executes.

``dg.execute_job`` and ``ReexecutionOptions`` need a job they can rebuild in a new process: it
is :func:`submit_job`, with the resources of the workspace file named by ``CRASH_WORKSPACE``.
"""

from __future__ import annotations

import os

import dagster as dg

from tests.crash.workspace import CrashWorkspace
from tests.dagster.deferred_graph import build_deferred

WORKSPACE_ENV = "CRASH_WORKSPACE"
JOB = "bria_submit"


def submit_job() -> dg.JobDefinition:
    """The submit step of ``product_photo`` over the SKU partitions, as job ``bria_submit``."""
    photo, _cutout, _sensor = build_deferred()
    workspace = CrashWorkspace.load(os.environ[WORKSPACE_ENV])
    job = dg.define_asset_job(JOB, selection=[photo.submit.key])
    defs = dg.Definitions(assets=[photo.submit], jobs=[job], resources=workspace.resources())
    return defs.resolve_job_def(JOB)
