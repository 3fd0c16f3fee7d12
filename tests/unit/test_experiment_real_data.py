"""Real-data mode: reading rounds from files or SQL, validating them, exporting plans."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from pytyche.data import feature_schema
from pytyche.errors import SchemaViolation, StoreError, UncalibratedWarning
from pytyche.experiment import (
    ExperimentStore,
    FixedSchedule,
    cold_start_plan,
    export_assignment,
    export_policy_rules,
    real_data_generator,
    validate_round_data,
)
from pytyche.experiment.store import truth_from_files, truth_to_files

T = ["control", "a", "b"]


def platform_round(plan, n=600, seed=0) -> pd.DataFrame:
    """What an operator's platform would log: features, cell, treatment, revenue."""
    rng = np.random.default_rng(seed)
    visitors = pd.DataFrame({"x": rng.normal(size=n), "device": rng.choice(["m", "d"], n)})
    assigned = export_assignment(plan, visitors, seed=seed)
    lift = assigned["treatment"].map({"control": 0.0, "a": 0.5, "b": -0.2}).to_numpy()
    buy = rng.random(n) < 0.3
    assigned["revenue"] = np.where(buy, np.exp(rng.normal(1 + lift, 0.3)), 0.0)
    return assigned


class TestExport:
    def test_assignment_follows_plan(self):
        """Cells follow the weights exactly; Control only gets control."""
        plan = cold_start_plan(T)
        out = platform_round(plan, n=1000)
        assert (out["cell"] == "control").sum() == 500
        assert set(out.loc[out["cell"] == "control", "treatment"]) == {"control"}
        assert set(out.loc[out["cell"] == "explore", "treatment"]) == set(T)

    def test_policy_rules_json_and_sql(self):
        """The plan exports as JSON-ready rules and as SQL text."""
        plan = cold_start_plan(T)
        doc = export_policy_rules(plan)
        json.dumps(doc)
        assert [c["policy"]["type"] for c in doc["cells"]] == ["baseline", "uniform"]
        sql = export_policy_rules(plan, format="sql")
        assert "cell 'control'" in sql and "uniform" in sql


class TestValidate:
    def test_unknown_cell_named_by_row(self):
        """A row labelled with a cell outside the plan is reported by its label."""
        plan = cold_start_plan(T)
        frame = platform_round(plan)
        frame.loc[7, "cell"] = "rogue"
        with pytest.raises(SchemaViolation, match=r"rows 7 .*rogue"):
            validate_round_data(frame, plan, treatment="treatment")

    def test_treatment_the_cell_never_gives(self):
        """A Control-cell visitor who got a treatment breaks the plan."""
        plan = cold_start_plan(T)
        frame = platform_round(plan)
        row = frame.index[frame["cell"] == "control"][0]
        frame.loc[row, "treatment"] = "a"
        with pytest.raises(SchemaViolation, match=f"rows {row} are in cell 'control'"):
            validate_round_data(frame, plan, treatment="treatment")

    def test_treatment_outside_plan(self):
        """A treatment that is not active in the plan is refused."""
        plan = cold_start_plan(T)
        frame = platform_round(plan)
        frame.loc[3, "treatment"] = "zzz"
        with pytest.raises(SchemaViolation, match="outside the plan"):
            validate_round_data(frame, plan, treatment="treatment")


