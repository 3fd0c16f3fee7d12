"""Error rates and coverage of the design-based decisions, at small scale.

The full battery is ``benchmarks/bench_decisions.py``; these checks keep its claims from
regressing. Every seed is fixed. Tolerances are binomial: for a claimed rate p over m
independent experiments the test fails only at a count whose probability under p is about 1%
or less (stated per test), so a correct engine fails a check about once in a hundred runs and
a broken one (rates of 10% and more, the old model-based gates) fails it almost surely.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _analysis_fits import fit_observed
from scipy.stats import binom

from pytyche.analysis import analyze
from pytyche.analysis._inference import bootstrap_effects, sequence_effects
from pytyche.contracts import Decision
from pytyche.generators import simulate

pytestmark = pytest.mark.slow

#: Null experiments per metric; K = 3 so each experiment makes 4 directional claims.
NULL_SEEDS = 12
NULL_N = 1500
#: A small sampler: the decisions' error control comes from the design, not from the fit.
TINY = {"num_trees_mu": 20, "num_trees_tau": 8, "num_burnin": 60, "num_samples": 60}
METRICS = ("revenue_per_visitor", "conversion_rate", "continuous")


def largest_allowed(m: int, p: float, tail: float = 0.012) -> int:
    """Largest count still accepted: P(X > k) <= ``tail`` for X ~ Binomial(m, p)."""
    return int(binom.isf(tail, m, p))


@pytest.fixture(scope="module")
def null_runs():
    """One design-based analysis per (metric, seed) of the null template (no effect)."""
    runs = []
    for metric in METRICS:
        for seed in range(NULL_SEEDS):
            bundle = simulate("null", n_visitors=NULL_N, metric=metric, K=3, seed=500 + seed)
            post = fit_observed(bundle.observed, seed=seed, **TINY)
            runs.append(analyze(post, n_bootstrap=0, level=0.90, seed=seed))
    return runs


def test_null_family_wise_false_ship(null_runs) -> None:
    """No treatment helps: some treatment SHIPped in at most the 5% family-wise rate.

    36 experiments (3 metrics x 12 seeds) at a true rate of exactly 5%: more than 5 SHIPs
    has probability 0.8%, so the check fails above 5. A rate of 25% (the model-based gates
    SHIPped in 23-60% of such experiments) fails it with probability 0.9."""
    shipped = sum(any(r.decision == Decision.SHIP for r in res.recommendations.values())
                  for res in null_runs)
    allowed = largest_allowed(len(null_runs), 0.05)
    assert shipped <= allowed, f"SHIP in {shipped} of {len(null_runs)} null experiments"


def test_null_family_wise_false_harm(null_runs) -> None:
    """No treatment harms: some treatment STOPped on the harm gate in at most 5% (same
    derivation as above: fail above 5 of 36)."""
    harmed = sum(any(r.gate == "harm" for r in res.recommendations.values())
                 for res in null_runs)
    assert harmed <= largest_allowed(len(null_runs), 0.05), (
        f"STOP (harm) in {harmed} of {len(null_runs)} null experiments")


def test_null_interval_coverage(null_runs) -> None:
    """90% intervals of each arm's average effect cover the true 0: 72 intervals, failing
    below the count whose lower tail is 1.2% under a true 90% (59) and, to catch over-wide
    intervals, above the count whose upper tail is 1.2% (70). Intervals of one experiment share
    its control arm, which widens the spread a little; the band allows for it."""
    covered = [c.effect_ci[0] <= 0.0 <= c.effect_ci[1]
               for res in null_runs for c in res.comparisons if c.segment_id is None]
    m = len(covered)
    low = int(binom.ppf(0.012, m, 0.90))
    high = int(binom.isf(0.012, m, 0.90))
    assert low <= sum(covered) <= high, f"{sum(covered)} of {m} covered; band [{low}, {high}]"


def test_covariate_adjustment_tightens() -> None:
    """With a prognostic feature, the cross-fitted AIPW interval is narrower than the
    difference in means' (covariate adjustment adds power): the mean width ratio over 5 seeds
    is below 1 by more than twice its standard error."""
    ratios = []
    for seed in range(5):
        bundle = simulate("constant", n_visitors=NULL_N, metric="continuous", K=2,
                          seed=700 + seed)
        post = fit_observed(bundle.observed, seed=seed, **TINY)
        res = analyze(post, n_bootstrap=0, seed=seed)
        y, arm = bundle.observed.outcome(), bundle.observed.treatment_index()
        dim_se = math.sqrt(y[arm == 1].var(ddof=1) / (arm == 1).sum()
                           + y[arm == 0].var(ddof=1) / (arm == 0).sum())
        ratios.append(res.comparisons[0].se / dim_se)
    mean, se = float(np.mean(ratios)), float(np.std(ratios, ddof=1) / math.sqrt(len(ratios)))
    assert mean + 2 * se < 1.0, f"AIPW / difference-in-means se ratio {mean:.3f} ± {se:.3f}"


def test_bootstrap_t_covers_skewed_revenue() -> None:
    """Mostly-zero, log-normal revenue (5% converters, 1,500 visitors): the bootstrap-t 90%
    interval of the mean covers in 300 repetitions within the band whose tails are 1.2%."""
    rng = np.random.default_rng(11)
    truth = 0.05 * math.exp(3.0 + 0.5)
    # 300 independent experiments as the columns of one call (one resampling matrix).
    y = (rng.uniform(size=(1500, 300)) < 0.05) * rng.lognormal(3.0, 1.0, (1500, 300))
    effects = bootstrap_effects(y, np.ones_like(y, bool), np.zeros_like(y), n_draws=1000,
                                seed=0)
    hits = sum(low <= truth <= high for low, high in (e.interval(0.90) for e in effects))
    band = (int(binom.ppf(0.012, 300, 0.9)), int(binom.isf(0.012, 300, 0.9)))
    assert band[0] <= hits <= band[1], f"{hits} of 300 covered; band {band}"


def test_confidence_sequence_is_time_uniform() -> None:
    """Five looks at a growing, skewed stream (1k → 16k): the 95% confidence sequence excludes
    the true mean at some look in at most 5% of 400 streams (fail above the count whose tail
    is 1.2%), where five fixed-n 95% intervals would miss in about 14%."""
    rng = np.random.default_rng(12)
    looks = (1000, 2000, 4000, 8000, 16000)
    truth = 0.1 * math.exp(0.5)
    missed = 0
    for _ in range(400):
        stream = (rng.uniform(size=looks[-1]) < 0.1) * rng.lognormal(0.0, 1.0, looks[-1])
        ever = False
        for t in looks:
            d = stream[:t, None]
            (inf,) = sequence_effects(d, np.ones_like(d, bool), np.zeros_like(d),
                                      t_star=looks[0], grid=200)
            low, high = inf.interval(0.95)
            ever |= not (low <= truth <= high)
        missed += ever
    assert missed <= largest_allowed(400, 0.05), f"missed at some look in {missed} of 400"
