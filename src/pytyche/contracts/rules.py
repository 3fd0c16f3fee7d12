"""Segment rules: predicates over visitor features, their algebra (``&``, ``|``), pandas
masks, ``DataFrame.query`` and SQL rendering, and JSON serde."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pytyche.contracts._checks import require
from pytyche.contracts._json import json_scalar
from pytyche.errors import SchemaViolation

__all__ = [
    "AllOf",
    "AnyOf",
    "BetweenRule",
    "ComparisonRule",
    "EqRule",
    "InRule",
    "SegmentRule",
    "rule_from_dict",
    "rule_to_dict",
]


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if isinstance(value, float | np.floating) else str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _query_ident(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def _column(frame: pd.DataFrame, feature: str) -> pd.Series:
    if feature not in frame.columns:
        msg = f"segment rule uses feature {feature!r}, which the data does not have"
        raise SchemaViolation(msg)
    return frame[feature]


class _RuleOps:
    """Boolean algebra shared by every rule: ``a & b`` is a conjunction, ``a | b`` a
    disjunction."""

    __slots__ = ()

    def __and__(self, other: SegmentRule) -> AllOf:
        return AllOf(rules=(*_flatten(self, AllOf), *_flatten(other, AllOf)))

    def __or__(self, other: SegmentRule) -> AnyOf:
        return AnyOf(rules=(*_flatten(self, AnyOf), *_flatten(other, AnyOf)))


def _flatten(rule: Any, kind: type) -> tuple[SegmentRule, ...]:
    return tuple(rule.rules) if isinstance(rule, kind) else (rule,)


class _Atom(_RuleOps):
    """A rule on one feature, written ``<feature> <operator> <operand>`` in each dialect: a
    pandas ``DataFrame.query`` expression, SQL, and prose. An atom only says, in
    ``_operands``, its operator and operand per dialect."""

    __slots__ = ()

    def _phrase(self, dialect: str, name: str) -> str:
        operator, operand = self._operands()[dialect]
        return f"{name} {operator} {operand}"

    def to_query(self) -> str:
        return self._phrase("query", _query_ident(self.feature))

    def to_sql(self) -> str:
        return self._phrase("sql", _sql_ident(self.feature))

    def describe(self) -> str:
        return self._phrase("text", self.feature)


@dataclass(frozen=True, slots=True, kw_only=True)
class EqRule(_Atom):
    """``feature == value``."""

    feature: str
    value: Any

    def __post_init__(self) -> None:
        require(bool(self.feature), "EqRule: feature must be a non-empty column name")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return (_column(frame, self.feature) == self.value).to_numpy(dtype=bool)

    def _operands(self) -> dict[str, tuple[str, str]]:
        return {
            "query": ("==", repr(json_scalar(self.value))),
            "sql": ("=", _sql_literal(self.value)),
            "text": ("is", str(self.value)),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class InRule(_Atom):
    """``feature`` takes one of ``values``."""

    feature: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        require(bool(self.feature), "InRule: feature must be a non-empty column name")
        require(len(self.values) >= 1, f"InRule on {self.feature!r}: values is empty")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return _column(frame, self.feature).isin(list(self.values)).to_numpy(dtype=bool)

    def _operands(self) -> dict[str, tuple[str, str]]:
        return {
            "query": ("in", repr([json_scalar(v) for v in self.values])),
            "sql": ("IN", "(" + ", ".join(_sql_literal(v) for v in self.values) + ")"),
            "text": ("in", "{" + ", ".join(map(str, self.values)) + "}"),
        }


_COMPARISON_OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonRule(_Atom):
    """``feature <op> value`` with op one of <, <=, >, >=."""

    feature: str
    op: Literal["<", "<=", ">", ">="]
    value: float

    def __post_init__(self) -> None:
        require(bool(self.feature), "ComparisonRule: feature must be a non-empty column name")
        require(
            self.op in _COMPARISON_OPS,
            f"ComparisonRule on {self.feature!r}: op={self.op!r}; use one of {_COMPARISON_OPS}",
        )
        require(
            math.isfinite(float(self.value)),
            f"ComparisonRule on {self.feature!r}: value={self.value!r} must be finite",
        )

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        col = pd.to_numeric(_column(frame, self.feature), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return {
                "<": col < self.value,
                "<=": col <= self.value,
                ">": col > self.value,
                ">=": col >= self.value,
            }[self.op]

    def _operands(self) -> dict[str, tuple[str, str]]:
        value = float(self.value)
        return {"query": (self.op, repr(value)), "sql": (self.op, repr(value)),
                "text": (self.op, f"{value:.4g}")}


@dataclass(frozen=True, slots=True, kw_only=True)
class BetweenRule(_RuleOps):
    """``low <= feature < high`` (closed on the left, open on the right)."""

    feature: str
    low: float
    high: float

    def __post_init__(self) -> None:
        require(bool(self.feature), "BetweenRule: feature must be a non-empty column name")
        require(
            float(self.low) < float(self.high),
            f"BetweenRule on {self.feature!r}: low={self.low} must be below high={self.high}",
        )

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        col = pd.to_numeric(_column(frame, self.feature), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return (col >= self.low) & (col < self.high)

    def to_query(self) -> str:
        name = _query_ident(self.feature)
        return f"({name} >= {float(self.low)!r}) and ({name} < {float(self.high)!r})"

    def to_sql(self) -> str:
        name = _sql_ident(self.feature)
        return f"({name} >= {float(self.low)!r} AND {name} < {float(self.high)!r})"

    def describe(self) -> str:
        return f"{float(self.low):.4g} <= {self.feature} < {float(self.high):.4g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf(_RuleOps):
    """Conjunction: a visitor is in the segment when every rule holds. ``AllOf(rules=())`` is
    the whole population."""

    rules: tuple[SegmentRule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.ones(len(frame), dtype=bool)
        for rule in self.rules:
            out &= rule.mask(frame)
        return out

    def to_query(self) -> str:
        return " and ".join(f"({r.to_query()})" for r in self.rules) or "index == index"

    def to_sql(self) -> str:
        return " AND ".join(f"({r.to_sql()})" for r in self.rules) or "TRUE"

    def describe(self) -> str:
        return " and ".join(r.describe() for r in self.rules) or "everyone"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf(_RuleOps):
    """Disjunction: a visitor is in the segment when at least one rule holds."""

    rules: tuple[SegmentRule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        require(len(self.rules) >= 1, "AnyOf needs at least one rule")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(frame), dtype=bool)
        for rule in self.rules:
            out |= rule.mask(frame)
        return out

    def to_query(self) -> str:
        return " or ".join(f"({r.to_query()})" for r in self.rules)

    def to_sql(self) -> str:
        return " OR ".join(f"({r.to_sql()})" for r in self.rules)

    def describe(self) -> str:
        return " or ".join(f"({r.describe()})" for r in self.rules)


SegmentRule = EqRule | InRule | ComparisonRule | BetweenRule | AllOf | AnyOf
"""A predicate over visitor features: one of the four atoms or a conjunction/disjunction."""

_RULE_TYPES: dict[str, type] = {
    "eq": EqRule, "in": InRule, "cmp": ComparisonRule, "between": BetweenRule,
    "all": AllOf, "any": AnyOf,
}


def rule_to_dict(rule: SegmentRule) -> dict[str, Any]:
    """JSON-ready form of a rule (inverse of :func:`rule_from_dict`)."""
    if isinstance(rule, EqRule):
        return {"type": "eq", "feature": rule.feature, "value": json_scalar(rule.value)}
    if isinstance(rule, InRule):
        return {"type": "in", "feature": rule.feature,
                "values": [json_scalar(v) for v in rule.values]}
    if isinstance(rule, ComparisonRule):
        return {"type": "cmp", "feature": rule.feature, "op": rule.op, "value": float(rule.value)}
    if isinstance(rule, BetweenRule):
        return {"type": "between", "feature": rule.feature, "low": float(rule.low),
                "high": float(rule.high)}
    if isinstance(rule, AllOf | AnyOf):
        return {"type": "all" if isinstance(rule, AllOf) else "any",
                "rules": [rule_to_dict(r) for r in rule.rules]}
    msg = f"not a segment rule: {rule!r}"
    raise TypeError(msg)


def rule_from_dict(data: Mapping[str, Any]) -> SegmentRule:
    """Rebuild a rule from :func:`rule_to_dict` output."""
    kind = data.get("type")
    if kind not in _RULE_TYPES:
        msg = f"unknown rule type {kind!r}; expected one of {sorted(_RULE_TYPES)}"
        raise ValueError(msg)
    if kind in ("all", "any"):
        return _RULE_TYPES[kind](rules=tuple(rule_from_dict(r) for r in data["rules"]))
    fields = {k: v for k, v in data.items() if k != "type"}
    if kind == "in":
        fields["values"] = tuple(fields["values"])
    return _RULE_TYPES[kind](**fields)
