"""A poll plan that knows the status budget and learns each family's latency.

Pure objects (no I/O, times passed in), shared by every polling loop of one client:

* :class:`LatencyModel`: a family's job latency as a lognormal distribution. It starts from the
  family's expected latency (the median) and is refitted, by maximum likelihood, from what the
  polls saw: a finished job lies between its last IN_PROGRESS answer and its COMPLETED one, a
  running job lies beyond its last IN_PROGRESS answer (both count, or the jobs that finish
  first would make the family look fast).
* :class:`PollPlan`: when to poll each job. A job is polled once the chance that it finished
  since its last answer reaches a threshold θ: at the age ``a`` where the survival S(a) has
  fallen to ``(1 - θ) * S(last answer)``. Each poll then finds the job done with probability θ,
  so a job costs about ``1 / θ`` polls. θ is 0.85 (about 1.2 polls per job) while the budget
  left in the window covers the outstanding jobs, and rises towards 0.98 as they exceed it:
  polls are spread over the windows that follow, going first to the jobs most likely done,
  instead of being spent early and then waiting for the window (the "cliff").
* :class:`PollQueue`: the jobs of one polling loop in the order the plan says.

The plan counts its own polls against the budget (``limit`` per ``window_s``); when several
processes share a limiter store, the limiter still enforces the whole budget, and the plan's
view is only optimistic about how much is left.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from statistics import NormalDist

from bria_dagster.client.polling import JobWatch

_NORMAL = NormalDist()

THETA_LEVELS = (0.85, 0.9, 0.95, 0.98)
"""The thresholds the plan moves between: the lowest while the budget is ample."""

REPLAN_EVERY_S = 1.0
"""How often a queue looks whether the threshold fell or a model was refitted."""
_MIN_FIT = 16
"""Observations (finished or seen running) before the model leaves its prior."""
_KEEP = 128
"""Finished-job intervals kept for fitting."""
_SIGMA_BOUNDS = (0.1, 1.5)
_PRIOR_SIGMA = 0.5
_PRIOR_SIGMA_SPREAD = 0.35
_PRIOR_MU_SPREAD = 1.0
"""Weak priors on log(sigma) and on mu (around the family's expected latency): polls that all
land at about the same age say how much of the mass lies before that age, not how spread it is,
and when every poll found its job done they give only an upper bound; the priors keep the fit
sensible then, and the data outweigh them as soon as they say more."""
TAIL_SURVIVAL = 0.02
"""Below this survival a job is in the tail: few jobs, so extra polls there are cheap."""
TAIL_GAP_OF_MEDIAN = 0.5
"""In the tail, with the budget ample, polls are at most this share of the median apart."""


def _log_sf(z: float) -> float:
    """log(1 - Φ(z)), accurate in the upper tail."""
    if z < 5.0:
        return math.log(max(1e-300, 0.5 * math.erfc(z / math.sqrt(2.0))))
    # Mills ratio: 1 - Φ(z) ≈ φ(z) / z (1 - 1 / z²)
    return -0.5 * z * z - math.log(z * math.sqrt(2.0 * math.pi)) + math.log1p(-1.0 / (z * z))


@dataclass
class LatencyModel:
    """Lognormal latency of one endpoint family: ``log L ~ N(mu, sigma²)``."""

    mu: float
    sigma: float = _PRIOR_SIGMA
    prior_mu: float | None = None
    """The mu the model started from (None: ``mu`` at creation)."""
    finished: list[tuple[float, float]] = field(default_factory=list)
    """(last age seen running, age seen done) of finished jobs (0 = never seen running): a
    uniform sample of at most ``_KEEP`` (the most recent would favour the slow jobs, which
    finish last)."""
    running: dict[int, float] = field(default_factory=dict)
    """Last age seen running, per job still running (key: an id of the caller's)."""
    fits: int = 0
    """How many times the model was refitted (queues replan when it changes)."""
    _next_fit: int = _MIN_FIT
    _seen: int = 0
    _done: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)
    _weights: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def with_median(cls, median_s: float, sigma: float = _PRIOR_SIGMA) -> LatencyModel:
        """A prior centred on ``median_s``."""
        return cls(mu=math.log(max(median_s, 1e-3)), sigma=sigma)

    def __post_init__(self) -> None:
        if self.prior_mu is None:
            self.prior_mu = self.mu

    @property
    def median_s(self) -> float:
        """The median latency, seconds."""
        return math.exp(self.mu)

    def survival(self, age_s: float) -> float:
        """P(latency > age)."""
        if age_s <= 0:
            return 1.0
        return 0.5 * math.erfc((math.log(age_s) - self.mu) / (self.sigma * math.sqrt(2.0)))

    def age_at_survival(self, survival: float) -> float:
        """The age at which P(latency > age) falls to ``survival``."""
        survival = min(max(survival, 1e-12), 1.0 - 1e-12)
        return math.exp(self.mu + self.sigma * _NORMAL.inv_cdf(1.0 - survival))

    def seen_running(self, job: int, age_s: float) -> None:
        """A poll found the job still running at ``age_s``."""
        self.running[job] = age_s
        self._observed()

    def seen_done(self, job: int, age_s: float) -> None:
        """A poll found the job finished at ``age_s``."""
        interval = (self.running.pop(job, 0.0), age_s)
        self._done += 1
        if len(self.finished) < _KEEP:
            self.finished.append(interval)
        else:  # reservoir sampling
            slot = self._rng.randrange(self._done)
            if slot < _KEEP:
                self.finished[slot] = interval
        self._observed()

    def forget(self, job: int) -> None:
        """The job left the plan without a known end (failed, timed out, cancelled)."""
        self.running.pop(job, None)

    def _observed(self) -> None:
        self._seen += 1
        if self._seen >= self._next_fit and self.finished:
            self.fit()
            # Refit at 16, 32, 64, ... observations, then every 512: cheap and still current.
            self._next_fit = self._seen + min(self._seen, 4 * _KEEP)

    def fit(self) -> None:
        """Maximum-likelihood (mu, sigma) from the finished intervals and the running jobs."""
        done = self.finished
        running = list(self.running.values())[-_KEEP:]
        # Both are samples: weigh each by how many jobs it stands for, or the kept share of the
        # running (slow) jobs would outweigh the finished ones.
        self._weights = (self._done / len(done), len(self.running) / max(1, len(running)))
        if len(done) + len(running) < _MIN_FIT or not done:
            return
        mu, sigma = self.mu, self.sigma
        best = self._log_posterior(mu, sigma, done, running)
        step_mu, step_sigma = 0.5, 0.5
        for _ in range(12):
            improved = False
            for d_mu, d_sigma in ((step_mu, 0), (-step_mu, 0), (0, step_sigma), (0, -step_sigma)):
                m = mu + d_mu
                s = min(max(sigma * math.exp(d_sigma), _SIGMA_BOUNDS[0]), _SIGMA_BOUNDS[1])
                value = self._log_posterior(m, s, done, running)
                if value > best:
                    best, mu, sigma, improved = value, m, s, True
            if not improved:
                step_mu /= 2
                step_sigma /= 2
        self.mu, self.sigma = mu, sigma
        self.fits += 1

    def _log_posterior(
        self, mu: float, sigma: float, done: list[tuple[float, float]], running: list[float]
    ) -> float:
        scale = 1.0 / (sigma * math.sqrt(2.0))
        prior_mu = self.mu if self.prior_mu is None else self.prior_mu
        total = -0.5 * (math.log(sigma / _PRIOR_SIGMA) / _PRIOR_SIGMA_SPREAD) ** 2
        total -= 0.5 * ((mu - prior_mu) / _PRIOR_MU_SPREAD) ** 2
        done_weight, running_weight = self._weights
        data = 0.0
        for lo, hi in done:
            upper = 0.5 * math.erfc((math.log(hi) - mu) * scale) if hi > 0 else 1.0
            lower = 0.5 * math.erfc((math.log(lo) - mu) * scale) if lo > 0 else 1.0
            data += math.log(max(lower - upper, 1e-300))
        total += done_weight * data
        data = 0.0
        for lo in running:
            if lo > 0:
                data += _log_sf((math.log(lo) - mu) / sigma)
        return total + running_weight * data


@dataclass
class PollPlan:
    """When to poll each job so that the polls of all outstanding jobs fit the status budget.

    ``limit`` polls per ``window_s`` is this client's share of the status budget (the limiter's
    limit). Times are ``time.monotonic()`` values passed in by the caller.
    """

    limit: int
    window_s: float
    models: dict[str, LatencyModel] = field(default_factory=dict)
    outstanding: int = 0
    """Jobs being waited for, across every polling loop of the client."""
    sent: deque[float] = field(default_factory=deque)
    """When this client's recent polls left (the last window's)."""

    def model(self, family: str, prior_median_s: float) -> LatencyModel:
        """The latency model of ``family`` (created from the prior on first use)."""
        model = self.models.get(family)
        if model is None:
            model = self.models[family] = LatencyModel.with_median(prior_median_s)
        return model

    def polled(self, now: float) -> None:
        """Count one poll sent at ``now`` against the window."""
        self.sent.append(now)

    def free_slots(self, now: float) -> int:
        """Budget left in the sliding window ending at ``now`` (this client's polls only)."""
        while self.sent and self.sent[0] <= now - self.window_s:
            self.sent.popleft()
        return max(0, self.limit - len(self.sent))

    def theta(self, now: float) -> float:
        """The chance of success a poll must have now: low while the budget covers the
        outstanding jobs, higher as they exceed it."""
        # A tenth of the budget left is kept for the jobs that are unlucky more than once.
        need = self.outstanding / max(1.0, 0.9 * self.free_slots(now))
        for level in THETA_LEVELS:
            if level >= need:
                return level
        return THETA_LEVELS[-1]

    def next_age(self, model: LatencyModel, last_running_age: float, theta: float) -> float:
        """The job age at which the next poll is due: S(age) = (1 - θ) · S(last running age)."""
        return model.age_at_survival((1.0 - theta) * model.survival(last_running_age))

    def next_due(
        self,
        model: LatencyModel,
        *,
        origin: float,
        last_running_age: float,
        first: bool,
        longest_gap_s: float,
        now: float,
    ) -> tuple[float, float]:
        """When to poll a job next (submitted at ``origin``, last seen running at
        ``last_running_age``, 0 if never), and the threshold θ that was planned with.

        After the first poll, polls are never closer than a tenth of the median (a model far
        off must not spin) nor further apart than ``longest_gap_s``; in the tail, with the
        budget ample, half the median at most: few jobs are there, and the last of them sets
        the makespan.
        """
        theta = self.theta(now)
        at = origin + self.next_age(model, last_running_age, theta)
        if first:
            return max(now, at), theta
        longest = longest_gap_s
        if theta == THETA_LEVELS[0] and model.survival(last_running_age) < TAIL_SURVIVAL:
            longest = min(longest, TAIL_GAP_OF_MEDIAN * model.median_s)
        return now + min(max(at - now, 0.1 * model.median_s), longest), theta


class PollQueue:
    """The jobs of one polling loop, ordered by when their next poll is due under ``plan``.

    Pure (times passed in): the status poller sends the polls, this says which job is next.
    A job popped under a stricter threshold than the one it was planned with is planned again;
    when the threshold falls (the budget loosened) or the family's model was refitted, every
    queued job is planned again, so nothing waits on a plan made from staler facts.
    """

    def __init__(self, plan: PollPlan, watches: list[JobWatch], now: float) -> None:
        self.plan = plan
        self._by_index = {watch.index: watch for watch in watches}
        self._theta: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []
        self._queued: set[int] = set()
        self._live = set(self._by_index)
        plan.outstanding += len(watches)
        for watch in watches:
            if watch.due > now:  # a fresh submission (a bare request_id is polled at once)
                self._plan(watch, now)
            self.push(watch)
        self._planned_with = (plan.theta(now), self._fits())
        self._checked_at = now

    def _model(self, watch: JobWatch) -> LatencyModel:
        return self.plan.model(watch.family, watch.prior_median_s)

    def _fits(self) -> int:
        return sum(model.fits for model in self.plan.models.values())

    def _plan(self, watch: JobWatch, now: float) -> None:
        due, theta = self.plan.next_due(
            self._model(watch),
            origin=watch.origin,
            last_running_age=watch.last_running_age,
            first=watch.polls == 0,
            longest_gap_s=watch.schedule.max_interval_s,
            now=now,
        )
        self._theta[watch.index] = theta
        watch.due = min(watch.deadline, max(due, watch.not_before))

    def push(self, watch: JobWatch) -> None:
        """Queue a job at its ``due`` time."""
        heapq.heappush(self._heap, (watch.due, watch.index))
        self._queued.add(watch.index)

    def _replan(self, now: float) -> None:
        if now - self._checked_at < REPLAN_EVERY_S:
            return
        self._checked_at = now
        theta, fits = self.plan.theta(now), self._fits()
        looser, refitted = theta < self._planned_with[0], fits != self._planned_with[1]
        self._planned_with = (theta, fits)
        if not (looser or refitted):
            return
        for index in self._queued:
            watch = self._by_index[index]
            if watch.due > now and (looser or watch.polls == 0):
                self._plan(watch, now)
        self._heap = [(self._by_index[index].due, index) for index in self._queued]
        heapq.heapify(self._heap)

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next job is due (None when none is queued)."""
        self._replan(now)
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def pop(self, now: float) -> JobWatch | None:
        """The job to poll now, or None when none is due yet."""
        self._replan(now)
        while self._heap and self._heap[0][0] <= now:
            _, index = heapq.heappop(self._heap)
            watch = self._by_index[index]
            if self._theta.get(index, 1.0) < self.plan.theta(now):
                # Planned when the budget was looser: wait for the stricter threshold.
                self._plan(watch, now)
                if watch.due > now:
                    heapq.heappush(self._heap, (watch.due, index))
                    continue
            self._queued.discard(index)
            return watch
        return None

    def sent(self, now: float) -> None:
        """A poll took its budget slot and left at ``now``."""
        self.plan.polled(now)

    def running(self, watch: JobWatch, now: float) -> None:
        """The job was IN_PROGRESS at ``now``: learn from it and plan its next poll."""
        watch.last_running_age = now - watch.origin
        self._model(watch).seen_running(id(watch), watch.last_running_age)
        self._plan(watch, now)

    def ended(self, watch: JobWatch, done_at: float | None) -> None:
        """The job left the queue: finished at ``done_at``, or failed/timed out (None)."""
        if watch.index not in self._live:
            return
        self._live.discard(watch.index)
        self._theta.pop(watch.index, None)
        self.plan.outstanding -= 1
        if done_at is None:
            self._model(watch).forget(id(watch))
        else:
            self._model(watch).seen_done(id(watch), done_at - watch.origin)

    def close(self) -> None:
        """Stop counting the jobs still waited for (the loop was left early)."""
        for index in list(self._live):
            self.ended(self._by_index[index], None)
