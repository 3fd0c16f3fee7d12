"""VisitorDraws: the sampler's draw blocks gathered visitors first, converted once."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from pytyche.bcf._draws import Scale, VisitorDraws, outcome_draws, outcome_draws_from

S, K = 12, 3


def _model_units(n: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(S, k, n)).astype(np.float32)
    tau = (0.3 * rng.normal(size=(S, K - 1, k, n))).astype(np.float32)
    sigma = (0.5 + rng.uniform(size=S)).astype(np.float32)
    return mu, tau, sigma


def _pad(a: np.ndarray, rows: int = 7) -> np.ndarray:
    return np.concatenate([a, np.full((*a.shape[:-1], rows), 9.0, a.dtype)], axis=-1)


@pytest.mark.parametrize(("kind", "k"), [("continuous", 1), ("binary", 1), ("hurdle", 2)])
def test_blocks_in_any_order_give_the_array_conversion(kind, k) -> None:
    """Blocks of padded rows, added out of order (as chains of several devices finish), and
    split over several row chunks, give exactly what the whole arrays give."""
    n = 1000
    mu, tau, sigma = _model_units(n, k)
    scale = Scale(kind, 0.4, 1.3)
    expected = outcome_draws(scale, mu, tau, sigma)
    draws = VisitorDraws(n, S, k, K, chunk_rows=300)
    for start, stop in ((5, 12), (0, 5)):
        draws.add(start, _pad(mu[start:stop]), _pad(tau[start:stop]))
    got = outcome_draws_from(scale, draws, sigma)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_round_trip_to_arrays() -> None:
    mu, tau, _ = _model_units(500, 2)
    back = VisitorDraws.from_arrays(mu, tau).to_arrays()
    np.testing.assert_array_equal(back[0], mu)
    np.testing.assert_array_equal(back[1], tau)


def test_draws_are_read_once() -> None:
    """Converting releases the model units; reading or adding again is an error, not a
    silent second copy."""
    mu, tau, sigma = _model_units(100, 1)
    draws = VisitorDraws.from_arrays(mu, tau)
    outcome_draws_from(Scale("continuous"), draws, sigma)
    assert all(chunk is None for chunk in draws.chunks)
    with pytest.raises(RuntimeError, match="already converted"):
        outcome_draws_from(Scale("continuous"), draws, sigma)
    with pytest.raises(RuntimeError, match="after their conversion"):
        draws.add(0, mu, tau)


def test_conversion_releases_the_model_units_as_it_goes(monkeypatch) -> None:
    """While row chunk i is converted, chunks 0..i-1 are already freed: the model units
    shrink as the outcome-scale draws fill (their pages are only resident once written), so
    the two are never both whole in memory."""
    from pytyche.bcf import _draws

    mu, tau, sigma = _model_units(1000, 2)
    draws = VisitorDraws(1000, S, 2, K, chunk_rows=128)
    draws.add(0, mu, tau)
    refs = [weakref.ref(c) for c in draws.chunks]
    calls = []
    convert = _draws._convert

    def watched(*args):
        calls.append([ref() is not None for ref in refs])
        convert(*args)

    monkeypatch.setattr(_draws, "_convert", watched)
    outcome_draws_from(Scale("hurdle", 0.0, 1.0), draws, sigma)
    assert len(calls) == len(refs) == 8
    for i, alive in enumerate(calls):
        assert alive == [False] * i + [True] * (len(refs) - i), (i, alive)


def test_block_size_bounds_the_per_visitor_records() -> None:
    """A block records at most RECORD_BLOCK_BYTES of μ and τ fits: a 1M-visitor K = 3 hurdle
    (6 float32 per visitor and iteration) runs 10-iteration blocks, small fits keep the
    configured size, and a block never has fewer than one iteration."""
    from types import SimpleNamespace

    from jax import ShapeDtypeStruct

    from pytyche.bcf._loop import RECORD_BLOCK_BYTES, record_block_size

    def shapes(n: int, k: int = 2, arms: int = 3) -> SimpleNamespace:
        return SimpleNamespace(mu_fit=ShapeDtypeStruct((k, n), np.float32),
                               tau_fit=ShapeDtypeStruct((arms - 1, k, n), np.float32))

    assert record_block_size(25, shapes(2**20)) == 10
    assert 10 * 6 * 4 * 2**20 <= RECORD_BLOCK_BYTES < 11 * 6 * 4 * 2**20
    assert record_block_size(25, shapes(200_000)) == 25
    assert record_block_size(7, shapes(2**20)) == 7
    assert record_block_size(25, shapes(2**26)) == 1
