"""Does the loop earn its keep? Regret against a fixed uniform split, and learning with the truth.

``test_loop_regret_beats_uniform_at_default_scale`` is the small version of the benchmark's
claim (``benchmarks/bench_loop_value.py``, table in ``benchmarks/README.md``): on
``clustered_realistic`` at the default effect scale (K = 3, revenue per visitor), four
geometric rounds from 10,000 visitors (150,000 in all), the loop's cumulative regret against
the oracle is well below that of a fixed 1/K split of the same visitors. Regret is the expected
outcome lost under the allocation each round shipped (``pytyche.analysis.loop_regret``), so
the assignment draws add no noise; what varies from seed to seed is the visitors, the outcomes
and the fits.

Tolerance, from the seed-to-seed spread: the benchmark measured the per-seed regret ratio
(loop / uniform) on this cell with mean ``BENCH_MEAN`` and standard deviation ``BENCH_SD``
over ``BENCH_SEEDS`` seeds (reduced fit, as here). The test runs ``N_SEEDS`` seeds (seeds 0 and
1 of the benchmark) and accepts a mean ratio up to ``BENCH_MEAN + z(0.99) · BENCH_SD /
sqrt(N_SEEDS)``, the benchmark's spread taken as known: a one-sided 99% bound for the mean of
``N_SEEDS`` seeds when nothing has changed, so a correct loop fails about 1% of the time. The
bound is capped at 0.9 so the test cannot pass on a loop no better than a fixed split (ratio
near 1).

``test_policy_beats_uniform_and_gap_shrinks`` (three small rounds at five times the default
effect) checks that the recommended policy learns: it beats uniform after round 3 and the
oracle gap falls from round 1.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from pytyche.errors import UncalibratedWarning
from pytyche.experiment import (
    GeometricSchedule,
    sequential_experiment,
    simulated_experiment_generator,
)

T = ["control", "treatment_1", "treatment_2"]
EFFECT_SCALE = 0.5

#: Measured by benchmarks/bench_loop_value.py (clustered_realistic, K = 3, revenue, variant
#: "v1", the shipped engine): mean and standard deviation of the per-seed regret ratio, and its
#: seed count. With this spread the 99% bound (about 0.99) exceeds the cap, so the cap decides:
#: the two seeds must lose at least 10% less than a fixed split on average.
BENCH_MEAN, BENCH_SD, BENCH_SEEDS = 0.729, 0.159, 6
N_SEEDS = 2
BOUND = min(0.9, BENCH_MEAN + stats.norm.ppf(0.99) * BENCH_SD / math.sqrt(N_SEEDS))


@pytest.mark.slow
def test_loop_regret_beats_uniform_at_default_scale():
    """Mean regret ratio over N_SEEDS seeds stays under the bound derived from the benchmark."""
    from pytyche.analysis import loop_regret
    from pytyche.bcf.config import GPUBCFConfig
    from pytyche.generators import DEFAULT_EFFECT_SCALE

    ratios = []
    for seed in range(N_SEEDS):
        gen = simulated_experiment_generator(
            template="clustered_realistic", metric="revenue_per_visitor",
            effect_scale=DEFAULT_EFFECT_SCALE, K=3, seed=seed, treatment_names=T)
        exp = sequential_experiment(
            generator=gen, schedule=GeometricSchedule(10_000, n_rounds=4), treatments=T,
            seed=seed,
            fit_config=GPUBCFConfig(num_trees_mu=50, num_trees_tau=20, num_burnin=100,
                                    num_samples=100),
            analysis_options={"n_bootstrap": 10})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            for _ in exp:
                pass
        rounds = loop_regret(exp.rounds, T)
        ratios.append(sum(r.regret for r in rounds) / sum(r.uniform_regret for r in rounds))
    assert float(np.mean(ratios)) < BOUND, (ratios, BOUND)


@pytest.mark.slow
@pytest.mark.parametrize("template", ["clustered_realistic", "reversal"])
def test_policy_beats_uniform_and_gap_shrinks(template):
    """After 3 rounds the policy beats uniform and the oracle gap fell since round 1.

    One fixed seed per template (seed 0); rounds of 1,000 / 2,000 / 4,000 visitors, 30 μ /
    10 τ trees, 100 + 100 iterations, at five times the default effect: with rounds this small
    the CATE error swamps the default-scale effects (the regret test above measures that
    scale with realistic rounds). The margins compare truth values of the same visitors, so
    no tolerance is tuned.
    """
    from pytyche.bcf.config import GPUBCFConfig

    gen = simulated_experiment_generator(template=template, metric="revenue_per_visitor",
                                         effect_scale=EFFECT_SCALE, K=3, seed=0,
                                         treatment_names=T)
    exp = sequential_experiment(
        generator=gen, schedule=GeometricSchedule(1000, n_rounds=3), treatments=T, seed=0,
        fit_config=GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=30,
                                num_trees_tau=10),
        analysis_options={"n_bootstrap": 10},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        history = [next(exp) for _ in range(3)]
    first, last = history[0].truth_comparison, history[-1].truth_comparison
    assert last.rpv_policy > last.rpv_uniform
    assert last.oracle_gap_rpv < first.oracle_gap_rpv
