"""The poll plan (PollPlan, LatencyModel): pure objects, driven here by a simulated clock.

``simulate`` drives the poll queues as the status poller does, on a simulated clock, under a
sliding-window budget enforced like the limiter's: a poll that finds the window full waits for
its oldest slot to expire.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from bria_dagster.client.poll_plan import THETA_LEVELS, LatencyModel, PollPlan, PollQueue
from bria_dagster.client.polling import JobWatch, PollSchedule


@dataclass
class Run:
    makespan: float
    polls: int
    busiest_window: int
    plan: PollPlan


def lognormal(n: int, median: float, sigma: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [median * math.exp(sigma * rng.gauss(0, 1)) for _ in range(n)]


def simulate(
    latencies: list[float],
    submits: list[float],
    *,
    limit: int,
    window_s: float = 60.0,
    prior_median_s: float = 8.0,
    wave_s: float = 0.5,
) -> Run:
    """Jobs reach the plan in waves (one queue per ``as_completed`` call, as in the benchmark)."""
    plan = PollPlan(limit=limit, window_s=window_s)
    waves: dict[int, list[int]] = {}
    for job, at in enumerate(submits):
        waves.setdefault(int(at // wave_s), []).append(job)
    pending = sorted((max(submits[j] for j in jobs), jobs) for jobs in waves.values())
    queues: list[PollQueue] = []
    sent: list[float] = []
    now = ended = 0.0
    while pending or plan.outstanding:
        moments = [pending[0][0]] if pending else []
        moments += [now + w for q in queues if (w := q.wait_s(now)) is not None]
        now = max(now, min(moments))
        if pending and pending[0][0] <= now:
            watches = [watch(job, submits[job], now, prior_median_s) for job in pending.pop(0)[1]]
            queues.append(PollQueue(plan, watches, now))
        for queue in queues:
            while (job := queue.pop(now)) is not None:
                if plan.free_slots(now) == 0:  # the limiter makes the poll wait for a slot
                    job.due = plan.sent[0] + window_s + 1e-6
                    queue.push(job)
                    break
                queue.sent(now)
                sent.append(now)
                job.polls += 1
                if latencies[job.index] <= now - job.origin:
                    queue.ended(job, now)
                    ended = max(ended, now)
                else:
                    queue.running(job, now)
                    queue.push(job)
    busiest = start = 0
    for end, moment in enumerate(sent):
        while moment - sent[start] >= window_s:
            start += 1
        busiest = max(busiest, end - start + 1)
    return Run(ended, len(sent), busiest, plan)


def watch(index: int, submitted: float, now: float, prior_median_s: float) -> JobWatch:
    return JobWatch(
        index,
        f"req-{index}",
        PollSchedule(first_delay_s=prior_median_s),
        started=now,
        deadline=now + 3600,
        due=now + 1,
        origin=submitted,
        family="generation",
        prior_median_s=prior_median_s,
    )


def test_survival_and_its_inverse_agree() -> None:
    model = LatencyModel.with_median(6.0, sigma=0.5)
    assert model.survival(6.0) == pytest.approx(0.5)
    for survival in (0.5, 0.2, 0.01, 1e-5):
        assert model.survival(model.age_at_survival(survival)) == pytest.approx(survival)


def test_next_poll_is_where_the_job_has_a_theta_chance_of_being_done() -> None:
    plan = PollPlan(limit=100, window_s=60)
    model = LatencyModel.with_median(6.0, sigma=0.5)
    age = plan.next_age(model, 0.0, 0.8)
    assert model.survival(age) == pytest.approx(0.2)
    later = plan.next_age(model, age, 0.8)
    assert model.survival(later) == pytest.approx(0.2 * 0.2)


def test_theta_rises_as_outstanding_jobs_exceed_the_budget_left() -> None:
    plan = PollPlan(limit=900, window_s=60)
    plan.outstanding = 600
    assert plan.theta(0.0) == THETA_LEVELS[0]  # 600 jobs, 900 slots: the low threshold
    plan.outstanding = 900
    assert plan.theta(0.0) == THETA_LEVELS[-1]
    for moment in range(850):
        plan.polled(moment * 0.01)
    plan.outstanding = 40
    assert plan.free_slots(10.0) == 50
    assert plan.theta(10.0) == 0.9  # 40 jobs, 50 slots (a tenth kept back): 1.1 polls each
    assert plan.free_slots(70.0) == 900  # the window slid past those polls
    assert plan.theta(70.0) == THETA_LEVELS[0]


def test_first_poll_and_gaps() -> None:
    plan = PollPlan(limit=900, window_s=60)
    model = LatencyModel.with_median(6.0, sigma=0.5)
    due, theta = plan.next_due(
        model, origin=100.0, last_running_age=0.0, first=True, longest_gap_s=15, now=101.0
    )
    low = THETA_LEVELS[0]
    assert theta == low and due == pytest.approx(100.0 + model.age_at_survival(1 - low))
    # a late first poll is due at once, not in the past
    due, _ = plan.next_due(
        model, origin=0.0, last_running_age=0.0, first=True, longest_gap_s=15, now=50.0
    )
    assert due == 50.0
    # deep in the tail with an ample budget: at most half the median apart
    due, _ = plan.next_due(
        model, origin=0.0, last_running_age=25.0, first=False, longest_gap_s=15, now=25.0
    )
    assert 25.0 + 0.6 <= due <= 25.0 + 3.0


def test_600_jobs_within_one_window_take_few_polls_and_no_cliff() -> None:
    latencies = lognormal(600, 6.0, 0.5)
    submits = [k * 0.005 for k in range(600)]  # submitted within 3 s
    run = simulate(latencies, submits, limit=900)
    assert run.polls <= 1.3 * 600
    # No job waited for the next window: the last one is seen within a few seconds.
    assert run.makespan <= 1.15 * max(s + lat for s, lat in zip(submits, latencies, strict=True))


@pytest.mark.parametrize("prior_median_s", [3.0, 12.0])
def test_the_model_learns_the_family_latency_from_the_polls(prior_median_s: float) -> None:
    latencies = lognormal(600, 6.0, 0.5, seed=2)
    submits = [k * 0.1 for k in range(600)]  # jobs keep coming: later ones use what was learned
    run = simulate(latencies, submits, limit=900, prior_median_s=prior_median_s)
    model = run.plan.models["generation"]
    assert model.median_s == pytest.approx(6.0, rel=0.15)
    assert 0.3 <= model.sigma <= 0.7
    assert run.polls <= 1.3 * 600


def test_a_budget_barely_above_the_jobs_spreads_polls_instead_of_falling_off_a_cliff() -> None:
    latencies = lognormal(600, 6.0, 0.5, seed=3)
    run = simulate(latencies, [0.0] * 600, limit=640)
    assert run.polls <= 640  # every poll inside the first window
    assert run.makespan < 60.0


def test_6000_jobs_at_the_submit_rate_stay_near_the_window_bound() -> None:
    latencies = lognormal(6000, 6.0, 0.5, seed=4)
    submits = [(k // 900) * 60.0 + (k % 900) * 0.003 for k in range(6000)]
    run = simulate(latencies, submits, limit=900)
    assert run.busiest_window <= 900
    assert run.polls <= 1.1 * 6000
    last_batch_ready = max(s + lat for s, lat in zip(submits, latencies, strict=True))
    assert run.makespan <= last_batch_ready + 10.0
