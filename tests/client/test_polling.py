"""PollSchedule and JobWatch: pure objects, tested without I/O."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bria_dagster.client import (
    BriaInputError,
    ClientSettings,
    JobFailedError,
    JobStatus,
    PollSchedule,
    RateLimitError,
    ServerError,
    Submission,
    WaitTimeoutError,
)
from bria_dagster.client.polling import JobWatch


def test_first_poll_comes_at_the_family_latency_times_the_factor() -> None:
    settings = ClientSettings.model_validate(
        {"api_token": "t", "poll_first_factor": 0.5, "poll_jitter": 0}
    )
    assert PollSchedule.for_endpoint("image/generate", settings).next_delay(0) == 4.0
    assert PollSchedule.for_endpoint("/v2/video/edit/erase", settings).next_delay(0) == 30.0
    assert PollSchedule.for_endpoint(None, settings).next_delay(0) == 2.5  # "other"


def test_later_gaps_grow_by_the_factor_up_to_the_cap() -> None:
    schedule = PollSchedule(first_delay_s=8, interval_s=2, growth=1.5, max_interval_s=15, jitter=0)
    delays = [schedule.next_delay(n) for n in range(8)]
    assert delays == [8, 2, 3, 4.5, 6.75, 10.125, 15, 15]
    assert schedule.next_delay(10_000) == 15  # no overflow on very long waits


def test_jitter_only_shortens_and_spreads() -> None:
    schedule = PollSchedule(
        first_delay_s=10,
        interval_s=2,
        growth=1.5,
        max_interval_s=15,
        jitter=0.2,
        rng=random.Random(7),
    )
    delays = [schedule.next_delay(20) for _ in range(500)]
    assert all(12 <= d <= 15 for d in delays)
    assert len({round(d, 6) for d in delays}) > 400
    again = PollSchedule(
        first_delay_s=10,
        interval_s=2,
        growth=1.5,
        max_interval_s=15,
        jitter=0.2,
        rng=random.Random(7),
    )
    assert [again.next_delay(20) for _ in range(500)] == delays  # seeded: reproducible


SETTINGS = ClientSettings.model_validate(
    {
        "api_token": "t",
        "poll_first_factor": 1,
        "poll_interval_s": 2,
        "poll_jitter": 0,
        "wait_timeout_s": 60,
    }
)


def running(request_id: str = "r-1") -> JobStatus:
    return JobStatus.model_validate({"request_id": request_id, "status": "IN_PROGRESS"})


def test_a_fresh_submission_is_first_polled_after_its_latency_since_submit() -> None:
    job = Submission(request_id="r-1", endpoint="/v2/image/generate", submitted_at=1000.0)
    watch = JobWatch.start(
        job, index=0, endpoint=None, settings=SETTINGS, timeout=None, now=50.0, wall_now=1003.0
    )
    assert watch.due == pytest.approx(55.0)  # submitted 3 s ago, generation expects 8 s
    assert watch.deadline == 110.0


def test_a_bare_request_id_is_polled_at_once() -> None:
    watch = JobWatch.start(
        "r-1",
        index=3,
        endpoint="image/generate",
        settings=SETTINGS,
        timeout=5,
        now=50.0,
        wall_now=0.0,
    )
    assert (watch.due, watch.deadline, watch.index) == (50.0, 55.0, 3)


def test_watch_follows_answers_to_the_end() -> None:
    watch = JobWatch.start(
        "r-1", index=0, endpoint=None, settings=SETTINGS, timeout=None, now=0.0, wall_now=0.0
    )
    assert watch.observe(running(), now=1.0) is None
    assert watch.due == 3.0  # first gap: poll_interval_s
    assert watch.observe(running(), now=3.0) is None
    assert watch.due == 6.0  # then x1.5
    done = JobStatus.model_validate(
        {"request_id": "r-1", "status": "COMPLETED", "result": {"image_url": "u", "seed": "9"}}
    )
    result = watch.observe(done, now=6.0)
    assert result is not None and result.seed == 9 and result.url == "u"


@pytest.mark.parametrize("state", ["ERROR", "UNKNOWN"])
def test_error_and_unknown_fail_the_job_with_brias_error(state: str) -> None:
    watch = JobWatch.start(
        "r-1", index=0, endpoint=None, settings=SETTINGS, timeout=None, now=0.0, wall_now=0.0
    )
    failed = JobStatus.model_validate(
        {"request_id": "r-1", "status": state, "error": {"code": 500, "message": "boom"}}
    )
    with pytest.raises(JobFailedError) as caught:
        watch.observe(failed, now=1.0)
    assert (caught.value.request_id, caught.value.status, caught.value.code) == ("r-1", state, 500)
    assert "boom" in str(caught.value)


def test_hiccups_reschedule_and_honour_retry_after() -> None:
    watch = JobWatch.start(
        "r-1", index=0, endpoint=None, settings=SETTINGS, timeout=None, now=0.0, wall_now=0.0
    )
    watch.hiccup(ServerError("503"), now=1.0)
    assert watch.due == 3.0
    watch.hiccup(RateLimitError("slow", retry_after=20.0), now=3.0)
    assert watch.due == 23.0


def test_the_last_poll_happens_at_the_deadline_then_the_wait_times_out() -> None:
    watch = JobWatch.start(
        "r-1", index=0, endpoint=None, settings=SETTINGS, timeout=4, now=0.0, wall_now=0.0
    )
    watch.observe(running(), now=0.0)
    watch.observe(running(), now=2.0)
    assert watch.due == 4.0  # 2 + 3 clamped to the deadline
    watch.observe(running(), now=4.0)
    assert watch.expired(4.0)
    error = watch.timeout_error(4.0)
    assert isinstance(error, WaitTimeoutError) and error.request_id == "r-1"
    assert error.waited_seconds == 4.0


def test_request_ids_must_be_safe_path_segments() -> None:
    bad: Any
    for bad in ("", "a/b", "../x", "x y", 42):
        with pytest.raises(BriaInputError, match="request_id"):
            JobWatch.start(
                bad,
                index=0,
                endpoint=None,
                settings=SETTINGS,
                timeout=None,  # type: ignore[arg-type]
                now=0.0,
                wall_now=0.0,
            )
