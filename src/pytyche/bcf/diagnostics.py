"""MCMC convergence diagnostics: split R-hat and effective sample size (NumPy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["ess", "split_rhat", "summarize_chains"]


def _split(draws: np.ndarray) -> np.ndarray:
    """(chains, S) → (2·chains, S//2): each chain cut into halves."""
    s = draws.shape[1]
    h = s // 2
    return np.concatenate([draws[:, :h], draws[:, s - h :]], axis=0)


def split_rhat(draws: np.ndarray) -> float:
    """Gelman-Rubin potential scale reduction on split chains.

    Parameters
    ----------
    draws : (chains, S) array of one scalar's draws.

    Returns
    -------
    float
        R-hat; values above about 1.01–1.05 signal chains that have not mixed. NaN when there
        are fewer than 4 draws per chain.
    """
    x = _split(np.asarray(draws, np.float64))
    s = x.shape[1]
    if s < 2:
        return float("nan")
    w = x.var(axis=1, ddof=1).mean()
    b = s * x.mean(axis=1).var(ddof=1)
    if w == 0:
        return 1.0 if b == 0 else float("inf")
    var_plus = (s - 1) / s * w + b / s
    return float(np.sqrt(var_plus / w))


def ess(draws: np.ndarray) -> float:
    """Effective sample size with Geyer's initial positive sequence on pooled autocorrelation.

    Parameters
    ----------
    draws : (chains, S) array of one scalar's draws.
    """
    x = np.asarray(draws, np.float64)
    m, s = x.shape
    if s < 4:
        return float("nan")
    xc = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(xc, n=2 * s, axis=1)
    acov = np.fft.irfft(f * np.conj(f), axis=1)[:, :s] / s
    w = acov[:, 0].mean() * s / (s - 1)
    b = s * x.mean(axis=1).var(ddof=1) if m > 1 else 0.0
    var_plus = (s - 1) / s * w + b / s
    if var_plus <= 0:
        return float(m * s)
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    total = 0.0
    t = 0
    while t + 1 < s:
        pair = rho[t] + rho[t + 1]
        if pair < 0:
            break
        total += pair
        t += 2
    tau = max(2.0 * total - 1.0, 1.0 / np.log10(max(m * s, 10)))
    return float(m * s / tau)


def summarize_chains(
    sigma: np.ndarray, mean_cate: np.ndarray, num_chains: int
) -> dict[str, list[float] | float]:
    """R-hat and ESS of σ and of the visitor-mean CATE of each arm.

    Parameters
    ----------
    sigma : (num_chains · S,) chain-major draws.
    mean_cate : (num_chains · S, K − 1) chain-major draws of the mean effect per arm.
    """
    s = sigma.reshape(num_chains, -1)
    c = mean_cate.reshape(num_chains, -1, mean_cate.shape[-1])
    return {
        "rhat_sigma": split_rhat(s),
        "ess_sigma": ess(s),
        "rhat_mean_cate": [split_rhat(c[:, :, j]) for j in range(c.shape[-1])],
        "ess_mean_cate": [ess(c[:, :, j]) for j in range(c.shape[-1])],
    }
