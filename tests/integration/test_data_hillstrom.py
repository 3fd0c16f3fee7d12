"""``pytyche.data`` on the real Hillstrom e-mail campaign (64,000 customers, 3 arms), read from
the copy shipped in ``pytyche.datasets``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pytyche.data import encode_new_visitors, feature_matrix, read_csv, read_parquet, read_sql
from pytyche.datasets import hillstrom_path

#: The copy the package ships (gzipped CSV), so the tests run in a fresh clone; a missing file
#: is a packaging bug and fails here rather than skipping.
HILLSTROM = Path(hillstrom_path())
ARMS = ("No E-Mail", "Mens E-Mail", "Womens E-Mail")
FEATURES = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
            "channel"]
KEYS = {"treatment": "segment", "control": "No E-Mail", "features": FEATURES}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The CSV as pandas reads it."""
    return pd.read_csv(HILLSTROM)


@pytest.fixture(scope="module")
def spend():
    """Hillstrom loaded with spend as the outcome."""
    return read_csv(HILLSTROM, outcome="spend", **KEYS)


class TestReadCsv:
    def test_arms_and_size(self, spend):
        """Three variants, control first, 64,000 visitors, revenue metric."""
        assert spend.treatments == ARMS
        assert spend.n_visitors == 64_000
        assert spend.metric == "revenue_per_visitor"

    def test_arm_means(self, spend, raw):
        """Per-arm mean spend equals the pandas groupby mean."""
        means = raw.groupby("segment")["spend"].mean()
        for variant in spend.variants:
            mean = variant.total_revenue / variant.n_visitors
            assert mean == pytest.approx(means[variant.name], rel=1e-12)

    @pytest.mark.parametrize("outcome", ["conversion", "visit"])
    def test_binary_outcomes(self, outcome):
        """conversion and visit read as conversion_rate."""
        assert read_csv(HILLSTROM, outcome=outcome, **KEYS).metric == "conversion_rate"

    def test_schema(self, spend):
        """Categoricals get sorted levels, 0/1 columns are binary, amounts continuous."""
        schema = spend.schema
        assert schema.categories["zip_code"] == ("Rural", "Surburban", "Urban")
        assert schema.categories["channel"] == ("Multichannel", "Phone", "Web")
        assert schema.categories["history_segment"][0] == "1) $0 - $100"
        assert {schema.kinds[c] for c in ("mens", "womens", "newbie")} == {"binary"}
        assert schema.kinds["history"] == schema.kinds["recency"] == "continuous"

    def test_encoding_consistent(self, spend, raw):
        """Encoding raw rows gives the codes stored for the loaded visitors."""
        matrix = feature_matrix(spend)
        control = raw[raw["segment"] == "No E-Mail"].head(50)
        np.testing.assert_array_equal(encode_new_visitors(spend, control), matrix[:50])
        zip_col = FEATURES.index("zip_code")
        codes = {"Rural": 0.0, "Surburban": 1.0, "Urban": 2.0}
        np.testing.assert_array_equal(matrix[:50, zip_col], control["zip_code"].map(codes))

    def test_default_features(self):
        """features=None takes every other column (post-treatment ones included)."""
        data = read_csv(HILLSTROM, treatment="segment", outcome="spend", control="No E-Mail")
        assert data.schema.features == (*FEATURES, "visit", "conversion")


class TestOtherSources:
    def test_parquet(self, tmp_path, raw, spend):
        """Parquet loads the same arms, sums and schema as the CSV."""
        path = tmp_path / "hillstrom.parquet"
        raw.to_parquet(path)
        data = read_parquet(path, outcome="spend", **KEYS)
        assert data.schema == spend.schema
        assert [v.total_revenue for v in data.variants] == pytest.approx(
            [v.total_revenue for v in spend.variants]
        )

    def test_sql_over_csv(self, spend):
        """A DuckDB query over the CSV loads the same data."""
        data = read_sql(f"SELECT * FROM read_csv('{HILLSTROM}')", outcome="spend", **KEYS)
        assert data.schema == spend.schema
        np.testing.assert_array_equal(feature_matrix(data), feature_matrix(spend))
        np.testing.assert_allclose(data.outcome(), spend.outcome())

    def test_sql_over_parquet_glob(self, tmp_path, raw, spend):
        """A glob over two Parquet files reads all visitors."""
        raw.iloc[:30_000].to_parquet(tmp_path / "round_0.parquet")
        raw.iloc[30_000:].to_parquet(tmp_path / "round_1.parquet")
        query = f"SELECT * FROM read_parquet('{tmp_path}/round_*.parquet')"
        data = read_sql(query, outcome="spend", **KEYS)
        assert data.n_visitors == 64_000
        assert [v.n_visitors for v in data.variants] == [v.n_visitors for v in spend.variants]

    def test_sql_database_file(self, tmp_path, spend):
        """A DuckDB database file holding the table loads the same visitors."""
        db = tmp_path / "hillstrom.duckdb"
        with duckdb.connect(str(db)) as con:
            con.execute(f"CREATE TABLE visitors AS SELECT * FROM read_csv('{HILLSTROM}')")
        data = read_sql("visitors", db, outcome="conversion", **KEYS)
        assert data.n_visitors == 64_000
        assert data.metric == "conversion_rate"
        assert data.schema.categories == spend.schema.categories
