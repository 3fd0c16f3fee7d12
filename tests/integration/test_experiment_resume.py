"""Kill a running experiment mid-round, resume it from its store, and get the same rounds.

The per-round fit goes through the documented `_fit_round` seam with a deterministic stand-in
posterior (the real analysis runs on it), so the test exercises the store, the process
crash and the resume path without MCMC; real fits are covered in test_experiment_fit.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd

from pytyche.errors import UncalibratedWarning

SETUP = textwrap.dedent('''
    import os, warnings
    from dataclasses import dataclass
    from typing import Any
    import numpy as np
    from pytyche.experiment import (SequentialExperiment, GeometricSchedule,
                                    simulated_experiment_generator)

    warnings.simplefilter("ignore")
    T = ["control", "treatment_1", "treatment_2"]

    @dataclass
    class FakePosterior:
        observed: Any
        treatments: Any
        metric_family: Any
        draws: Any
        calibration: Any = None
        p_samples: Any = None
        sev_samples: Any = None
        config: Any = None
        def level_samples(self):
            return self.draws
        def has_decomposition(self):
            return False

    class Fake(SequentialExperiment):
        def _fit_round(self, cumulative, round_idx):
            from pytyche.analysis import analyze
            from pytyche.data import feature_matrix
            rng = np.random.default_rng([self._seed, round_idx])
            y, z = cumulative.outcome(), cumulative.treatment_index()
            k = cumulative.n_treatments
            means = np.array([y[z == a].mean() for a in range(k)])
            draws = means + 0.05 * rng.standard_normal((30, k))
            x = feature_matrix(cumulative)[:, 0].astype(float)
            het = 1 + 0.2 * np.arange(k)[None, :] * np.tanh(x - x.mean())[:, None]
            post = FakePosterior(cumulative, cumulative.treatments, cumulative.metric_family,
                                 np.maximum(draws[None] * het[:, None], 0.0))
            return analyze(post, max_depth=2, n_bootstrap=5, bootstrap_seed=self._seed)

    def generator(die_in_round=None):
        base = simulated_experiment_generator(template="reversal",
            metric="revenue_per_visitor", effect_scale=0.3, K=3, seed=7, treatment_names=T)
        def gen(round_idx, plan):
            out = base(round_idx, plan)
            if round_idx == die_in_round:
                os._exit(3)  # the process dies after drawing round data, before committing
            return out
        return gen
''')


def test_killed_mid_round_resumes_identically(tmp_path):
    """A process killed inside round 3 resumes from its store to the uninterrupted results."""
    store = tmp_path / "store"
    script = SETUP + textwrap.dedent(f'''
        exp = Fake(generator=generator(die_in_round=2),
                   schedule=GeometricSchedule(500, n_rounds=3), treatments=T, seed=3,
                   store={str(store)!r})
        for _ in exp:
            pass
    ''')
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert (store / "round_001").is_dir() and not (store / "round_002").exists()

    namespace: dict = {}
    exec(SETUP, namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        resumed = namespace["Fake"].resume(store, generator=namespace["generator"]())
        assert resumed.current_round_idx == 2
        third = resumed.advance()
        reference = namespace["Fake"](generator=namespace["generator"](),
                                      schedule=namespace["GeometricSchedule"](500, n_rounds=3),
                                      treatments=namespace["T"], seed=3)
        ref_history = [reference.advance() for _ in range(3)]

    for restored, ref in zip(resumed.history[:2], ref_history[:2], strict=True):
        assert restored.cell_observations == ref.cell_observations
        assert restored.next_recommendation.to_dict() == ref.next_recommendation.to_dict()
        assert restored.truth_comparison == ref.truth_comparison
    ref = ref_history[2]
    assert third.cell_observations == ref.cell_observations
    assert third.truth_comparison == ref.truth_comparison
    assert third.next_recommendation.to_dict() == ref.next_recommendation.to_dict()
    pd.testing.assert_frame_equal(third.posterior.observed.visitors(),
                                  ref.posterior.observed.visitors())
    np.testing.assert_array_equal(third.posterior.level_samples(), ref.posterior.level_samples())
    assert resumed.store.n_rounds == 3
