"""Samples of durations, and the figures and targets a section reports."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """Durations of repeated runs of one operation, in seconds."""

    durations: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.durations.append(seconds)

    @property
    def count(self) -> int:
        return len(self.durations)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.durations) * 1000 if self.durations else math.nan

    @property
    def p99_ms(self) -> float:
        return percentile(self.durations, 99) * 1000 if self.durations else math.nan

    def summary(self) -> dict[str, Any]:
        return {
            "runs": self.count,
            "median_ms": round(self.median_ms, 4),
            "p99_ms": round(self.p99_ms, 4),
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def timed(sample: Sample, work: Awaitable[Any]) -> Any:
    """Awaits `work` (a coroutine, which starts running only now) and records how long it took."""
    start = time.perf_counter()
    result = await work
    sample.add(time.perf_counter() - start)
    return result


@dataclass(frozen=True)
class Target:
    """A figure measured in the run, checked against its limit.

    Most targets are ratios of two figures measured in the same run (the machines are shared
    and noisy); `at_most` targets pass when value <= limit, the others when value >= limit.
    """

    name: str
    value: float
    limit: float
    at_most: bool = True
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def describe(self) -> str:
        sign = "<=" if self.at_most else ">="
        return f"{self.value:.2f}{self.unit} (target {sign} {self.limit:g}{self.unit})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "limit": self.limit,
            "unit": self.unit,
            "comparison": "at_most" if self.at_most else "at_least",
            "met": self.met,
        }


@dataclass
class SectionResult:
    """What a section hands back: a table to print, figures for the JSON file, its targets."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    figures: dict[str, Any]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def seconds(value_ms: float) -> str:
    return f"{value_ms / 1000:.2f}"


def verdict(*targets: Target) -> str:
    return "yes" if all(target.met for target in targets) else "**no**"


def compared_row(
    label: str,
    first: Sample,
    second: Sample,
    target: Target,
    shown: Callable[[float], str] = ms,
) -> list[str]:
    """A table row for two samples side by side (durations `shown` from milliseconds) and the
    target their ratio is checked against."""
    return [
        label,
        shown(first.median_ms),
        shown(first.p99_ms),
        shown(second.median_ms),
        shown(second.p99_ms),
        f"{target.value:.2f}x",
        verdict(target),
    ]
