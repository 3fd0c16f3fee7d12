"""File and SQL readers, each a thin layer over :func:`from_dataframe`."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pytyche.contracts import ObservedExperimentData
from pytyche.data._frame import from_dataframe
from pytyche.data._validate import check_raw_header
from pytyche.errors import SchemaViolation, SourceError

__all__ = ["file_kind", "looks_like_sql", "read_csv", "read_frame", "read_parquet", "read_sql",
           "resolve_path", "run_query", "source_kind"]

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
_FILE_READERS = {
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".csv.gz": "read_csv",
    ".tsv.gz": "read_csv",
    ".json": "read_json",
    ".jsonl": "read_json",
    ".ndjson": "read_json",
}


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")
_SQL_START = re.compile(r"^\s*(select|with|from|values|\()", re.IGNORECASE)


def resolve_path(path: str | os.PathLike[str], what: str, *, directory: bool = False) -> Path:
    """``path`` with ``~`` expanded, after checking it exists and is readable.

    Raises
    ------
    TypeError
        ``path`` is not a str or path.
    FileNotFoundError
        Nothing exists at ``path``.
    SourceError
        ``~user`` names no user, the path is a folder where a file is needed (unless
        ``directory``), or it cannot be read (permissions).
    """
    if not isinstance(path, str | os.PathLike):
        msg = f"path={path!r} must be a file path (str or pathlib.Path)"
        raise TypeError(msg)
    if not str(path).strip():
        msg = f"{what} path is empty; pass the path of the file to read"
        raise SourceError(msg)
    try:
        resolved = Path(path).expanduser()
    except RuntimeError as err:
        msg = f"cannot expand {str(path)!r}: {err}; write the path out in full"
        raise SourceError(msg) from err
    if not resolved.exists():
        msg = f"{what} not found: {str(resolved)!r} (working directory {os.getcwd()!r})"
        raise FileNotFoundError(msg)
    if resolved.is_dir() and not directory:
        msg = f"{what} {str(resolved)!r} is a folder; pass a file inside it"
        raise SourceError(msg)
    if not resolved.is_dir() and not resolved.is_file():
        msg = f"{what} {str(resolved)!r} is not a regular file (a device or pipe?); pass a file"
        raise SourceError(msg)
    if not os.access(resolved, os.R_OK):
        msg = f"{what} {str(resolved)!r} cannot be read: permission denied; check its permissions"
        raise SourceError(msg)
    return resolved


def file_kind(path: str | os.PathLike[str]) -> str | None:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from a path's extension (compression ignored), or
    ``None`` when the extension is none of them."""
    name = Path(path).name.lower()
    for ext in _COMPRESSED:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith((".csv", ".txt")):
        return "csv"
    return None


def source_kind(path: str | os.PathLike[str]) -> str | None:
    """How a file source is read: ``"csv"``, ``"tsv"`` or ``"parquet"`` by :func:`file_kind`,
    ``"parquet"`` for a folder not named like a CSV or TSV (a folder of Parquet files), or
    ``None`` when neither tells. A folder named like a CSV keeps ``"csv"`` and is refused as a
    folder by the reader."""
    kind = file_kind(path)
    if kind not in ("csv", "tsv") and _is_dir(path):
        return "parquet"
    return kind


def _is_dir(path: str | os.PathLike[str]) -> bool:
    try:
        return Path(path).expanduser().is_dir()
    except (RuntimeError, OSError, ValueError):  # ~unknownuser: resolve_path explains it
        return False


def looks_like_sql(text: str) -> bool:
    """Whether command-line ``text`` is a query rather than a path: an existing file or folder
    is always a path (a file may be called ``from 2024.csv``), anything else is a query when it
    starts like one (SELECT, WITH, FROM, VALUES or a parenthesis)."""
    try:
        if Path(text).expanduser().exists():
            return False
    except (RuntimeError, OSError, ValueError):
        pass
    return bool(_SQL_START.match(text))


