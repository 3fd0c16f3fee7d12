"""The next round's plan, its JSON form (the experiment store's), and the cold-start plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytyche.contracts import DiscoveredSegment, PolicyTreeResult
from pytyche.errors import StoreError
from pytyche.experiment._graduation import GraduationCandidate
from pytyche.experiment.cells import CONTROL_CELL, EXPLORE_CELL, Cell, validate_cell_weights
from pytyche.experiment.policies import (
    BaselinePolicy,
    UniformPolicy,
    policy_from_dict,
    policy_to_dict,
)

__all__ = ["NextRoundPlan", "cold_start_plan"]


def _cell_policy(cell: Mapping[str, Any], custom_policies: Mapping[str, Any]) -> Any:
    """A stored cell's policy: shipped ones rebuilt, custom ones from the caller's cells."""
    record = cell["policy"]
    if record.get("type") != "custom":
        return policy_from_dict(record)
    if cell["id"] in custom_policies:
        return custom_policies[cell["id"]]
    msg = (f"cell {cell['id']!r} used the custom policy {record.get('class')!r}, which is not "
           "stored; pass the round-0 cells again (resume(..., cells=...))")
    raise StoreError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class NextRoundPlan:
    """What the next round should ship, and why.

    Attributes
    ----------
    cells : tuple of Cell
        The cells with their weights (summing to 1) and policies.
    treatments : tuple of str
        Active treatments, control first.
    dropped_treatments : tuple of str
        Treatments of the universe no longer served.
    prose_summary : str
        Plain-language rationale.
    tree : PolicyTreeResult or None
        The policy tree behind the Optimized cell (``None`` in a cold-start plan and in a
        plan read back from a store).
    segments : tuple of DiscoveredSegment
        The analysis' segments the plan was built from.
    graduation_candidates : tuple of GraduationCandidate
        Every pair clearing the graduation rule this round, with its streak.
    n_visitors : int or None
        Planned size of the round, when known.
    fit_num_trees_tau : int or None
        τ-forest size for the fit after the round (``None``: the fit configuration's).
    """

    cells: tuple[Cell, ...]
    treatments: tuple[str, ...]
    dropped_treatments: tuple[str, ...] = ()
    prose_summary: str = ""
    tree: PolicyTreeResult | None = None
    segments: tuple[DiscoveredSegment, ...] = ()
    graduation_candidates: tuple[GraduationCandidate, ...] = ()
    n_visitors: int | None = None
    fit_num_trees_tau: int | None = None

    def __post_init__(self) -> None:
        for name in ("cells", "treatments", "dropped_treatments", "segments",
                     "graduation_candidates"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        validate_cell_weights(self.cells)
        if len(self.treatments) < 1:
            msg = "NextRoundPlan: treatments is empty; list the active treatments, control first"
            raise ValueError(msg)

    @property
    def rationale(self) -> str:
        """Alias of :attr:`prose_summary`."""
        return self.prose_summary

    def cell(self, cell_id: str) -> Cell:
        """The cell called ``cell_id``."""
        for c in self.cells:
            if c.id == cell_id:
                return c
        msg = f"plan has no cell {cell_id!r}; its cells are {[c.id for c in self.cells]}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the policy tree object itself is not kept; its routing is)."""
        from pytyche.analysis._export import segment_to_dict  # lazy: sklearn loads on use

        return {
            "cells": [{"id": c.id, "weight": c.weight, "policy": policy_to_dict(c.policy)}
                      for c in self.cells],
            "treatments": list(self.treatments),
            "dropped_treatments": list(self.dropped_treatments),
            "prose_summary": self.prose_summary,
            "segments": [segment_to_dict(s) for s in self.segments],
            "graduation_candidates": [
                {"treatment": g.treatment, "segment": segment_to_dict(g.segment),
                 "sustained_rounds": g.sustained_rounds, "expected_loss": g.expected_loss,
                 "p_positive": g.p_positive, "p_better": g.p_better}
                for g in self.graduation_candidates
            ],
            "n_visitors": self.n_visitors,
            "fit_num_trees_tau": self.fit_num_trees_tau,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any],
                  custom_policies: Mapping[str, Any] | None = None) -> NextRoundPlan:
        """Rebuild a plan from :meth:`to_dict` output.

        A cell whose policy was the user's own type (stored by name only) takes its policy
        from ``custom_policies`` by cell id: the round-0 cells ``resume(cells=...)`` was given.

        Raises
        ------
        StoreError
            A cell used a custom policy that ``custom_policies`` does not hold.
        """
        from pytyche.analysis._export import segment_from_dict  # lazy: sklearn loads on use

        return cls(
            cells=tuple(Cell(c["id"], _cell_policy(c, custom_policies or {}), float(c["weight"]))
                        for c in data["cells"]),
            treatments=tuple(data["treatments"]),
            dropped_treatments=tuple(data.get("dropped_treatments", ())),
            prose_summary=data.get("prose_summary", ""),
            segments=tuple(segment_from_dict(s) for s in data.get("segments", ())),
            graduation_candidates=tuple(
                GraduationCandidate(
                    treatment=g["treatment"], segment=segment_from_dict(g["segment"]),
                    sustained_rounds=int(g["sustained_rounds"]),
                    expected_loss=float(g["expected_loss"]), p_positive=float(g["p_positive"]),
                    p_better=float(g["p_better"]),
                )
                for g in data.get("graduation_candidates", ())
            ),
            n_visitors=data.get("n_visitors"),
            fit_num_trees_tau=data.get("fit_num_trees_tau"),
        )


def cold_start_plan(
    treatments: Sequence[str], *, n_visitors: int | None = None, control_weight: float = 0.5
) -> NextRoundPlan:
    """The first round's plan: a Control cell and an Explore cell (50/50 by default).

    Parameters
    ----------
    treatments : sequence of str
        The treatments universe, control first (at least two).
    n_visitors : int or None, default=None
        Planned size of the round.
    control_weight : float, default=0.5
        Share of the Control cell; Explore gets the rest.
    """
    names = tuple(treatments)
    if len(names) < 2 or len(set(names)) != len(names):
        msg = f"treatments={list(names)} must list at least 2 distinct names, control first"
        raise ValueError(msg)
    if not 0.0 < control_weight < 1.0:
        msg = f"control_weight={control_weight!r} must be in (0, 1) so both cells get traffic"
        raise ValueError(msg)
    cells = (
        Cell(CONTROL_CELL, BaselinePolicy(names[0]), control_weight),
        Cell(EXPLORE_CELL, UniformPolicy(names), 1.0 - control_weight),
    )
    prose = (
        f"Cold start: no data yet, so {control_weight:.0%} of visitors go to the Control cell "
        f"({names[0]}) and {1 - control_weight:.0%} to the Explore cell, uniform over "
        f"{', '.join(names)}."
    )
    return NextRoundPlan(cells=cells, treatments=names, prose_summary=prose,
                         n_visitors=n_visitors)
