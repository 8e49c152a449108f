"""How long a job stays IN_PROGRESS: per-family latency distributions, drawn with a seeded RNG.

A distribution is written ``kind:params``: ``fixed:2`` (or just ``2``), ``uniform:1,3``,
``lognormal:6,0.5`` (median 6 s, sigma 0.5 of the underlying normal), ``normal:5,1`` (clipped at 0)
or ``exponential:4`` (mean 4 s). A latency option is ``family=distribution``, where family is a key
of :data:`bria_dagster.client.catalog.families.FAMILIES` or ``*`` for every family not named.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from bria_dagster.client.catalog.families import FAMILIES

DistributionKind = Literal["fixed", "uniform", "lognormal", "normal", "exponential"]

_ARITY: dict[str, int] = {"fixed": 1, "uniform": 2, "lognormal": 2, "normal": 2, "exponential": 1}
ANY_FAMILY = "*"
DEFAULT_SIGMA = 0.25
"""Spread of the default lognormal latency around a family's expected latency."""


@dataclass(frozen=True)
class Distribution:
    """A latency distribution in seconds (never negative)."""

    kind: DistributionKind
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.kind not in _ARITY:
            raise ValueError(f"unknown distribution {self.kind!r}; use one of {', '.join(_ARITY)}")
        if len(self.params) != _ARITY[self.kind]:
            raise ValueError(f"{self.kind} takes {_ARITY[self.kind]} parameter(s), got {self}")
        if any(not math.isfinite(p) or p < 0 for p in self.params):
            raise ValueError(f"{self}: parameters must be finite and >= 0")
        if self.kind == "uniform" and self.params[0] > self.params[1]:
            raise ValueError(f"{self}: low must not exceed high")

    @classmethod
    def parse(cls, text: str | float) -> Distribution:
        """Parse ``"lognormal:6,0.5"``, ``"fixed:2"`` or a bare number of seconds."""
        if isinstance(text, int | float):
            return cls("fixed", (float(text),))
        kind, sep, rest = text.strip().partition(":")
        if not sep:
            kind, rest = "fixed", kind
        try:
            params = tuple(float(p) for p in rest.split(","))
        except ValueError:
            raise ValueError(f"{text!r}: parameters must be numbers, e.g. 'uniform:1,3'") from None
        return cls(kind.strip().lower(), params)  # type: ignore[arg-type]

    @classmethod
    def around(cls, expected_s: float) -> Distribution:
        """The default for a family: lognormal around its expected latency."""
        return cls("lognormal", (expected_s, DEFAULT_SIGMA))

    def draw(self, rng: random.Random) -> float:
        """One latency in seconds."""
        p = self.params
        if self.kind == "fixed":
            return p[0]
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1])
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(p[0]), p[1]) if p[0] > 0 else 0.0
        if self.kind == "normal":
            return max(0.0, rng.gauss(p[0], p[1]))
        return rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0

    def __str__(self) -> str:
        return f"{self.kind}:{','.join(f'{p:g}' for p in self.params)}"


def check_family(name: str) -> str:
    """Return ``name`` if it is a latency family (or ``*``); raise ValueError otherwise."""
    if name != ANY_FAMILY and name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; use '*' or one of {', '.join(FAMILIES)}")
    return name


def parse_latency_option(option: str) -> tuple[str, Distribution]:
    """Parse ``family=distribution`` (e.g. ``generation=lognormal:6,0.5``)."""
    family, sep, dist = option.partition("=")
    if not sep:
        raise ValueError(f"{option!r}: expected family=distribution, e.g. 'edit=fixed:2'")
    return check_family(family.strip()), Distribution.parse(dist)


def pick(latency: dict[str, Distribution], family: str) -> Distribution:
    """The distribution for a family: its own, else ``*``, else lognormal around its expectation."""
    dist = latency.get(family) or latency.get(ANY_FAMILY)
    if dist is not None:
        return dist
    known = FAMILIES.get(family) or FAMILIES["other"]
    return Distribution.around(known.expected_latency_s)