def read_frame(
    path: str | os.PathLike[str], *, read_options: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Read a CSV, TSV (compressed or not) or Parquet file, or a folder of Parquet files, into a
    DataFrame after the checks every file source shares.

    The header is checked as written (:func:`~pytyche.data._validate.check_raw_header`) before
    pandas renames repeated names, and every read failure becomes a typed error naming the file.

    Raises
    ------
    FileNotFoundError
        Nothing exists at ``path``.
    SourceError
        The file cannot be opened (permissions, a folder, a damaged compressed file).
    SchemaViolation
        The contents cannot be parsed, or the header repeats or omits a name.
    """
    kind = source_kind(path)
    if kind is None:
        msg = (f"cannot tell the format of {str(path)!r}; use a .csv, .tsv (optionally .gz) or "
               ".parquet file")
        raise SchemaViolation(msg)
    if kind == "parquet":
        return _parquet_frame(resolve_path(path, "Parquet file", directory=True), read_options)
    return _delimited_frame(resolve_path(path, f"{kind.upper()} file"), kind, read_options)


def _delimited_frame(path: Path, kind: str, read_options: Mapping[str, Any] | None
                     ) -> pd.DataFrame:
    options = dict(read_options or {})
    options.setdefault("sep", "\t" if kind == "tsv" else ",")
    what = kind.upper()
    try:
        frame = pd.read_csv(path, **options)
        if "names" not in options and options.get("header", "infer") in ("infer", 0):
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                 sep=options["sep"], compression=options.get("compression",
                                                                             "infer"))
            check_raw_header(list(header.iloc[0]) if len(header) else [],
                             source=f"{what} file {str(path)!r}")
    except SchemaViolation:
        raise
    except PermissionError as err:
        msg = f"cannot read {str(path)!r}: permission denied; check its permissions"
        raise SourceError(msg) from err
    except (OSError, EOFError, zlib.error) as err:  # gzip that is not gzip, truncated, ...
        msg = (f"cannot read {str(path)!r} ({type(err).__name__}: {err}); the file is damaged "
               "or not what its extension says, so re-export it")
        raise SourceError(msg) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as err:
        msg = f"cannot parse {str(path)!r} as {what}: {err}; check the file or read_options"
        raise SchemaViolation(msg) from err
    return frame


def _parquet_frame(path: Path, read_options: Mapping[str, Any] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.is_dir() and not any(
            p.is_file() and not p.name.startswith((".", "_")) for p in path.rglob("*")):
        msg = (f"folder {str(path)!r} holds no Parquet files; pass the file, or the folder "
               "its part files were written to")
        raise SourceError(msg)
    try:
        names = (pq.ParquetDataset(path).schema.names if path.is_dir()
                 else pq.read_schema(path).names)
        check_raw_header(names, source=f"Parquet file {str(path)!r}")
        frame = pd.read_parquet(path, engine="pyarrow", **dict(read_options or {}))
    except SchemaViolation:
        raise
    except PermissionError as err:
        msg = f"cannot read {str(path)!r}: permission denied; check its permissions"
        raise SourceError(msg) from err
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        msg = f"cannot read {str(path)!r} as Parquet: {err}"
        raise SchemaViolation(msg) from err
    return frame


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
        The CSV file (compressed files are read by extension, as pandas does). A ``.tsv`` or
        ``.tab`` file (also compressed) is read with a tab delimiter.
    read_options : mapping, optional
        Extra keyword arguments for :func:`pandas.read_csv` (``sep``, ``dtype``, ...).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    SourceError
        ``path`` is a folder, unreadable, or a damaged compressed file.
    SchemaViolation
        The file cannot be parsed, its header repeats or omits a column name, or its
        contents fail a check of :func:`from_dataframe`.
    """
    resolved = resolve_path(path, "CSV file")
    kind = "tsv" if file_kind(resolved) == "tsv" else "csv"
    frame = _delimited_frame(resolved, kind, read_options)
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
    SourceError
        ``path`` cannot be read (permissions).
    SchemaViolation
        The file is not valid Parquet, its schema repeats a column name, or its contents fail
        a check of :func:`from_dataframe`.
    """
    frame = _parquet_frame(resolve_path(path, "Parquet file", directory=True), read_options)
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
        The query is not a single read-only SELECT, DuckDB refuses it (its message is
        included), or the result fails a check of :func:`from_dataframe`.
    """
    frame = run_query(query, con)
    if len(frame) == 0:
        msg = (
            f"the query returned no rows (columns: {list(frame.columns)[:40]}): {query!r}; check "
            "its filters and the table or files it reads"
        )
        raise SchemaViolation(msg)
    return from_dataframe(
        frame, treatment=treatment, outcome=outcome, control=control, features=features,
        visitor_id=visitor_id, metric=metric, experiment_id=experiment_id,
    )


def run_query(query: str, con: Any = None) -> pd.DataFrame:
    """Run one read-only DuckDB query (or a table / file shorthand) and return its rows.

    Only a single SELECT (``WITH``, ``FROM`` and ``VALUES`` forms included) runs: COPY,
    ATTACH, INSERT, PRAGMA, several statements and the like are refused before anything
    runs, whatever the connection. A database path is opened read-only; the result's column
    names are checked as DuckDB returns them, before pandas sees them.

    Raises
    ------
    TypeError
        ``query`` is not a string or ``con`` is of an unsupported type.
    FileNotFoundError
        ``con`` is a database path that does not exist.
    SchemaViolation
        The query is empty, not a single SELECT, refused by DuckDB (its message is included),
        returns no result set or repeats a column name.
    """
    import duckdb

    if not isinstance(query, str):
        msg = f"query={query!r} must be a SQL string, table name or file glob"
        raise TypeError(msg)
    if not query.strip():
        msg = "the SQL query is empty; pass a SELECT query, a table name or a file glob"
        raise SchemaViolation(msg)
    sql = _expand_shorthand(query.strip())
    owned = con is None or isinstance(con, str | os.PathLike)
    if con is None:
        connection = duckdb.connect()
    elif isinstance(con, str | os.PathLike):
        database = resolve_path(con, "DuckDB database file")
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
        _check_read_only(connection, sql)
        result = connection.execute(sql)
        if result.description is None:
            msg = f"the query returned no result set (is it a SELECT?): {sql!r}"
            raise SchemaViolation(msg)
        check_raw_header([d[0] for d in result.description], source="the query result")
        frame = result.df()
    except duckdb.Error as err:
        msg = f"DuckDB could not run the query {sql!r}: {err}"
        raise SchemaViolation(msg) from err
    finally:
        if owned:
            connection.close()
    return frame


def _check_read_only(connection: Any, sql: str) -> None:
    import duckdb

    statements = connection.extract_statements(sql)
    if len(statements) != 1:
        msg = (f"the SQL holds {len(statements)} statements; pytyche runs exactly one SELECT "
               f"query: {sql!r}")
        raise SchemaViolation(msg)
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        msg = (f"pytyche only runs read-only SELECT queries, and this is a "
               f"{kind.name} statement: {sql!r}; write a SELECT (or WITH ... SELECT) that "
               "returns one row per visitor")
        raise SchemaViolation(msg)


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