class TestGenerator:
    def test_parquet_pattern(self, tmp_path):
        """A {round} file pattern is read, validated and converted."""
        plan = cold_start_plan(T, n_visitors=600)
        platform_round(plan).to_parquet(tmp_path / "round_0.parquet")
        gen = real_data_generator(str(tmp_path / "round_{round}.parquet"), treatment="treatment",
                                  outcome="revenue", metric="revenue_per_visitor")
        observed, truth = gen(0, plan)
        assert truth is None and observed.treatments == tuple(T)
        assert "cell" in observed.variants[0].visitors.columns
        assert set(feature_schema(observed).features) == {"x", "device"}

    def test_duckdb_query(self, tmp_path):
        """A SQL source runs through DuckDB with {round} substituted."""
        plan = cold_start_plan(T, n_visitors=600)
        frame = platform_round(plan).assign(round_no=0)
        frame.to_csv(tmp_path / "visits.csv", index=False)
        query = (f"SELECT * EXCLUDE (round_no) FROM read_csv_auto('{tmp_path / 'visits.csv'}') "
                 "WHERE round_no = {round}")
        gen = real_data_generator(query, treatment="treatment", outcome="revenue",
                                  metric="revenue_per_visitor")
        observed, _ = gen(0, plan)
        assert observed.n_visitors == 600

    def test_loop_on_csv_rounds(self, tmp_path):
        """Two real-data rounds run through the loop; the second round follows the new plan."""
        from test_experiment_loop import FakeFitExperiment

        gen = real_data_generator(str(tmp_path / "r{round}.csv"), treatment="treatment",
                                  outcome="revenue", metric="revenue_per_visitor")
        exp = FakeFitExperiment(generator=gen, schedule=FixedSchedule(600, 2), treatments=T,
                                store=tmp_path / "store")
        platform_round(cold_start_plan(T), seed=0).to_csv(tmp_path / "r0.csv", index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            first = exp.advance()
            assert first.truth_comparison is None
            platform_round(exp.next_recommendation, seed=1).to_csv(tmp_path / "r1.csv",
                                                                   index=False)
            second = exp.advance()
        assert [c.id for c in second.cells_shipped] == ["control", "explore", "optimized"]
        probs = exp.cumulative_data().propensities()  # over the universe, whatever was dropped
        assert probs is not None and probs.shape == (1200, 3)
        np.testing.assert_allclose(probs.sum(axis=1), 1)
        rules = export_policy_rules(exp.next_recommendation)
        assert rules["cells"][2]["policy"]["type"] == "segments"
        assert "CASE" in export_policy_rules(exp.next_recommendation, format="sql")


class TestStore:
    def test_foreign_directory(self, tmp_path):
        """A directory without a manifest, or with someone else's, is not a store."""
        with pytest.raises(StoreError, match="not a pytyche experiment store"):
            ExperimentStore.open(tmp_path)
        (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
        with pytest.raises(StoreError, match="format"):
            ExperimentStore.open(tmp_path)
        (tmp_path / "manifest.json").write_text("{not json")
        with pytest.raises(StoreError, match="corrupted"):
            ExperimentStore.open(tmp_path)

    def test_version_and_order(self, tmp_path):
        """Another layout version is refused; a fresh store opens with zero rounds."""
        store = ExperimentStore.create(tmp_path / "s", {"treatments": T})
        assert ExperimentStore.open(tmp_path / "s").n_rounds == 0 and store.config["treatments"]
        manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
        manifest["version"] = 99
        (tmp_path / "s" / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(StoreError, match="version"):
            ExperimentStore.open(tmp_path / "s")

    def test_no_temp_files_left(self, tmp_path):
        """Atomic writes leave no temporary files behind."""
        ExperimentStore.create(tmp_path / "s", {})
        assert [p.name for p in (tmp_path / "s").iterdir()] == ["manifest.json"]

    def test_truth_roundtrip(self):
        """A K >= 3 truth survives its file form."""
        from pytyche.experiment import cold_start_plan as _plan
        from pytyche.experiment import simulated_experiment_generator

        gen = simulated_experiment_generator(template="constant", metric="revenue_per_visitor",
                                             effect_scale=0.1, K=3, treatment_names=T)
        _, truth = gen(0, _plan(T, n_visitors=200))
        meta, arrays = truth_to_files(truth)
        again = truth_from_files(json.loads(json.dumps(meta)), arrays)
        np.testing.assert_array_equal(again.cate_matrix(), truth.cate_matrix())
        np.testing.assert_array_equal(again.potential_outcomes.values,
                                      truth.potential_outcomes.values)
