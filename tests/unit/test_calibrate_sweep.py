"""Sweep plumbing with a fake (instant) task: file format, resume, torn lines, backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytyche.calibrate import SweepTask, read_sweep, run_sweep
from pytyche.calibrate.sbc import coverage_at

SETTINGS = {"template": "clustered_realistic", "metric": "revenue_per_visitor", "K": 3,
            "config": {"num_burnin": 5, "num_samples": 5}, "progress": False}


def fake_task(task: SweepTask) -> dict:
    """A task line built from the seed alone (no simulation, no fit)."""
    rng = np.random.default_rng([task.n_visitors, task.seed])
    seg = rng.uniform(size=8)
    arm = rng.uniform(size=2)
    cov = coverage_at(seg, task.nominal_levels)
    record = {
        "template": task.template, "metric": task.metric, "n_visitors": task.n_visitors,
        "n_treatments": task.K, "seed": task.seed, "pooling": task.pooling,
        "nominal_levels": list(task.nominal_levels), "segment_coverage": cov.tolist(),
        "arm_coverage": coverage_at(arm, task.nominal_levels).tolist(),
        "decision_correct": 1.0, "regret": 0.0,
        "segment_hits": [round(c * 8) for c in cov], "segment_total": 8,
        "fit_seconds": 0.0,
    }
    return {"kind": "result", "n_visitors": task.n_visitors, "seed": task.seed,
            "record": record, "segment_levels": seg.tolist(), "arm_levels": arm.tolist()}


class FailAfter:
    """Runs `fake_task` for the first `n` calls, then raises (an interrupted sweep)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, []

    def __call__(self, task: SweepTask) -> dict:
        if len(self.calls) >= self.n:
            msg = "interrupted"
            raise RuntimeError(msg)
        self.calls.append(task.key)
        return fake_task(task)


class Recorder:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, task: SweepTask) -> dict:
        self.calls.append(task.key)
        return fake_task(task)


class TestSweepFile:
    def test_header_records_settings_and_versions(self, tmp_path: Path) -> None:
        out = run_sweep(**SETTINGS, sizes=[100], seeds=range(3), out=tmp_path / "s.jsonl",
                        workers=0, task_fn=fake_task)
        assert out.settings["template"] == "clustered_realistic"
        assert out.settings["config"] == {"num_burnin": 5, "num_samples": 5}
        assert {"pytyche", "bartz"} <= set(out.versions)
        assert out.done == {(100, 0), (100, 1), (100, 2)}
        assert len(out.records) == 3 and out.records[0].segment_total == 8
        assert out.tail_levels("segment").shape == (24,)
        assert out.tail_levels("arm", seeds=[1]).shape == (2,)

    def test_resume_runs_only_missing_tasks(self, tmp_path: Path) -> None:
        """An interrupted sweep keeps its finished tasks; the rerun does only the rest."""
        path = tmp_path / "s.jsonl"
        flaky = FailAfter(4)
        with pytest.raises(RuntimeError, match="interrupted"):
            run_sweep(**SETTINGS, sizes=[100, 200], seeds=range(3), out=path, workers=0,
                      task_fn=flaky)
        assert len(read_sweep(path).entries) == 4
        again = Recorder()
        out = run_sweep(**SETTINGS, sizes=[100, 200], seeds=range(3), out=path, workers=0,
                        task_fn=again)
        assert again.calls == [(200, 1), (200, 2)]
        assert len(out.entries) == 6
        nothing = Recorder()
        run_sweep(**SETTINGS, sizes=[100, 200], seeds=range(3), out=path, workers=0,
                  task_fn=nothing)
        assert nothing.calls == []

    def test_torn_last_line_is_ignored_and_repaired(self, tmp_path: Path) -> None:
        """A half-written last line is dropped on read and truncated before the next append."""
        path = tmp_path / "s.jsonl"
        run_sweep(**SETTINGS, sizes=[100], seeds=range(2), out=path, workers=0,
                  task_fn=fake_task)
        full = json.dumps(fake_task(SweepTask(
            template="clustered_realistic", metric="revenue_per_visitor", K=3, n_visitors=100,
            seed=2, pooling="joint", nominal_levels=(0.5, 0.8), config={})))
        with open(path, "a") as fh:
            fh.write(full[: len(full) // 2])
        torn = read_sweep(path)
        assert torn.dropped_torn_line and len(torn.entries) == 2
        rec = Recorder()
        out = run_sweep(**SETTINGS, sizes=[100], seeds=range(3), out=path, workers=0,
                        task_fn=rec)
        assert rec.calls == [(100, 2)]
        assert not out.dropped_torn_line and len(out.entries) == 3

    def test_corrupt_middle_line_raises(self, tmp_path: Path) -> None:
        path = tmp_path / "s.jsonl"
        run_sweep(**SETTINGS, sizes=[100], seeds=range(2), out=path, workers=0,
                  task_fn=fake_task)
        lines = path.read_text().splitlines()
        lines[1] = lines[1][:10]
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match="line 2"):
            read_sweep(path)

    def test_other_settings_refuse_to_resume(self, tmp_path: Path) -> None:
        path = tmp_path / "s.jsonl"
        run_sweep(**SETTINGS, sizes=[100], seeds=[0], out=path, workers=0, task_fn=fake_task)
        with pytest.raises(ValueError, match="K: file has 3, this run 4"):
            run_sweep(**{**SETTINGS, "K": 4}, sizes=[100], seeds=[0], out=path, workers=0,
                      task_fn=fake_task)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"backend": "dask"}, "backend='dask'"), ({"seeds": []}, "at least one"),
         ({"nominal_levels": (0.9, 0.5)}, "increasing levels"), ({"workers": -1}, "workers=-1")],
    )
    def test_bad_arguments(self, tmp_path: Path, kwargs: dict, match: str) -> None:
        args = {**SETTINGS, "sizes": [100], "seeds": [0], "out": tmp_path / "s.jsonl",
                "workers": 0, "task_fn": fake_task, **kwargs}
        with pytest.raises(ValueError, match=match):
            run_sweep(**args)


