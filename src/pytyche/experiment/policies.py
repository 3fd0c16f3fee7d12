"""Policies: how a cell routes each of its visitors to a treatment.

A policy answers one question: for each visitor, with which probability does it receive each
treatment? Everything else (drawing the treatment, recording propensities, exporting rules)
is built on that answer, so an operator's own policy only has to implement
:meth:`Policy.probabilities` and :meth:`Policy.describe`. The shipped policies also have
``assign(visitors, treatments, rng)``, which draws each visitor's treatment from those
probabilities; :func:`assign_treatments` does the same for any policy.

Shipped policies
----------------
:class:`BaselinePolicy`
    Always the control treatment.
:class:`UniformPolicy`
    Uniform over a subset of treatments (the Explore cell's policy).
:class:`ThompsonPolicy`
    One fixed allocation for every visitor, ε-clipped so no listed treatment starves.
:class:`TreePolicy`
    A policy tree routes each visitor to a segment (leaf); the leaf's Thompson allocation
    gives the probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from pytyche.contracts import (
    PolicyTreeResult,
    SegmentRule,
    VisitorSchema,
    rule_from_dict,
    rule_to_dict,
)
from pytyche.data import encode_new_visitors, feature_schema

__all__ = [
    "DEFAULT_EPSILON",
    "BaselinePolicy",
    "Policy",
    "ThompsonPolicy",
    "TreePolicy",
    "TreeRouting",
    "UniformPolicy",
    "assign_treatments",
    "draw_treatments",
    "epsilon_clip",
    "policy_from_dict",
    "policy_to_dict",
]

#: The ε of the ε-clip: every listed treatment keeps at least ε/K of a segment's share (the
#: glossary's hard-coded default; equal to ``pytyche.analysis.DEFAULT_EPSILON``, which floors
#: the policy tree's Thompson allocations).
DEFAULT_EPSILON = 0.02


@runtime_checkable
class Policy(Protocol):
    """What a cell needs from its routing rule.

    Implement both methods to inject a hypothesis policy into a round's cells.
    """

    def probabilities(self, visitors: pd.DataFrame, treatments: Sequence[str]) -> np.ndarray:
        """Assignment probabilities, shape (n visitors, len(treatments)); rows sum to 1."""
        ...

    def describe(self) -> str:
        """One line saying what the policy does."""
        ...


def draw_treatments(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one treatment index per row of a probability matrix.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Shape (n, K); each row sums to 1.
    rng : numpy.random.Generator
        Source of the uniform draws (exactly n are consumed).

    Returns
    -------
    numpy.ndarray
        Treatment index per visitor, int64, shape (n,).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    u = rng.random(probs.shape[0])
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0 + 1e-12  # guard against round-off in the last column
    return (u[:, None] >= cum).sum(axis=1).astype(np.int64)


def assign_treatments(
    policy: Any, visitors: pd.DataFrame, treatments: Sequence[str], rng: np.random.Generator
) -> np.ndarray:
    """Draw each visitor's treatment under ``policy``.

    Uses the policy's own ``assign`` when it has one, otherwise draws from its
    ``probabilities`` (one uniform per visitor, see :func:`draw_treatments`).

    Parameters
    ----------
    policy : Policy
    visitors : pandas.DataFrame
        The visitors to route, with the feature columns the policy reads.
    treatments : sequence of str
        Treatment names, control first; the returned indices point into it.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        Index into ``treatments`` per visitor, int64, shape (n,).
    """
    own = getattr(policy, "assign", None)
    if callable(own):
        return np.asarray(own(visitors, treatments, rng), dtype=np.int64)
    return draw_treatments(policy.probabilities(visitors, treatments), rng)


class _Assigns:
    """``assign`` for policies that define ``probabilities`` (mixed into the shipped ones)."""

    __slots__ = ()

    def assign(
        self, visitors: pd.DataFrame, treatments: Sequence[str], rng: np.random.Generator
    ) -> np.ndarray:
        """Draw one treatment per visitor from :meth:`probabilities`.

        Parameters
        ----------
        visitors : pandas.DataFrame
            Visitors to route (the tree policy reads their feature columns).
        treatments : sequence of str
            Treatment names, control first.
        rng : numpy.random.Generator
            Consumes exactly one uniform per visitor.

        Returns
        -------
        numpy.ndarray
            Index into ``treatments`` per visitor, int64, shape (n,).
        """
        return draw_treatments(self.probabilities(visitors, treatments), rng)  # type: ignore[attr-defined]


def epsilon_clip(
    allocation: Mapping[str, float], epsilon: float = DEFAULT_EPSILON
) -> dict[str, float]:
    """Floor an allocation so every listed treatment keeps at least ε/K of the share.

    Parameters
    ----------
    allocation : mapping of str to float
        Non-negative shares over K treatments (normalised to sum to 1).
    epsilon : float, default=0.02
        Total exploration mass, in [0, 1): each of the K treatments gets at least ε/K.

    Returns
    -------
    dict of str to float
        Shares summing to 1, each at least ε/K. Treatments already at or above the floor
        keep their proportions (water-filling, see
        :func:`pytyche.analysis.thompson_allocation`), so the clip is idempotent: an
        allocation that already honours the floor comes back unchanged, and clipping twice
        is clipping once.

    Notes
    -----
    The glossary's ε-clip: within a segment every active treatment keeps at least ε/K of the
    segment's share, with ε = 0.02 hard-coded. It is a floor, not a mixture with the uniform
    allocation: a mixture would move every share even when no treatment is near the floor.
    """
    from pytyche.analysis._thompson import floor_shares  # lazy: keeps this module light

    if not (math.isfinite(epsilon) and 0.0 <= epsilon < 1.0):
        msg = f"epsilon={epsilon!r} not in [0, 1); the default is {DEFAULT_EPSILON}"
        raise ValueError(msg)
    shares = _normalised(allocation, "allocation")
    floored = floor_shares(np.array(list(shares.values()), dtype=np.float64),
                           epsilon / len(shares))
    return {name: float(v) for name, v in zip(shares, floored, strict=True)}


def _normalised(allocation: Mapping[str, float], owner: str) -> dict[str, float]:
    if not allocation:
        msg = f"{owner} is empty; give at least one treatment a positive share"
        raise ValueError(msg)
    values = {str(k): float(v) for k, v in allocation.items()}
    bad = {k: v for k, v in values.items() if not (math.isfinite(v) and v >= 0)}
    total = math.fsum(values.values())
    if bad or total <= 0:
        msg = f"{owner} {values} must hold non-negative finite shares with a positive sum"
        raise ValueError(msg)
    if abs(total - 1.0) <= 1e-12:  # already normalised: keep the values bit for bit
        return values
    return {k: v / total for k, v in values.items()}


def _columns(treatments: Sequence[str], names: Sequence[str], owner: str) -> np.ndarray:
    index = {t: i for i, t in enumerate(treatments)}
    unknown = [n for n in names if n not in index]
    if unknown:
        msg = f"{owner} refers to treatment(s) {unknown} outside {list(treatments)}"
        raise ValueError(msg)
    return np.array([index[n] for n in names], dtype=np.int64)


def _fixed_rows(n: int, treatments: Sequence[str], shares: Mapping[str, float],
                owner: str) -> np.ndarray:
    out = np.zeros((n, len(treatments)), dtype=np.float64)
    cols = _columns(treatments, list(shares), owner)
    out[:, cols] = np.array(list(shares.values()), dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True)
class BaselinePolicy(_Assigns):
    """Every visitor receives the control treatment.

    Parameters
    ----------
    control : str or None, default=None
        The control's name; ``None`` means the first of the treatments passed in.
    """

    control: str | None = None

    def probabilities(self, visitors: pd.DataFrame, treatments: Sequence[str]) -> np.ndarray:
        name = self.control if self.control is not None else treatments[0]
        return _fixed_rows(len(visitors), treatments, {name: 1.0}, "BaselinePolicy")

    def describe(self) -> str:
        return f"baseline: everyone gets {self.control or 'the control'}"


@dataclass(frozen=True, slots=True)
class UniformPolicy(_Assigns):
    """Uniform random assignment over a set of treatments.

    Parameters
    ----------
    over : sequence of str or None, default=None
        The treatments to spread over; ``None`` means every treatment passed in.
    """

    over: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.over is not None:
            over = tuple(self.over)
            if not over or len(set(over)) != len(over):
                msg = f"UniformPolicy: over={self.over!r} must list distinct treatment names"
                raise ValueError(msg)
            object.__setattr__(self, "over", over)

    def probabilities(self, visitors: pd.DataFrame, treatments: Sequence[str]) -> np.ndarray:
        names = list(self.over) if self.over is not None else list(treatments)
        shares = dict.fromkeys(names, 1.0 / len(names))
        return _fixed_rows(len(visitors), treatments, shares, "UniformPolicy")

    def describe(self) -> str:
        names = ", ".join(self.over) if self.over is not None else "all treatments"
        return f"uniform over {names}"


@dataclass(frozen=True, slots=True)
class ThompsonPolicy(_Assigns):
    """One Thompson allocation for every visitor, ε-clipped.

    Parameters
    ----------
    allocation : mapping of str to float
        Share per treatment (typically P(best) under the posterior); normalised to sum to 1.
    epsilon : float, default=0.02
        ε of the ε-clip (see :func:`epsilon_clip`); the clip is a floor, so an allocation
        that already honours it (a Thompson allocation) is shipped exactly as given.
    """

    allocation: Mapping[str, float]
    epsilon: float = DEFAULT_EPSILON

    def __post_init__(self) -> None:
        object.__setattr__(self, "allocation", epsilon_clip(self.allocation, self.epsilon))

    def probabilities(self, visitors: pd.DataFrame, treatments: Sequence[str]) -> np.ndarray:
        return _fixed_rows(len(visitors), treatments, self.allocation, "ThompsonPolicy")

    def describe(self) -> str:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in self.allocation.items())
        return f"Thompson allocation ({shares})"


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeRouting:
    """The arrays a binary decision tree needs to route visitors (sklearn's layout).

    Attributes
    ----------
    feature : numpy.ndarray
        Split feature per node (negative at leaves), int64, shape (nodes,).
    threshold : numpy.ndarray
        Split threshold per node: go left when ``x[feature] <= threshold``; float64.
    children_left, children_right : numpy.ndarray
        Child node ids (-1 at leaves), int64.
    """

    feature: np.ndarray
    threshold: np.ndarray
    children_left: np.ndarray
    children_right: np.ndarray

    @classmethod
    def from_sklearn(cls, tree: Any) -> TreeRouting:
        """Copy the routing arrays out of a fitted ``DecisionTreeClassifier``/``Regressor``."""
        t = tree.tree_
        return cls(
            feature=np.asarray(t.feature, dtype=np.int64).copy(),
            threshold=np.asarray(t.threshold, dtype=np.float64).copy(),
            children_left=np.asarray(t.children_left, dtype=np.int64).copy(),
            children_right=np.asarray(t.children_right, dtype=np.int64).copy(),
        )

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Leaf id per row of an encoded feature matrix (same answer as sklearn's ``apply``)."""
        x32 = np.asarray(x, dtype=np.float32)  # sklearn compares float32 features
        node = np.zeros(x32.shape[0], dtype=np.int64)
        rows = np.arange(x32.shape[0])
        for _ in range(len(self.feature)):
            internal = self.children_left[node] >= 0
            if not internal.any():
                break
            f = np.where(internal, self.feature[node], 0)
            left = x32[rows, f].astype(np.float64) <= self.threshold[node]
            nxt = np.where(left, self.children_left[node], self.children_right[node])
            node = np.where(internal, nxt, node)
        return node

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            "feature": self.feature.tolist(),
            "threshold": [float(v) for v in self.threshold],
            "children_left": self.children_left.tolist(),
            "children_right": self.children_right.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeRouting:
        return cls(
            feature=np.asarray(data["feature"], dtype=np.int64),
            threshold=np.asarray(data["threshold"], dtype=np.float64),
            children_left=np.asarray(data["children_left"], dtype=np.int64),
            children_right=np.asarray(data["children_right"], dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class TreePolicy(_Assigns):
    """Route each visitor through a policy tree, then draw from its leaf's allocation.

    Parameters
    ----------
    tree : PolicyTreeResult or sklearn tree or TreeRouting
        The policy tree. A :class:`~pytyche.contracts.PolicyTreeResult` brings its feature
        schema and its segments' rules. So does its bare sklearn tree
        (``PolicyTreeResult.tree``, as in ``TreePolicy(result.tree, result.allocation_map)``):
        pytyche's policy-tree fit records the schema on it as ``feature_schema_``. Any other
        sklearn tree fitted on a DataFrame of numeric columns is routed on those columns
        (``feature_names_in_``); otherwise, and for a :class:`TreeRouting`, pass ``schema=``.
    allocation_map : mapping of int to mapping of str to float
        Per leaf id, the share of each treatment (each sums to 1).
    schema : VisitorSchema or None, default=None
        How to encode visitors' features for the tree; taken from ``tree.observed`` when the
        tree is a ``PolicyTreeResult``.
    rules : mapping of int to SegmentRule or None, default=None
        Human-readable rule per leaf (for exporting the policy as rules); taken from the
        segments when the tree is a ``PolicyTreeResult``.

    Notes
    -----
    The routing arrays are copied out of the tree at construction, so the policy does not
    depend on sklearn at assignment time and persists as JSON.
    """

    tree: Any
    allocation_map: Mapping[int, Mapping[str, float]]
    schema: VisitorSchema | None = None
    rules: Mapping[int, SegmentRule] | None = None
    routing: TreeRouting = field(init=False, repr=False)

    def __post_init__(self) -> None:
        tree = self.tree
        schema, rules = self.schema, self.rules
        if isinstance(tree, PolicyTreeResult):
            schema = schema or feature_schema(tree.observed)
            rules = rules if rules is not None else {s.id: s.rule for s in tree.segments}
            routing = TreeRouting.from_sklearn(tree.tree)
        elif isinstance(tree, TreeRouting):
            routing = tree
        elif hasattr(tree, "tree_"):
            routing = TreeRouting.from_sklearn(tree)
            if schema is None:
                schema = _schema_of_sklearn_tree(tree)
        else:
            msg = (
                f"TreePolicy: tree of type {type(tree).__name__} is not a PolicyTreeResult, a "
                "fitted sklearn tree or a TreeRouting"
            )
            raise TypeError(msg)
        if schema is None:
            msg = ("TreePolicy: this tree carries no feature schema; pass schema= (the "
                   "VisitorSchema its features were encoded by)")
            raise ValueError(msg)
        allocation = {int(k): _normalised(v, f"allocation of leaf {k}")
                      for k, v in self.allocation_map.items()}
        leaves = {int(i) for i in np.flatnonzero(routing.children_left < 0)}
        missing = sorted(leaves - set(allocation))
        if missing:
            msg = f"TreePolicy: allocation_map lacks leaves {missing} (it has {sorted(allocation)})"
            raise ValueError(msg)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "rules", dict(rules) if rules is not None else None)
        object.__setattr__(self, "allocation_map", allocation)
        object.__setattr__(self, "routing", routing)

    def leaves(self, visitors: pd.DataFrame) -> np.ndarray:
        """Leaf (segment) id of each visitor, int64, shape (n,)."""
        assert self.schema is not None
        return self.routing.apply(encode_new_visitors(self.schema, visitors))

    def probabilities(self, visitors: pd.DataFrame, treatments: Sequence[str]) -> np.ndarray:
        leaf = self.leaves(visitors)
        out = np.zeros((len(visitors), len(treatments)), dtype=np.float64)
        for node in np.unique(leaf):
            shares = self.allocation_map[int(node)]
            rows = leaf == node
            out[rows] = _fixed_rows(1, treatments, shares, f"TreePolicy leaf {int(node)}")[0]
        return out

    def describe(self) -> str:
        return f"policy tree with {len(self.allocation_map)} segment(s), Thompson shares per leaf"


def _schema_of_sklearn_tree(tree: Any) -> VisitorSchema | None:
    """The feature schema a fitted sklearn tree routes on, when it can be known.

    pytyche's policy trees carry it as ``feature_schema_``; a tree fitted on a DataFrame knows
    its column names (``feature_names_in_``), which are read as continuous features.
    """
    schema = getattr(tree, "feature_schema_", None)
    if isinstance(schema, VisitorSchema):
        return schema
    names = getattr(tree, "feature_names_in_", None)
    if names is None:
        return None
    names = tuple(str(n) for n in names)
    return VisitorSchema(features=names, kinds=dict.fromkeys(names, "continuous"))


# --------------------------------------------------------------------------------------------
# JSON form of the shipped policies (what the experiment store writes)
# --------------------------------------------------------------------------------------------


def policy_to_dict(policy: Any) -> dict[str, Any]:
    """JSON-ready form of a shipped policy, or of any object with a ``to_dict()`` method.

    Raises
    ------
    TypeError
        The policy is neither shipped nor serialisable.
    """
    # Exact types only: a subclass may route differently, so it is kept as the user's own
    # (by its to_dict), never read back as the shipped base type.
    kind = type(policy)
    if kind is BaselinePolicy:
        return {"type": "baseline", "control": policy.control}
    if kind is UniformPolicy:
        return {"type": "uniform", "over": list(policy.over) if policy.over else None}
    if kind is ThompsonPolicy:
        # The stored allocation is already clipped; the clip is idempotent, so keeping the
        # policy's own epsilon rebuilds the same shares and says which floor was shipped.
        return {"type": "thompson", "allocation": dict(policy.allocation),
                "epsilon": float(policy.epsilon)}
    if kind is TreePolicy:
        assert policy.schema is not None
        return {
            "type": "tree",
            "routing": policy.routing.to_dict(),
            "allocation_map": {str(k): dict(v) for k, v in policy.allocation_map.items()},
            "schema": policy.schema.to_dict(),
            "rules": ({str(k): rule_to_dict(r) for k, r in policy.rules.items()}
                      if policy.rules is not None else None),
        }
    to_dict = getattr(policy, "to_dict", None)
    if callable(to_dict):
        return {"type": "custom", "class": type(policy).__qualname__, "data": to_dict()}
    msg = (
        f"policy of type {type(policy).__name__} cannot be written to JSON; give it a "
        "to_dict() method or use a shipped policy"
    )
    raise TypeError(msg)


def policy_from_dict(data: Mapping[str, Any]) -> Any:
    """Rebuild a shipped policy from :func:`policy_to_dict` output."""
    kind = data.get("type")
    if kind == "baseline":
        return BaselinePolicy(data.get("control"))
    if kind == "uniform":
        over = data.get("over")
        return UniformPolicy(tuple(over) if over is not None else None)
    if kind == "thompson":
        # Stores written before the epsilon was kept say 0.0 over already-clipped shares.
        return ThompsonPolicy(dict(data["allocation"]),
                              epsilon=float(data.get("epsilon", DEFAULT_EPSILON)))
    if kind == "tree":
        rules = data.get("rules")
        return TreePolicy(
            TreeRouting.from_dict(data["routing"]),
            {int(k): dict(v) for k, v in data["allocation_map"].items()},
            schema=VisitorSchema.from_dict(data["schema"]),
            rules={int(k): rule_from_dict(r) for k, r in rules.items()} if rules else None,
        )
    msg = (
        f"cannot rebuild a policy of type {kind!r} (shipped types: baseline, uniform, thompson, "
        "tree); custom policies must be passed again by the caller"
    )
    raise ValueError(msg)

