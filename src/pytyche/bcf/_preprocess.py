"""Input checks, feature binning, size buckets and per-arm row layout (NumPy only).

Everything here runs before any JAX compilation, so bad input fails fast and cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytyche.bcf.config import GPUBCFConfig
from pytyche.data._validate import MAX_TREATMENTS, OUTCOME_LIMIT
from pytyche.errors import SchemaViolation

__all__ = [
    "MIN_BUCKET",
    "Binning",
    "Prepared",
    "_compute_basis",
    "bucket_size",
    "min_visitors_per_arm",
    "prepare",
    "validate_inputs",
]

MAX_ARMS = MAX_TREATMENTS


#: Smallest bucket. Below it a fit's cost is compiling, not sampling, so every small data set
#: shares one set of compiled programs.
MIN_BUCKET = 1024


def _steps_per_doubling(n: int) -> int:
    """How finely sizes near `n` are bucketed: coarse where compiling dominates, fine where
    sampling does.

    A new bucket costs about 15 s of compilation on 2 CPU cores (some 30 programs); a padded
    row costs what a real one does (0.5 ms per row per 400 iterations, measured at 40,000
    rows). Up to 8,192 rows padding to the next power of two costs less than one compile;
    beyond 131,072 rows the 12.5% of eight steps per doubling is the better trade.
    """
    if n <= 8192:
        return 1
    return 4 if n <= 131_072 else 8


def bucket_size(n: int) -> int:
    """Round `n` up to a size bucket so that nearby sizes share one compiled program.

    Buckets are powers of two up to 8,192 rows (at least :data:`MIN_BUCKET`), four steps per
    doubling up to 131,072 (at most 25% padding) and eight beyond (at most 12.5%). The rounds
    of a sequential experiment, its cross-fit halves and the arms within them therefore reuse
    a handful of programs instead of compiling at every new size.

    Examples
    --------
    >>> [bucket_size(n) for n in (1, 1024, 1025, 5000, 50_000, 1_000_000)]
    [1024, 1024, 2048, 8192, 57344, 1048576]
    """
    n = max(int(n), MIN_BUCKET)
    steps = _steps_per_doubling(n)
    e = max(n.bit_length() - steps.bit_length(), 0)
    c = -(-n // (1 << e))
    return c << e


def _compute_basis(z: np.ndarray, num_arms: int | None = None) -> np.ndarray:
    """Contrast coding of the arms against control: one 0/1 column per non-control arm.

    Row ``i`` has a 1 in column ``j - 1`` when visitor ``i`` received arm ``j >= 1`` and is all
    zeros for control, so the model's outcome is ``μ(x) + Σ_j basis[i, j] · τ_j(x)``: each τ
    forest is the effect of one arm against control, and control rows carry no τ at all.

    Parameters
    ----------
    z : numpy.ndarray
        Integer arm index per visitor, shape (n,); 0 is control.
    num_arms : int, optional
        K, the number of arms; ``z.max() + 1`` when omitted.

    Returns
    -------
    numpy.ndarray
        Shape (n, K - 1), uint8.

    Raises
    ------
    SchemaViolation
        ``z`` is not a 1-D array of integers in [0, K - 1], or K < 2.

    Examples
    --------
    >>> _compute_basis(np.array([0, 1, 2, 0])).tolist()
    [[0, 0], [1, 0], [0, 1], [0, 0]]
    """
    z = np.asarray(z)
    if z.ndim != 1 or not np.issubdtype(z.dtype, np.integer):
        _fail(f"z must be a 1-D array of integer arm indices, got shape {z.shape} of {z.dtype}")
    K = int(z.max()) + 1 if num_arms is None and z.size else int(num_arms or 0)
    if K < 2:
        _fail(f"the contrast basis needs at least 2 arms (control and one treatment), got {K}")
    if z.size and (z.min() < 0 or z.max() >= K):
        _fail(f"z holds arm indices outside [0, {K - 1}]")
    return (z[:, None] == np.arange(1, K)[None, :]).astype(np.uint8)


def min_visitors_per_arm(config: GPUBCFConfig) -> int:
    """Fewest visitors an arm needs: two minimum-size leaves, and never fewer than 10."""
    return max(10, 2 * config.min_samples_leaf)


@dataclass(frozen=True, slots=True)
class Binning:
    """Quantile cut points per feature, applied identically to training and new data."""

    cutpoints: np.ndarray
    """(q, m) float32, each row increasing then padded with +inf."""
    max_split: np.ndarray
    """(q,) number of real cut points per feature (0 for a constant feature)."""

    @classmethod
    def fit(cls, X: np.ndarray, num_cutpoints: int) -> Binning:
        """Place at most `num_cutpoints` cut points per column at midpoints of unique values."""
        q = X.shape[1]
        cuts = np.full((q, num_cutpoints), np.inf, np.float32)
        max_split = np.zeros(q, np.int32)
        for j in range(q):  # loop over features, not visitors
            u = np.unique(X[:, j])
            mids = (u[:-1] + u[1:]) / 2.0
            if mids.size > num_cutpoints:
                pos = np.linspace(0, mids.size - 1, num_cutpoints).round().astype(np.int64)
                mids = np.unique(mids[pos])
            cuts[j, : mids.size] = mids
            max_split[j] = mids.size
        return cls(cutpoints=cuts, max_split=max_split)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Bin `X` (n, q) to uint8 (q, n): the number of cut points strictly below each value."""
        out = np.empty((X.shape[1], X.shape[0]), np.uint8)
        for j in range(X.shape[1]):
            out[j] = np.searchsorted(self.cutpoints[j], X[:, j], side="left")
        return out


