"""Schedules: how many visitors each round gets, and when the experiment ends."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ExplicitSchedule",
    "FixedSchedule",
    "GeometricSchedule",
    "Schedule",
    "schedule_from_dict",
    "schedule_to_dict",
]


@runtime_checkable
class Schedule(Protocol):
    """Round sizes of a sequential experiment.

    Attributes
    ----------
    n_rounds : int or None
        Number of rounds, or ``None`` for an open-ended schedule (the operator stops it).
    """

    n_rounds: int | None

    def next_round_size(self, round_idx: int) -> int | None:
        """Visitors in round ``round_idx`` (zero-based), or ``None`` when the schedule is over."""
        ...


def _check_n_rounds(owner: str, n_rounds: int | None) -> None:
    if n_rounds is not None and (not isinstance(n_rounds, int) or n_rounds < 1):
        msg = f"{owner}: n_rounds={n_rounds!r} must be a positive int, or None for open-ended"
        raise ValueError(msg)


def _check_size(owner: str, name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{owner}: {name}={value!r} must be a positive number of visitors"
        raise ValueError(msg)


def _check_round(round_idx: int) -> None:
    if round_idx < 0:
        msg = f"round_idx={round_idx} must be >= 0 (rounds are zero-based)"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class GeometricSchedule:
    """Batches that grow by a constant factor: ``round(initial · growth**r)`` visitors.

    Parameters
    ----------
    initial : int
        Visitors in the first round.
    growth : float, default=2.0
        Factor from one round to the next (>= 1; 2.0 doubles each batch).
    n_rounds : int or None, default=None
        Number of rounds; ``None`` is open-ended.

    Examples
    --------
    >>> s = GeometricSchedule(1000, n_rounds=3)
    >>> [s.next_round_size(r) for r in range(4)]
    [1000, 2000, 4000, None]
    """

    initial: int
    growth: float = 2.0
    n_rounds: int | None = None

    def __post_init__(self) -> None:
        _check_size("GeometricSchedule", "initial", self.initial)
        if not (math.isfinite(self.growth) and self.growth >= 1.0):
            msg = f"GeometricSchedule: growth={self.growth!r} must be >= 1 (2.0 doubles batches)"
            raise ValueError(msg)
        _check_n_rounds("GeometricSchedule", self.n_rounds)

    def next_round_size(self, round_idx: int) -> int | None:
        _check_round(round_idx)
        if self.n_rounds is not None and round_idx >= self.n_rounds:
            return None
        return round(self.initial * self.growth**round_idx)


@dataclass(frozen=True, slots=True)
class FixedSchedule:
    """The same number of visitors every round.

    Parameters
    ----------
    per_round : int
        Visitors per round.
    n_rounds : int or None, default=None
        Number of rounds; ``None`` is open-ended.
    """

    per_round: int
    n_rounds: int | None = None

    def __post_init__(self) -> None:
        _check_size("FixedSchedule", "per_round", self.per_round)
        _check_n_rounds("FixedSchedule", self.n_rounds)

    def next_round_size(self, round_idx: int) -> int | None:
        _check_round(round_idx)
        if self.n_rounds is not None and round_idx >= self.n_rounds:
            return None
        return self.per_round


@dataclass(frozen=True, slots=True)
class ExplicitSchedule:
    """A caller-given visitor count per round; the experiment has ``len(sizes)`` rounds.

    Parameters
    ----------
    sizes : sequence of int
        Visitors in each round, in order.
    """

    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if not sizes:
            msg = "ExplicitSchedule: sizes is empty; give at least one round size"
            raise ValueError(msg)
        for i, s in enumerate(sizes):
            _check_size("ExplicitSchedule", f"sizes[{i}]", s)
        object.__setattr__(self, "sizes", sizes)

    @property
    def n_rounds(self) -> int:
        return len(self.sizes)

    def next_round_size(self, round_idx: int) -> int | None:
        _check_round(round_idx)
        return self.sizes[round_idx] if round_idx < len(self.sizes) else None


def schedule_to_dict(schedule: Schedule) -> dict[str, Any] | None:
    """JSON form of a shipped schedule; ``None`` for other schedule types."""
    if isinstance(schedule, GeometricSchedule):
        return {"type": "geometric", "initial": schedule.initial, "growth": schedule.growth,
                "n_rounds": schedule.n_rounds}
    if isinstance(schedule, FixedSchedule):
        return {"type": "fixed", "per_round": schedule.per_round, "n_rounds": schedule.n_rounds}
    if isinstance(schedule, ExplicitSchedule):
        return {"type": "explicit", "sizes": list(schedule.sizes)}
    return None


def schedule_from_dict(data: Mapping[str, Any]) -> Schedule:
    """Rebuild a shipped schedule from :func:`schedule_to_dict` output."""
    kind = data.get("type")
    if kind == "geometric":
        return GeometricSchedule(int(data["initial"]), float(data["growth"]), data["n_rounds"])
    if kind == "fixed":
        return FixedSchedule(int(data["per_round"]), data["n_rounds"])
    if kind == "explicit":
        return ExplicitSchedule(tuple(int(s) for s in data["sizes"]))
    msg = f"unknown schedule type {kind!r}; expected geometric, fixed or explicit"
    raise ValueError(msg)

