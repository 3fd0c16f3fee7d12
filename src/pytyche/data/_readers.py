"""File and SQL readers, each a thin layer over :func:`from_dataframe`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pytyche.contracts import ObservedExperimentData
from pytyche.data._frame import from_dataframe
from pytyche.errors import SchemaViolation

__all__ = ["read_csv", "read_parquet", "read_sql"]

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
_FILE_READERS = {
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".csv.gz": "read_csv",
    ".json": "read_json",
    ".jsonl": "read_json",
    ".ndjson": "read_json",
}


def _existing_path(path: str | os.PathLike[str], what: str) -> Path:
    if not isinstance(path, str | os.PathLike):
        msg = f"path={path!r} must be a file path (str or pathlib.Path)"
        raise TypeError(msg)
    resolved = Path(path).expanduser()
    if not resolved.exists():
        msg = f"{what} not found: {str(resolved)!r} (working directory {os.getcwd()!r})"
        raise FileNotFoundError(msg)
    return resolved


def read_csv(
    path: str | os.PathLike[str],
    *,
    treatment: str,
    outcome: str,
    control: Any = None,
    features: Sequence[str] | None = None,
    visitor_id: str | None = None,
    metric: str | None = None,
    experiment_id: str = "experiment",
    read_options: Mapping[str, Any] | None = None,
) -> ObservedExperimentData:
    """Load a CSV file of one row per visitor (see :func:`from_dataframe` for the arguments).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (compressed files are read by extension, as pandas does).
    read_options : mapping, optional
        Extra keyword arguments for :func:`pandas.read_csv` (``sep``, ``dtype``, ...).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    SchemaViolation
        The file cannot be parsed as CSV, or its contents fail a check of
        :func:`from_dataframe`.
    """
    resolved = _existing_path(path, "CSV file")
    try:
        frame = pd.read_csv(resolved, **dict(read_options or {}))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        msg = f"cannot parse {str(resolved)!r} as CSV: {err}; check the file or read_options"
        raise SchemaViolation(msg) from err
    return from_dataframe(
        frame, treatment=treatment, outcome=outcome, control=control, features=features,
        visitor_id=visitor_id, metric=metric, experiment_id=experiment_id,
    )


def read_parquet(
    path: str | os.PathLike[str],
    *,
    treatment: str,
    outcome: str,
    control: Any = None,
    features: Sequence[str] | None = None,
    visitor_id: str | None = None,
    metric: str | None = None,
    experiment_id: str = "experiment",
    read_options: Mapping[str, Any] | None = None,
) -> ObservedExperimentData:
    """Load a Parquet file or a directory of Parquet files (pyarrow) of one row per visitor.

    See :func:`from_dataframe` for the arguments; ``read_options`` go to
    :func:`pandas.read_parquet`. For a glob of files use :func:`read_sql` with the glob.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    SchemaViolation
        The file is not valid Parquet, or its contents fail a check of :func:`from_dataframe`.
    """
    import pyarrow as pa

    resolved = _existing_path(path, "Parquet file")
    try:
        frame = pd.read_parquet(resolved, engine="pyarrow", **dict(read_options or {}))
    except (pa.ArrowException, OSError) as err:
        msg = f"cannot read {str(resolved)!r} as Parquet: {err}"
        raise SchemaViolation(msg) from err
    return from_dataframe(
        frame, treatment=treatment, outcome=outcome, control=control, features=features,
        visitor_id=visitor_id, metric=metric, experiment_id=experiment_id,
    )


def read_sql(
    query: str,
    con: Any = None,
    *,
    treatment: str,
    outcome: str,
    control: Any = None,
    features: Sequence[str] | None = None,
    visitor_id: str | None = None,
    metric: str | None = None,
    experiment_id: str = "experiment",
) -> ObservedExperimentData:
    """Run a DuckDB query returning one row per visitor and load its result.

    Parameters
    ----------
    query : str
        A SQL query, or as a shorthand either a bare table name (``visitors``,
        ``main.visitors``), read as ``SELECT * FROM visitors``, or a file path or glob ending
        in ``.parquet``, ``.csv``, ``.csv.gz``, ``.tsv`` or ``.json``/``.jsonl``
        (``rounds/*.parquet``), read with DuckDB's matching ``read_*`` function.
    con : duckdb.DuckDBPyConnection or str or os.PathLike, optional
        An open connection (left open), or the path of an existing DuckDB database file
        (opened read-only and closed afterwards). ``None`` runs the query on a fresh in-memory
        database, which is enough for queries over files such as
        ``SELECT * FROM read_parquet('rounds/*.parquet')``.
    treatment, outcome, control, features, visitor_id, metric, experiment_id
        As in :func:`from_dataframe`.

    Raises
    ------
    FileNotFoundError
        ``con`` is a database path that does not exist.
    TypeError
        ``query`` is not a string or ``con`` is of an unsupported type.
    SchemaViolation
        DuckDB refuses the query (its message is included), or the result fails a check of
        :func:`from_dataframe`.
    """
    import duckdb

    if not isinstance(query, str) or not query.strip():
        msg = f"query={query!r} must be a non-empty SQL string, table name or file glob"
        raise TypeError(msg)
    sql = _expand_shorthand(query.strip())
    owned = con is None or isinstance(con, str | os.PathLike)
    if con is None:
        connection = duckdb.connect()
    elif isinstance(con, str | os.PathLike):
        database = _existing_path(con, "DuckDB database file")
        try:
            connection = duckdb.connect(str(database), read_only=True)
        except duckdb.Error as err:
            msg = f"cannot open {str(database)!r} as a DuckDB database: {err}"
            raise SchemaViolation(msg) from err
    elif isinstance(con, duckdb.DuckDBPyConnection):
        connection = con
    else:
        msg = (
            f"con must be a duckdb connection, a database file path or None, got "
            f"{type(con).__name__}"
        )
        raise TypeError(msg)
    try:
        result = connection.execute(sql)
        if result.description is None:
            msg = f"the query returned no result set (is it a SELECT?): {sql!r}"
            raise SchemaViolation(msg)
        frame = result.df()
    except duckdb.Error as err:
        msg = f"DuckDB could not run the query {sql!r}: {err}"
        raise SchemaViolation(msg) from err
    finally:
        if owned:
            connection.close()
    if len(frame) == 0:
        msg = (
            f"the query returned no rows (columns: {list(frame.columns)[:40]}): {sql!r}; check "
            "its filters and the table or files it reads"
        )
        raise SchemaViolation(msg)
    return from_dataframe(
        frame, treatment=treatment, outcome=outcome, control=control, features=features,
        visitor_id=visitor_id, metric=metric, experiment_id=experiment_id,
    )


def _expand_shorthand(query: str) -> str:
    if _TABLE_NAME.fullmatch(query):
        return f"SELECT * FROM {'.'.join(_ident(p) for p in query.split('.'))}"
    if not any(ch.isspace() for ch in query):
        lower = query.lower()
        for suffix, reader in sorted(_FILE_READERS.items(), key=lambda kv: -len(kv[0])):
            if lower.endswith(suffix):
                return f"SELECT * FROM {reader}({_literal(query)})"
    return query


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
