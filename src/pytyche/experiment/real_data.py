"""Real-data mode: read each round's visitors from files or SQL, and export the next plan.

The operator's platform assigns visitors by the plan's cells and records, per visitor, the
cell and the treatment it received. :func:`real_data_generator` reads each round back (a
CSV/Parquet file pattern or a DuckDB query, with ``{round}`` replaced by the round index),
checks every visitor against the plan that was shipped (:func:`validate_round_data`) and hands
the loop the observed data. :func:`export_assignment` and :func:`export_policy_rules` turn a
plan into something a platform can execute: one row per visitor, or rules (JSON, SQL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pytyche.contracts import RESERVED_CELL_COLUMN, rule_to_dict
from pytyche.errors import SchemaViolation
from pytyche.experiment.cells import blend_probabilities
from pytyche.experiment.policies import (
    BaselinePolicy,
    ThompsonPolicy,
    TreePolicy,
    UniformPolicy,
    draw_treatments,
)
from pytyche.experiment.recommendation import NextRoundPlan
from pytyche.experiment.sequential import Generator
from pytyche.experiment.simulate import allocate_cells

__all__ = [
    "export_assignment",
    "export_policy_rules",
    "read_round_frame",
    "real_data_generator",
    "validate_round_data",
]

_SHOW_ROWS = 5


def _rows(labels: Sequence[Any]) -> str:
    shown = ", ".join(str(x) for x in list(labels)[:_SHOW_ROWS])
    more = len(labels) - _SHOW_ROWS
    return shown + (f" and {more} more" if more > 0 else "")


def validate_round_data(
    frame: pd.DataFrame, plan: NextRoundPlan, *, treatment: str, cell: str = RESERVED_CELL_COLUMN
) -> None:
    """Check that every visitor's cell and treatment are ones the plan allowed.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per visitor, with the treatment and cell columns and the features the plan's
        policies read.
    plan : NextRoundPlan
        The plan that was shipped for the round.
    treatment, cell : str
        Names of the treatment and cell columns.

    Raises
    ------
    SchemaViolation
        A column is missing, or some rows name a cell outside the plan, a treatment outside
        the plan's active list, or a treatment their cell's policy never gives (the message
        lists the first offending row labels).
    """
    missing = [c for c in (treatment, cell) if c not in frame.columns]
    if missing:
        msg = (f"round data lacks column(s) {missing}; record each visitor's cell id and "
               f"treatment (columns now: {list(frame.columns)[:12]})")
        raise SchemaViolation(msg)
    ids = frame[cell].astype(str).to_numpy()
    known = {c.id for c in plan.cells}
    bad = ~np.isin(ids, list(known))
    if bad.any():
        msg = (f"rows {_rows(frame.index[bad])} have cell ids {sorted(set(ids[bad]))[:5]} that "
               f"are not cells of the plan {sorted(known)}; fix the platform's cell labels")
        raise SchemaViolation(msg)
    # Surrounding spaces are the loaders' to merge (with a warning), not a plan violation.
    arms = frame[treatment].astype(str).str.strip().to_numpy()
    active = list(plan.treatments)
    bad = ~np.isin(arms, active)
    if bad.any():
        msg = (f"rows {_rows(frame.index[bad])} received treatments {sorted(set(arms[bad]))[:5]} "
               f"outside the plan's active treatments {active}")
        raise SchemaViolation(msg)
    column = {t: j for j, t in enumerate(active)}
    for c in plan.cells:
        rows = np.flatnonzero(ids == c.id)
        if rows.size == 0:
            continue
        probs = c.policy.probabilities(frame.iloc[rows], active)
        got = probs[np.arange(rows.size), [column[a] for a in arms[rows]]]
        wrong = rows[got <= 0]
        if wrong.size:
            msg = (f"rows {_rows(frame.index[wrong])} are in cell {c.id!r} ({c.policy.describe()})"
                   f" but received treatments {sorted(set(arms[wrong]))[:5]} that this cell never "
                   "assigns; the platform did not follow the plan")
            raise SchemaViolation(msg)


def read_round_frame(source: str | Path, round_idx: int, *, database: str | None = None
                     ) -> pd.DataFrame:
    """Read one round's visitors: ``{round}`` in ``source`` becomes ``round_idx``.

    ``source`` is a DuckDB query when it is not an existing path and starts like one (SELECT,
    WITH, FROM, ...; run read-only against ``database``, or an in-memory database that can
    read files directly), otherwise a ``.csv``, ``.tsv`` or ``.parquet`` path. Both go through
    the shared readers of :mod:`pytyche.data` (raw header checks, read-only SQL, typed errors).
    """
    from pytyche.data._readers import looks_like_sql, read_frame, run_query

    text = str(source).replace("{round}", str(round_idx))
    if looks_like_sql(text):
        return run_query(text, database)
    if not Path(text).expanduser().exists():
        msg = f"round {round_idx} data file {text!r} does not exist; export the round there first"
        raise FileNotFoundError(msg)
    return read_frame(text)


def real_data_generator(
    source: str | Path,
    *,
    treatment: str,
    outcome: str,
    metric: str | None = None,
    features: Sequence[str] | None = None,
    visitor_id: str | None = None,
    cell: str = RESERVED_CELL_COLUMN,
    experiment_id: str = "experiment",
    database: str | None = None,
) -> Generator:
    """A real-data :data:`~pytyche.experiment.sequential.Generator` reading each round.

    Parameters
    ----------
    source : str or path
        A file pattern (``"rounds/round_{round}.parquet"``, CSV or Parquet) or a DuckDB query
        (``"SELECT * FROM visits WHERE round = {round}"``); ``{round}`` is the zero-based
        round index.
    treatment, outcome : str
        Column names of the received treatment and the outcome.
    metric : str or None, default=None
        Canonical metric id (inferred from the outcome when ``None``).
    features : sequence of str or None, default=None
        Feature columns (default: every column that is not reserved or named above).
    visitor_id : str or None, default=None
        Optional visitor id column.
    cell : str, default="cell"
        Column holding each visitor's cell id (renamed to the reserved ``cell``).
    experiment_id : str, default="experiment"
        Id of the experiment's data (constant across rounds).
    database : str or None, default=None
        DuckDB database file for SQL sources (opened read-only).

    Returns
    -------
    Generator
        Returns ``(observed, None)`` (real-data mode); the loop adds the ``round`` and
        propensity columns from the plan when the data lacks them.

    Raises
    ------
    SchemaViolation
        (When called.) Rows break the plan, see :func:`validate_round_data`.
    """
    from pytyche.data import from_dataframe

    def generate(round_idx: int, plan: NextRoundPlan) -> tuple[Any, None]:
        frame = read_round_frame(source, round_idx, database=database)
        validate_round_data(frame, plan, treatment=treatment, cell=cell)
        if cell != RESERVED_CELL_COLUMN:
            frame = frame.rename(columns={cell: RESERVED_CELL_COLUMN})
        frame = frame.assign(**{RESERVED_CELL_COLUMN: frame[RESERVED_CELL_COLUMN].astype(str),
                                treatment: frame[treatment].astype(str)})
        observed = from_dataframe(
            frame, treatment=treatment, outcome=outcome, control=plan.treatments[0],
            features=features, visitor_id=visitor_id, metric=metric,
            experiment_id=experiment_id,
        )
        return observed, None

    return generate


def export_assignment(
    plan: NextRoundPlan,
    visitors: pd.DataFrame,
    *,
    seed: int = 0,
    include_probability: bool = False,
) -> pd.DataFrame:
    """Assign the next round's visitors by the plan: cell by weight, treatment by policy.

    Parameters
    ----------
    plan : NextRoundPlan
        The plan to ship.
    visitors : pandas.DataFrame
        One row per arriving visitor with the features the plan's policies read.
    seed : int, default=0
        Seed of the cell split and treatment draws.
    include_probability : bool, default=False
        Add ``assignment_probability``: the visitor's probability of its treatment under the
        whole plan (the cell-weight blend). Drop it before loading the round back.

    Returns
    -------
    pandas.DataFrame
        ``visitors`` with ``cell`` and ``treatment`` columns added.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    names = list(plan.treatments)
    cells = allocate_cells(plan.cells, len(visitors), rng)
    arm = np.zeros(len(visitors), dtype=np.int64)
    for c in plan.cells:
        rows = np.flatnonzero(cells == c.id)
        if rows.size:
            arm[rows] = draw_treatments(c.policy.probabilities(visitors.iloc[rows], names), rng)
    out = visitors.assign(**{RESERVED_CELL_COLUMN: cells.astype(str),
                             "treatment": np.asarray(names, dtype=object)[arm]})
    if include_probability:
        blend = blend_probabilities(plan.cells, visitors, names)
        out["assignment_probability"] = blend[np.arange(len(visitors)), arm]
    return out


