"""A run killed mid-step and retried by Dagster's run retries (``dagster/max_retries``) while the
API fails now and then: one paid job per partition, plus the one an operator chose to pay again.

The first run's step process (Dagster's multiprocess executor, the default) dies right after its
first POST (Bria billed it; its request_id is lost); the run fails. The retries are driven as
the run-retry daemon drives them: each failed run is re-executed from failure
(``ReexecutionOptions.from_failure``, the daemon's default strategy) for as long as the daemon's
own ``should_retry`` says so. (The daemon itself launches runs through a code server; here a
child process re-executes the job in the same instance.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.ledger import EntryState
from tests.crash.harness import CRASH_EXIT_CODE, CrashSite
from tests.crash.test_slot_wait_crash import ONE_A_MINUTE, _settings
from tests.crash.test_submit_crash import GENERATE, _cli, _entries, _stuck
from tests.crash.workspace import INSTANCE_YAML
from tests.dagster.graph import SKUS

RUN_RETRIES_YAML = INSTANCE_YAML + "run_retries:\n  enabled: true\n"


def test_run_retries_after_a_kill_and_api_faults_pay_once_per_partition(
    site: CrashSite, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(site.workspace.dagster_home, "dagster.yaml").write_text(RUN_RETRIES_YAML)
    fast = dict(site.workspace.client_settings)
    # One submit per 5 s in the first run: the step dies after its first POST, the others wait.
    _settings(site, {**fast, **ONE_A_MINUTE, "rate_limit_window_s": 5})
    first = site.run("--job", *SKUS, crash_at="submit.after_post")
    assert first.returncode == 0, first.describe()
    assert [run["success"] for run in first.ops("run")] == [False]
    assert f"unexpectedly exited with code {CRASH_EXIT_CODE}" in first.output, "step killed"
    assert emulator.stats().submits == {GENERATE: 1}

    # The API now refuses the next submit once with a 503 (no job made).
    _settings(site, fast)
    emulator.state.configure(
        faults=[FaultRule(kind="server_error", on="submits", count=1, status_code=503)]
    )
    retried = site.run("--run-retries")
    assert retried.returncode == 0, retried.describe()
    runs = retried.ops("run")
    assert len(runs) == 3, "dagster/max_retries=3: three re-executions, all refused the lost one"
    assert not any(run["success"] for run in runs)
    assert emulator.stats().submits == {GENERATE: len(SKUS)}, "one paid job per partition"
    (stuck,) = _stuck(site)
    others = {p: e for p, e in _entries(site).items() if p != stuck.partition_key}
    assert all(e.state is EntryState.PENDING and e.request_id for e in others.values())

    # The operator decides to pay again for the lost one; the next run sends it, once.
    assert _cli(site, capsys, "mark-ambiguous", str(stuck.id), "--older-than", "0")[0] == 0
    assert _cli(site, capsys, "retry", str(stuck.id))[0] == 0
    final = site.run("--submit", *SKUS, "--batch", "--tick")
    assert final.returncode == 0, final.describe()
    assert all(line["success"] for line in final.ops("submit")), final.describe()
    stats = emulator.stats()
    assert stats.submits == {GENERATE: len(SKUS) + 1}, "plus the operator's retry"
    assert sum(stats.jobs.values()) == len(SKUS) + 1
    assert site.materializations() == {p: 1 for p in SKUS}