def _fail(msg: str) -> None:
    raise SchemaViolation(msg)


def validate_inputs(
    X: object,
    z: object,
    y: object,
    propensity: object,
    config: GPUBCFConfig,
    *,
    family: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Check and convert the array inputs of a fit; raise `SchemaViolation` on bad input.

    Returns
    -------
    X, z, y, propensity : arrays as float32 (n, p), int32 (n,), float32 (n,), float32 (n, K)
    """
    if not isinstance(config, GPUBCFConfig):
        _fail(f"config must be a GPUBCFConfig, got {type(config).__name__}")
    for name, arr in (("X", X), ("z", z), ("y", y)):
        if not isinstance(arr, np.ndarray):
            _fail(f"{name} must be a numpy array, got {type(arr).__name__}; use np.asarray")
    assert isinstance(X, np.ndarray) and isinstance(z, np.ndarray) and isinstance(y, np.ndarray)
    if X.ndim != 2 or X.shape[1] < 1:
        _fail(f"X must be 2-D (visitors, features), got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        _fail(f"X must hold numbers (already encoded), got dtype {X.dtype}")
    n = X.shape[0]
    if z.shape != (n,) or y.shape != (n,):
        _fail(f"z and y must have shape ({n},) like X's rows, got {z.shape} and {y.shape}")
    if not np.issubdtype(z.dtype, np.integer):
        _fail(f"z must hold integer arm indices 0..K-1 (0 = control), got dtype {z.dtype}")
    if not np.issubdtype(y.dtype, np.floating) and not np.issubdtype(y.dtype, np.integer):
        _fail(f"y must be numeric, got dtype {y.dtype}")
    Xf = np.asarray(X, np.float32)
    bad = ~np.isfinite(Xf)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        _fail(
            f"X has {int(bad.sum())} non-finite values (first at row {i}, column {j}: "
            f"{X[i, j]}); impute or drop them before fitting"
        )
    yf = np.asarray(y, np.float32)
    if not np.isfinite(yf).all():
        i = int(np.argmax(~np.isfinite(yf)))
        _fail(f"y has non-finite values (first at row {i}: {y[i]}); drop those visitors")
    big = np.abs(y.astype(np.float64)) > OUTCOME_LIMIT
    if big.any():
        i = int(np.argmax(big))
        _fail(
            f"y has {int(big.sum())} value(s) beyond ±{OUTCOME_LIMIT:g} (first at row {i}: "
            f"{y[i]}); y is standardised in float32 and would overflow, so rescale it"
        )
    zi = np.asarray(z, np.int32)
    if zi.min() < 0:
        _fail(f"z has negative arm index {int(zi.min())}; arms are 0..K-1 with 0 = control")
    K = int(zi.max()) + 1
    if K < 2 or K > MAX_ARMS:
        _fail(f"z must name 2 to {MAX_ARMS} arms (0..K-1), found K={K}")
    counts = np.bincount(zi, minlength=K)
    need = min_visitors_per_arm(config)
    if counts.min() < need:
        j = int(np.argmin(counts))
        _fail(
            f"arm {j} has {int(counts[j])} visitors; each arm needs at least {need} "
            f"(2 × min_samples_leaf={config.min_samples_leaf}, at least 10)"
        )
    if family == "binary" and not np.isin(yf, (0.0, 1.0)).all():
        _fail("y must be 0/1 for a binary fit")
    if family == "hurdle":
        if (yf < 0).any():
            _fail(f"y must be >= 0 for a hurdle fit, found {float(yf.min())}")
        conv = np.bincount(zi[yf > 0], minlength=K)
        if conv.min() < 2:
            j = int(np.argmin(conv))
            _fail(
                f"arm {j} has {int(conv[j])} converters (y > 0); a hurdle fit needs at "
                "least 2 per arm to estimate severity"
            )
    if family in ("binary", "hurdle"):
        rate = (yf > 0).mean()
        if rate in (0.0, 1.0):
            _fail(f"y has conversion rate {rate}; a probit model needs both outcomes")
    pr = None
    if propensity is not None:
        if not isinstance(propensity, np.ndarray):
            _fail(f"propensity must be a numpy array or None, got {type(propensity).__name__}")
        assert isinstance(propensity, np.ndarray)
        if propensity.shape != (n, K):
            _fail(f"propensity must have shape (n, K) = ({n}, {K}), got {propensity.shape}")
        pr = np.asarray(propensity, np.float32)
        if not np.isfinite(pr).all() or (pr < 0).any() or (pr > 1).any():
            _fail("propensity must hold probabilities in [0, 1]")
        if np.abs(pr.sum(axis=1) - 1).max() > 1e-3:
            _fail("propensity rows must sum to 1 (one column per arm)")
    return Xf, zi, yf, pr


@dataclass(frozen=True, slots=True)
class Prepared:
    """Binned, padded arrays and the per-arm row layout shared by every family."""

    n: int
    n_pad: int
    n_arm_pad: int
    K: int
    p: int
    binning: Binning
    """Cut points for the feature columns followed by the K−1 propensity columns."""
    X_mu: np.ndarray
    """(p + K − 1, n_pad) uint8: features and propensity columns, padding rows at bin 0."""
    arm_index: np.ndarray
    """(K − 1, n_arm_pad) int32: rows of arm j+1, padded with n_pad (out of range)."""
    valid: np.ndarray
    """(n_pad,) bool: True for real visitors."""
    arm_shares: np.ndarray
    """(K,) empirical arm shares, the propensity used when none is given."""
    arm: np.ndarray
    """(n_pad,) int32 arm of each row, 0 for padding rows."""


def prepare(
    X: np.ndarray, z: np.ndarray, propensity: np.ndarray | None, config: GPUBCFConfig, K: int
) -> Prepared:
    """Bin features and propensity, pad to a size bucket and lay out rows per arm.

    When `propensity` is None the empirical arm shares are used for every visitor (right for a
    completely randomized experiment; then the propensity columns are constant and μ never
    splits on them).
    """
    n, p = X.shape
    shares = np.bincount(z, minlength=K).astype(np.float64) / n
    if propensity is None:
        propensity = np.broadcast_to(shares.astype(np.float32), (n, K))
    Xp = np.concatenate([X, propensity[:, 1:]], axis=1)
    binning = Binning.fit(Xp, config.num_cutpoints)
    n_pad = bucket_size(n)
    X_mu = np.zeros((p + K - 1, n_pad), np.uint8)
    X_mu[:, :n] = binning.transform(Xp)
    # The τ forests see the rows of the (K - 1)-column contrast basis: forest j sums over the
    # visitors with a 1 in column j (arm j + 1), stored as a padded row list per arm.
    basis = _compute_basis(z, K)
    counts = basis.sum(axis=0, dtype=np.int64)
    n_arm_pad = bucket_size(int(counts.max()))
    arm_index = np.full((K - 1, n_arm_pad), n_pad, np.int32)
    for j in range(K - 1):  # loop over contrast columns, not visitors
        rows = np.flatnonzero(basis[:, j])
        arm_index[j, : rows.size] = rows
    valid = np.zeros(n_pad, bool)
    valid[:n] = True
    return Prepared(
        n=n,
        n_pad=n_pad,
        n_arm_pad=n_arm_pad,
        K=K,
        p=p,
        binning=binning,
        X_mu=X_mu,
        arm_index=arm_index,
        valid=valid,
        arm_shares=shares,
        arm=np.concatenate([z, np.zeros(n_pad - n, np.int32)]).astype(np.int32),
    )


def standardize(v: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre and scale to unit variance; return (scaled, mean, sd) with sd > 0."""
    mean = float(v.mean())
    sd = float(v.std())
    if not sd > 0:
        sd = 1.0
    return ((v - mean) / sd).astype(np.float32), mean, sd