def _policy_rules(policy: Any, control: str) -> dict[str, Any]:
    if isinstance(policy, BaselinePolicy):
        return {"type": "baseline", "treatment": policy.control or control}
    if isinstance(policy, UniformPolicy):
        return {"type": "uniform", "treatments": list(policy.over) if policy.over else None}
    if isinstance(policy, ThompsonPolicy):
        return {"type": "fixed_allocation", "allocation": dict(policy.allocation)}
    if isinstance(policy, TreePolicy):
        if policy.rules is None:
            msg = ("this TreePolicy carries no segment rules (built from a bare tree); build it "
                   "from a PolicyTreeResult, or export per visitor with export_assignment")
            raise ValueError(msg)
        return {"type": "segments", "segments": [
            {"segment_id": leaf, "description": policy.rules[leaf].describe(),
             "rule": rule_to_dict(policy.rules[leaf]), "sql": policy.rules[leaf].to_sql(),
             "allocation": dict(policy.allocation_map[leaf])}
            for leaf in sorted(policy.allocation_map)
        ]}
    msg = (f"policy {type(policy).__name__} has no rule form; export per visitor with "
           "export_assignment instead")
    raise ValueError(msg)


def export_policy_rules(
    plan: NextRoundPlan, *, format: Literal["json", "sql"] = "json"
) -> dict[str, Any] | str:
    """The plan as rules an assignment platform can execute.

    Parameters
    ----------
    plan : NextRoundPlan
    format : {"json", "sql"}, default="json"
        ``"json"``: a dict (JSON-ready) of cells with weights and, per cell, its rule: a
        baseline treatment, a uniform set, a fixed allocation, or segments (rule, SQL
        predicate, allocation). ``"sql"``: a commented SQL ``CASE`` expression per segmented
        cell mapping a visitor row to its segment id, with the allocations as comments.

    Raises
    ------
    ValueError
        A cell's policy has no rule form (custom policies, trees without rules).
    """
    control = plan.treatments[0]
    doc = {
        "treatments": list(plan.treatments),
        "dropped_treatments": list(plan.dropped_treatments),
        "cells": [{"id": c.id, "weight": c.weight, "policy": _policy_rules(c.policy, control)}
                  for c in plan.cells],
    }
    if format == "json":
        json.dumps(doc)  # fail here, not in the operator's pipeline, if something is not JSON
        return doc
    if format != "sql":
        msg = f"format={format!r}; use 'json' or 'sql'"
        raise ValueError(msg)
    lines = ["-- pytyche next-round plan: split visitors across cells by weight, then apply "
             "each cell's rule"]
    for c in doc["cells"]:
        pol = c["policy"]
        lines.append(f"-- cell {c['id']!r}, weight {c['weight']:.6f}: {pol['type']}")
        if pol["type"] == "segments":
            lines.append("CASE")
            for seg in pol["segments"]:
                shares = ", ".join(f"{k}={v:.4f}" for k, v in seg["allocation"].items())
                lines.append(f"  WHEN {seg['sql']} THEN {seg['segment_id']}  -- {shares}")
            lines.append(f"END AS {c['id']}_segment_id")
        elif pol["type"] == "baseline":
            lines.append(f"--   everyone: {pol['treatment']}")
        elif pol["type"] == "uniform":
            lines.append(f"--   uniform over: {pol['treatments'] or plan.treatments}")
        else:
            lines.append(f"--   allocation: {pol['allocation']}")
    return "\n".join(lines)
