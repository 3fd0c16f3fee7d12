"""Tests of ``pytyche.data.read_csv``, ``read_parquet`` and ``read_sql`` on small files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from _data_helpers import visitor_frame

from pytyche.data import (
    feature_matrix,
    from_dataframe,
    read_csv,
    read_parquet,
    read_sql,
    source_kind,
)
from pytyche.errors import SchemaViolation

KEYS = {"treatment": "arm", "outcome": "revenue", "control": "A",
        "features": ["age", "score", "returning", "device"]}


@pytest.fixture
def frame() -> pd.DataFrame:
    """A small well-formed visitor frame (bool column dropped: CSV has no bool dtype)."""
    return visitor_frame(n=90).drop(columns=["member"])


@pytest.fixture
def expected(frame):
    """What from_dataframe makes of the frame."""
    return from_dataframe(frame, **KEYS)


def assert_same(data, expected) -> None:
    """Two loads agree on arms, metric, schema, outcomes and encoded features."""
    assert data.treatments == expected.treatments
    assert data.metric == expected.metric
    assert data.schema == expected.schema
    np.testing.assert_allclose(data.outcome(), expected.outcome())
    np.testing.assert_array_equal(feature_matrix(data), feature_matrix(expected))


class TestSourceKind:
    def test_by_extension(self, tmp_path: Path) -> None:
        """A file's kind is its extension's, compression ignored; an unknown one is None."""
        assert [source_kind(tmp_path / n) for n in ("a.csv.gz", "a.tsv", "a.pq", "a.xlsx")] == [
            "csv", "tsv", "parquet", None]

    def test_folder(self, tmp_path: Path) -> None:
        """A folder reads as Parquet part files unless it is named like a CSV or TSV."""
        for name in ("parts", "parts.parquet", "rounds.csv"):
            (tmp_path / name).mkdir()
        kinds = [source_kind(tmp_path / n) for n in ("parts", "parts.parquet", "rounds.csv")]
        assert kinds == ["parquet", "parquet", "csv"]

    def test_unknown_user_is_not_a_folder(self) -> None:
        """``~nosuchuser/x`` is no folder (the reader explains the path), never a RuntimeError."""
        assert source_kind("~pytyche_no_such_user/x") is None


class TestReadCsv:
    def test_matches_from_dataframe(self, tmp_path, frame, expected):
        """A CSV round trip loads the same data as the frame itself."""
        path = tmp_path / "v.csv"
        frame.to_csv(path, index=False)
        assert_same(read_csv(path, **KEYS), expected)

    def test_read_options(self, tmp_path, frame, expected):
        """read_options reach pandas.read_csv."""
        path = tmp_path / "v.tsv"
        frame.to_csv(path, index=False, sep="\t")
        assert_same(read_csv(str(path), read_options={"sep": "\t"}, **KEYS), expected)

    def test_missing_file(self, tmp_path):
        """A missing file is a FileNotFoundError naming the path."""
        with pytest.raises(FileNotFoundError, match=r"nope.csv"):
            read_csv(tmp_path / "nope.csv", **KEYS)

    def test_empty_file(self, tmp_path):
        """An empty file is a SchemaViolation."""
        path = tmp_path / "empty.csv"
        path.write_text("")
        with pytest.raises(SchemaViolation, match=r"cannot parse"):
            read_csv(path, **KEYS)

    def test_bad_content(self, tmp_path, frame):
        """Content errors surface from from_dataframe."""
        path = tmp_path / "v.csv"
        frame.assign(arm="A").to_csv(path, index=False)
        with pytest.raises(SchemaViolation, match=r"single level"):
            read_csv(path, **KEYS)


class TestReadParquet:
    def test_matches_from_dataframe(self, tmp_path, frame, expected):
        """A Parquet round trip loads the same data as the frame itself."""
        path = tmp_path / "v.parquet"
        frame.to_parquet(path)
        assert_same(read_parquet(path, **KEYS), expected)

    def test_missing_file(self, tmp_path):
        """A missing file is a FileNotFoundError naming the path."""
        with pytest.raises(FileNotFoundError, match=r"nope.parquet"):
            read_parquet(tmp_path / "nope.parquet", **KEYS)

    def test_not_parquet(self, tmp_path):
        """A file that is not Parquet is a SchemaViolation."""
        path = tmp_path / "v.parquet"
        path.write_text("arm,revenue\nA,1\n")
        with pytest.raises(SchemaViolation, match=r"as Parquet"):
            read_parquet(path, **KEYS)


class TestReadSql:
    def test_query_over_csv(self, tmp_path, frame, expected):
        """A query over a CSV file (in-memory DuckDB) loads the same data."""
        path = tmp_path / "v.csv"
        frame.to_csv(path, index=False)
        assert_same(read_sql(f"SELECT * FROM read_csv('{path}')", **KEYS), expected)

    def test_parquet_glob_shorthand(self, tmp_path, frame, expected):
        """A bare Parquet glob reads every matching file."""
        (tmp_path / "rounds").mkdir()
        frame.iloc[:40].to_parquet(tmp_path / "rounds" / "r0.parquet")
        frame.iloc[40:].to_parquet(tmp_path / "rounds" / "r1.parquet")
        data = read_sql(str(tmp_path / "rounds" / "*.parquet"), **KEYS)
        assert data.n_visitors == len(frame)
        assert data.treatments == expected.treatments
        assert [v.total_revenue for v in data.variants] == pytest.approx(
            [v.total_revenue for v in expected.variants]
        )

    def test_connection_and_table_shorthand(self, frame, expected):
        """An open connection is used (and left open); a bare table name selects the table."""
        con = duckdb.connect()
        con.register("frame_view", frame)
        con.execute("CREATE TABLE visitors AS SELECT * FROM frame_view")
        assert_same(read_sql("visitors", con, **KEYS), expected)
        assert con.execute("SELECT count(*) FROM visitors").fetchone() == (len(frame),)
        con.close()

    def test_database_file(self, tmp_path, frame, expected):
        """A database path is opened read-only and queried."""
        db = tmp_path / "exp.duckdb"
        with duckdb.connect(str(db)) as con:
            con.register("frame_view", frame)
            con.execute("CREATE TABLE visitors AS SELECT * FROM frame_view")
        data = read_sql("SELECT * FROM visitors WHERE arm IN ('A', 'B')", db, **KEYS)
        assert data.treatments == ("A", "B")
        assert data.n_visitors == int(frame["arm"].isin(["A", "B"]).sum())

    def test_bad_sql(self):
        """Bad SQL is a SchemaViolation quoting DuckDB's message."""
        with pytest.raises(SchemaViolation, match=r"DuckDB could not run.*(?i:syntax)"):
            read_sql("SELEC * FROM nowhere", **KEYS)

    def test_unknown_table(self):
        """An unknown table is a SchemaViolation."""
        with pytest.raises(SchemaViolation, match=r"no_such_table"):
            read_sql("no_such_table", **KEYS)

    def test_glob_without_files(self, tmp_path):
        """A glob matching no file is a SchemaViolation."""
        with pytest.raises(SchemaViolation, match=r"DuckDB could not run"):
            read_sql(str(tmp_path / "none" / "*.parquet"), **KEYS)

    def test_missing_database(self, tmp_path):
        """A database path that does not exist is refused rather than created."""
        path = tmp_path / "missing.duckdb"
        with pytest.raises(FileNotFoundError, match=r"missing.duckdb"):
            read_sql("visitors", path, **KEYS)
        assert not Path(path).exists()

    def test_statement_without_result(self):
        """A statement that is not a SELECT is refused before it runs."""
        with pytest.raises(SchemaViolation, match=r"only runs read-only SELECT.*CREATE"):
            read_sql("CREATE TABLE t (x INTEGER)", **KEYS)

    def test_empty_result(self, tmp_path, frame):
        """A query selecting no rows is refused with the query quoted."""
        path = tmp_path / "v.parquet"
        frame.to_parquet(path)
        with pytest.raises(SchemaViolation, match=r"returned no rows.*arm = 'Z'"):
            read_sql(f"SELECT * FROM '{path}' WHERE arm = 'Z'", **KEYS)

    def test_bad_connection_type(self):
        """A connection of the wrong type is a TypeError."""
        with pytest.raises(TypeError, match=r"duckdb connection"):
            read_sql("SELECT 1", con=42, **KEYS)
