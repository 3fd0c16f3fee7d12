"""run_sweep(backend="ray") on a local Ray instance (Ray is a dev dependency: missing, it fails)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pytyche.calibrate import SweepTask, run_sweep
from pytyche.calibrate.sbc import coverage_at

SETTINGS = {"template": "clustered_realistic", "metric": "revenue_per_visitor", "K": 3,
            "config": {"num_burnin": 5, "num_samples": 5}, "progress": False}


def fake_task(task: SweepTask) -> dict:
    """A task line built from the seed alone (no simulation, no fit)."""
    seg = np.random.default_rng([task.n_visitors, task.seed]).uniform(size=4)
    cov = coverage_at(seg, task.nominal_levels).tolist()
    record = {
        "template": task.template, "metric": task.metric, "n_visitors": task.n_visitors,
        "n_treatments": task.K, "seed": task.seed, "pooling": task.pooling,
        "nominal_levels": list(task.nominal_levels), "segment_coverage": cov,
        "arm_coverage": cov, "decision_correct": 1.0, "regret": 0.0,
    }
    return {"kind": "result", "n_visitors": task.n_visitors, "seed": task.seed,
            "record": record, "segment_levels": seg.tolist(), "arm_levels": seg.tolist()}


class TestRayBackend:
    # Ray starts its processes with fork+exec after JAX loaded: harmless here
    @pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")
    def test_ray_local(self, tmp_path: Path) -> None:
        """backend='ray' on a local one-CPU Ray instance fills the same file as in-process."""
        import ray  # a dev dependency: a missing Ray fails here rather than skipping
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        try:
            out = run_sweep(**SETTINGS, sizes=[100], seeds=range(3), out=tmp_path / "r.jsonl",
                            backend="ray", task_fn=fake_task)
        finally:
            ray.shutdown()
        assert out.done == {(100, 0), (100, 1), (100, 2)}
        local = run_sweep(**SETTINGS, sizes=[100], seeds=range(3), out=tmp_path / "l.jsonl",
                          workers=0, task_fn=fake_task)
        assert sorted(out.records, key=lambda r: r.seed) == list(local.records)