class TestBackends:
    def test_process_pool(self, tmp_path: Path) -> None:
        """The spawn-context pool runs the same task function in a worker process."""
        out = run_sweep(**SETTINGS, sizes=[100], seeds=range(3), out=tmp_path / "p.jsonl",
                        workers=1, task_fn=fake_task)
        assert out.done == {(100, 0), (100, 1), (100, 2)}


class TestRunCalibrate:
    def test_sweep_to_artifact(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """run_calibrate (the CLI's entry point) sweeps, fits and saves a loadable artifact."""
        import pytyche.calibrate.workflow as workflow
        from pytyche.calibrate import Calibration, run_calibrate

        real = workflow.run_sweep
        monkeypatch.setattr(workflow, "run_sweep",
                            lambda **kw: real(**{**kw, "workers": 0, "task_fn": fake_task}))
        cal = run_calibrate(sweep=tmp_path / "s.jsonl", artifact=tmp_path / "a.json",
                            sizes=(100, 200), seeds=20, config={"num_burnin": 5},
                            progress=False)
        assert cal.name == "a" and cal.provenance["n_fits"] == 40
        assert Calibration.from_sweep(tmp_path / "a.json") == cal
        # uniform fake tail levels are calibrated: the correction is close to the identity
        assert cal.adjust_level(0.8) == pytest.approx(0.8, abs=0.06)

    def test_seeds_per_size_and_one_correction_per_size(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A seeds mapping runs each size with its own seeds; the artifact keeps a correction
        per size (fake tail levels are uniform, so every one is near the identity)."""
        import pytyche.calibrate.workflow as workflow
        from pytyche.calibrate import Calibration, run_calibrate

        real = workflow.run_sweep
        monkeypatch.setattr(workflow, "run_sweep",
                            lambda **kw: real(**{**kw, "workers": 0, "task_fn": fake_task}))
        cal = run_calibrate(sweep=tmp_path / "s.jsonl", artifact=tmp_path / "a.json",
                            sizes=(100, 200), seeds={100: 30, 200: range(5, 25)},
                            config={"num_burnin": 5}, progress=False)
        assert cal.provenance["n_fits"] == 50 and cal.sizes == (100, 200)
        done = read_sweep(tmp_path / "s.jsonl").done
        assert {s for n, s in done if n == 200} == set(range(5, 25))
        assert Calibration.from_sweep(tmp_path / "a.json").by_size == cal.by_size
        assert cal.for_size(150).adjust_level(0.8) == pytest.approx(0.8, abs=0.08)
        with pytest.raises(ValueError, match="give seeds for a size"):
            run_calibrate(sweep=tmp_path / "t.jsonl", sizes=(100,), seeds={300: 5},
                          progress=False)
