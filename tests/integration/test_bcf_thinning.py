"""Thinning keeps exactly the draws of the unthinned chain it skips through.

Keys depend only on (seed, chain, iteration), so a fit with ``thin = 2`` runs the same chain
as one with ``thin = 1`` and twice the kept draws; it must keep every second of them. The
unthinned fit collects each block's kept draws as one contiguous slice, the thinned one by
index, so the test covers both ways the sampler hands its draws over.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pytyche.bcf import GPUBCFConfig, fit_continuous_arrays

CFG = GPUBCFConfig(num_burnin=20, num_samples=20, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)


def test_thinned_draws_are_every_other_unthinned_draw() -> None:
    from test_bcf_fit import simulate

    d = simulate("continuous", 500, 3, 0)
    every = fit_continuous_arrays(d["X"], d["z"], d["y"], seed=4, config=CFG, progress=False)
    thinned = fit_continuous_arrays(d["X"], d["z"], d["y"], seed=4, progress=False,
                                    config=dataclasses.replace(CFG, num_samples=10, thin=2))
    assert thinned.draws["cate"].shape[1] == 10
    np.testing.assert_array_equal(thinned.draws["cate"], every.draws["cate"][:, 1::2])
    np.testing.assert_array_equal(thinned.draws["mu"], every.draws["mu"][:, 1::2])
