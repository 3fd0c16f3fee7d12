"""The reserved visitor columns, documented in :mod:`pytyche.contracts`, in one place."""

from __future__ import annotations

from collections.abc import Hashable

__all__ = [
    "RESERVED_CELL_COLUMN",
    "RESERVED_COLUMNS",
    "RESERVED_OUTCOME_COLUMN",
    "RESERVED_ROUND_COLUMN",
    "RESERVED_VISITOR_ID_COLUMN",
    "is_reserved_column",
    "propensity_columns",
]

RESERVED_OUTCOME_COLUMN = "outcome"
RESERVED_VISITOR_ID_COLUMN = "visitor_id"
RESERVED_CELL_COLUMN = "cell"
RESERVED_ROUND_COLUMN = "round"
_PROPENSITY_PREFIX = "propensity"


def propensity_columns(n_treatments: int) -> tuple[str, ...]:
    """Names of the reserved propensity columns for ``n_treatments`` arms (control included)."""
    if n_treatments < 2:
        msg = f"n_treatments={n_treatments}: an experiment needs at least 2 treatments"
        raise ValueError(msg)
    if n_treatments == 2:
        return (_PROPENSITY_PREFIX,)
    return tuple(f"{_PROPENSITY_PREFIX}_{k}" for k in range(1, n_treatments))


RESERVED_COLUMNS = frozenset(
    {RESERVED_OUTCOME_COLUMN, RESERVED_VISITOR_ID_COLUMN, RESERVED_CELL_COLUMN,
     RESERVED_ROUND_COLUMN}
)


def is_reserved_column(name: Hashable) -> bool:
    """Whether ``name`` is reserved: one of :data:`RESERVED_COLUMNS` or a propensity column
    (``propensity``, ``propensity_1``, ...). Non-string column names never are."""
    if not isinstance(name, str):
        return False
    head, _, tail = name.partition("_")
    return name in RESERVED_COLUMNS or name == _PROPENSITY_PREFIX or (
        head == _PROPENSITY_PREFIX and tail.isdigit()
    )
