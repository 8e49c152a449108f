"""Latency distributions: parsing, validation, seeded draws, per-family choice."""

from __future__ import annotations

import random
import statistics

import pytest

from bria_dagster.emulator.latency import Distribution, parse_latency_option, pick


def test_parse_forms() -> None:
    assert Distribution.parse("2") == Distribution("fixed", (2.0,))
    assert Distribution.parse(1.5) == Distribution("fixed", (1.5,))
    assert str(Distribution.parse("lognormal:6,0.5")) == "lognormal:6,0.5"
    assert parse_latency_option("*=uniform:1,3") == ("*", Distribution("uniform", (1.0, 3.0)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gamma:1", "unknown distribution"),
        ("uniform:3", "takes 2 parameter"),
        ("uniform:3,1", "low must not exceed high"),
        ("fixed:abc", "must be numbers"),
        ("normal:1,-1", ">= 0"),
    ],
)
def test_bad_distributions_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Distribution.parse(text)


def test_draws_follow_the_distribution() -> None:
    rng = random.Random(1)
    lognormal = [Distribution.parse("lognormal:6,0.5").draw(rng) for _ in range(2000)]
    assert 5.5 < statistics.median(lognormal) < 6.5
    uniform = [Distribution.parse("uniform:1,3").draw(rng) for _ in range(500)]
    assert min(uniform) >= 1 and max(uniform) <= 3
    assert all(Distribution.parse("normal:0.1,5").draw(rng) >= 0 for _ in range(500))


def test_family_falls_back_to_star_then_its_expected_latency() -> None:
    fixed = Distribution.parse("fixed:1")
    assert pick({"edit": fixed}, "edit") is fixed
    assert pick({"*": fixed}, "video") is fixed
    assert pick({}, "video") == Distribution("lognormal", (60.0, 0.25))
    with pytest.raises(ValueError, match="unknown family"):
        parse_latency_option("paint=fixed:1")
