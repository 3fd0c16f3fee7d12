"""Policy export: route new visitors, and serialise a policy to JSON and to SQL."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pytyche.contracts import (
    DiscoveredSegment,
    PolicyTreeResult,
    VisitorSchema,
    rule_from_dict,
    rule_to_dict,
)
from pytyche.data import feature_schema
from pytyche.errors import SchemaViolation

__all__ = ["ExportedPolicy", "assign", "policy_from_json", "policy_to_json", "policy_to_sql"]

_FORMAT = "pytyche.policy"
_VERSION = 1
_MODES = ("deterministic", "thompson")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportedPolicy:
    """A policy read back from JSON: the segments and their allocations, without the tree.

    It routes visitors exactly as the :class:`PolicyTreeResult` it was written from, through
    the segments' rules, and is accepted wherever a policy is (``assign``,
    ``policy_to_sql``, ``policy_to_json``).

    Attributes
    ----------
    treatments : tuple of str
        Arm names, control first.
    segments : tuple of DiscoveredSegment
        One per leaf, ordered by leaf id.
    allocation_map : dict of int to dict of str to float
        Thompson shares per leaf.
    stability_scores : dict of int to float
        Stability per leaf (NaN when not computed).
    schema : VisitorSchema or None
        Feature schema of the data the policy was learnt on.
    """

    treatments: tuple[str, ...]
    segments: tuple[DiscoveredSegment, ...]
    allocation_map: Mapping[int, Mapping[str, float]]
    stability_scores: Mapping[int, float]
    schema: VisitorSchema | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "treatments", tuple(self.treatments))
        object.__setattr__(self, "segments", tuple(self.segments))
        ids = [s.id for s in self.segments]
        if set(ids) != set(self.allocation_map):
            msg = (
                f"ExportedPolicy: segments {ids} and allocation_map leaves "
                f"{sorted(self.allocation_map)} differ; each segment needs an allocation"
            )
            raise ValueError(msg)


Policy = PolicyTreeResult | ExportedPolicy


def _treatments(policy: Policy) -> tuple[str, ...]:
    if isinstance(policy, PolicyTreeResult):
        return policy.observed.treatments
    if isinstance(policy, ExportedPolicy):
        return policy.treatments
    msg = f"policy must be a PolicyTreeResult or ExportedPolicy, got {type(policy).__name__}"
    raise TypeError(msg)


def leaf_of(policy: Policy, frame: pd.DataFrame) -> np.ndarray:
    """Leaf id of every row of ``frame``, found through the segments' rules.

    Raises
    ------
    SchemaViolation
        A row belongs to no segment (a missing value or a category never seen in training).
    """
    _treatments(policy)
    out = np.full(len(frame), -1, dtype=np.int64)
    for seg in policy.segments:
        mask = seg.rule.mask(frame)
        out[mask & (out < 0)] = seg.id
    unrouted = np.flatnonzero(out < 0)
    if unrouted.size:
        row = int(unrouted[0])
        msg = (
            f"{unrouted.size} row(s) match no segment of the policy (first: row {row}, "
            f"{frame.iloc[row].to_dict()!r}); fill missing features and map unseen "
            "categories to known levels"
        )
        raise SchemaViolation(msg)
    return out


def assign(
    policy: Policy,
    frame: pd.DataFrame,
    mode: Literal["deterministic", "thompson"] = "deterministic",
    seed: int | None = None,
) -> np.ndarray:
    """Treatment for every row of ``frame`` under ``policy``.

    Parameters
    ----------
    policy : PolicyTreeResult or ExportedPolicy
    frame : pandas.DataFrame
        Visitors with the policy's feature columns, in their original (decoded) form.
    mode : {"deterministic", "thompson"}, default="deterministic"
        ``"deterministic"`` sends each segment to its most probably best arm;
        ``"thompson"`` draws each row's arm from its segment's Thompson allocation.
    seed : int, optional
        Seed of the Thompson draws (ignored in deterministic mode).

    Returns
    -------
    numpy.ndarray
        Treatment name per row (object dtype).

    Raises
    ------
    ValueError
        ``mode`` is not one of the two modes.
    SchemaViolation
        A row matches no segment, or a feature column is missing.
    """
    if mode not in _MODES:
        msg = f"mode={mode!r} is not a routing mode; use one of {list(_MODES)}"
        raise ValueError(msg)
    names = _treatments(policy)
    leaves = leaf_of(policy, frame)
    out = np.empty(len(frame), dtype=object)
    rng = np.random.default_rng(seed)
    for seg in policy.segments:
        rows = leaves == seg.id
        if mode == "deterministic":
            out[rows] = seg.best_treatment
        else:
            shares = np.array([policy.allocation_map[seg.id].get(t, 0.0) for t in names])
            picks = rng.choice(len(names), size=int(rows.sum()), p=shares / shares.sum())
            out[rows] = np.asarray(names, dtype=object)[picks]
    return out


def policy_to_sql(policy: Policy, treatment_column: str | None = None) -> str:
    """A SQL ``CASE`` expression sending each visitor to its segment's best arm.

    Parameters
    ----------
    policy : PolicyTreeResult or ExportedPolicy
    treatment_column : str, optional
        When given, the expression ends with ``AS "<treatment_column>"``.

    Returns
    -------
    str
        ``CASE WHEN <rule> THEN '<arm>' ... ELSE NULL END``; a row matching no segment gets
        NULL. It reproduces ``assign(policy, frame, "deterministic")`` when run over a table
        holding the same feature columns.
    """
    _treatments(policy)
    whens = [
        f"WHEN {seg.rule.to_sql()} THEN '{str(seg.best_treatment).replace(chr(39), chr(39) * 2)}'"
        for seg in policy.segments
    ]
    expr = "CASE " + " ".join(whens) + " ELSE NULL END"
    if treatment_column is not None:
        expr += ' AS "' + treatment_column.replace('"', '""') + '"'
    return expr


def policy_to_json(policy: Policy) -> str:
    """Serialise the routing part of a policy (segments, allocations, scores, schema) to JSON.

    The sklearn tree itself is not stored: the segments' rules route visitors identically.
    NaN scores are written as ``null``.
    """
    names = _treatments(policy)
    schema = (
        feature_schema(policy.observed) if isinstance(policy, PolicyTreeResult)
        else policy.schema
    )
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "treatments": list(names),
        "schema": None if schema is None else schema.to_dict(),
        "segments": [segment_to_dict(s) for s in policy.segments],
        "allocation_map": {
            str(leaf): {t: float(v) for t, v in shares.items()}
            for leaf, shares in policy.allocation_map.items()
        },
        "stability_scores": {
            str(leaf): _nan_to_none(v) for leaf, v in policy.stability_scores.items()
        },
    }
    return json.dumps(payload, indent=2)


def policy_from_json(text: str) -> ExportedPolicy:
    """Read a policy written by :func:`policy_to_json`.

    Raises
    ------
    ValueError
        The text is not a pytyche policy of a known version.
    """
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        msg = (
            "text is not a pytyche policy (no 'format': 'pytyche.policy'); write it with "
            "policy_to_json"
        )
        raise ValueError(msg)
    if data.get("version") != _VERSION:
        msg = f"policy version {data.get('version')!r} is not supported; expected {_VERSION}"
        raise ValueError(msg)
    return ExportedPolicy(
        treatments=tuple(data["treatments"]),
        segments=tuple(segment_from_dict(s) for s in data["segments"]),
        allocation_map={int(k): dict(v) for k, v in data["allocation_map"].items()},
        stability_scores={
            int(k): math.nan if v is None else float(v) for k, v in data["stability_scores"].items()
        },
        schema=None if data["schema"] is None else VisitorSchema.from_dict(data["schema"]),
    )


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def segment_to_dict(seg: DiscoveredSegment) -> dict[str, Any]:
    """JSON-ready form of a segment, strict JSON (NaN is written as ``None``); policy files
    and the experiment store's plans both write segments this way."""
    return {
        "id": int(seg.id),
        "rule": rule_to_dict(seg.rule),
        "gate_estimate": _nan_to_none(seg.gate_estimate),
        "gate_ci": [_nan_to_none(seg.gate_ci[0]), _nan_to_none(seg.gate_ci[1])],
        "stability_score": _nan_to_none(seg.stability_score),
        "population_share": float(seg.population_share),
        "arm_best_probabilities": {t: float(p) for t, p in seg.arm_best_probabilities.items()},
        "n_visitors": int(seg.n_visitors),
    }


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def segment_from_dict(data: Mapping[str, Any]) -> DiscoveredSegment:
    """Inverse of :func:`segment_to_dict`; also reads NaN numbers and, from stores written
    before segments kept their size, no ``n_visitors`` (0)."""
    return DiscoveredSegment(
        id=int(data["id"]),
        rule=rule_from_dict(data["rule"]),
        gate_estimate=_none_to_nan(data["gate_estimate"]),
        gate_ci=(_none_to_nan(data["gate_ci"][0]), _none_to_nan(data["gate_ci"][1])),
        stability_score=_none_to_nan(data["stability_score"]),
        population_share=float(data["population_share"]),
        arm_best_probabilities=dict(data["arm_best_probabilities"]),
        n_visitors=int(data.get("n_visitors", 0)),
    )
