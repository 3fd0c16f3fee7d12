"""Cart-based revenue: a converter's spend is the sum of the categories in their cart.

The default hurdle generator draws a converter's basket from a log-normal. A cart model is
closer to how a shop's revenue arises: each product category ``c`` (price ``price_c``) is in
the cart or not, and the converter pays the sum of the prices in it. Carts of converters are
never empty, so a converter always spends something.

The arm's severity surface ``m_k(x)`` (from :class:`~pytyche.generators.core.MetricMode`)
sets how much the visitor shops: the chance that category ``c`` is in the cart is

    π_c(x) = 1 − (1 − q_c) ** (m_k(x) / m_ref)

so ``m = m_ref`` gives the base probabilities ``q_c``, and a larger ``m`` fills carts more
(every π stays strictly inside (0, 1)). The expected spend of a converter is known in closed
form, which is what the truth uses (``m*_effective`` in
:class:`~pytyche.generators.core.TruthResult`):

    E[revenue | converted] = Σ_c price_c π_c / (1 − Π_c (1 − π_c)),

the unconditional cart sum divided by the probability that the cart is not empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CartRevenueConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CartRevenueConfig:
    """How converters fill their carts (the ``revenue_model`` of the hurdle generator).

    Attributes
    ----------
    prices : tuple of float
        Price of each product category, positive; at least one category.
    base_probabilities : tuple of float
        ``q_c``: the chance each category is in a cart when ``m_k(x)`` equals
        ``reference_basket``; each strictly inside (0, 1), one per price.
    reference_basket : float or None, default=None
        ``m_ref``, the severity-surface value at which carts follow ``base_probabilities``.
        None: ``Σ price_c q_c``, the mean cart sum at the base probabilities, so a surface
        written in currency units keeps roughly its meaning.

    Examples
    --------
    >>> cart = CartRevenueConfig(prices=(20.0, 35.0, 60.0), base_probabilities=(0.5, 0.3, 0.1))
    >>> round(cart.expected_basket(np.array([cart.m_ref]))[0], 2)
    38.69
    """

    prices: tuple[float, ...]
    base_probabilities: tuple[float, ...]
    reference_basket: float | None = None

    def __post_init__(self) -> None:
        prices = tuple(float(v) for v in self.prices)
        probs = tuple(float(v) for v in self.base_probabilities)
        if not prices or not all(math.isfinite(v) and v > 0 for v in prices):
            msg = f"CartRevenueConfig: prices={self.prices!r} must be one or more positive prices"
            raise ValueError(msg)
        if len(probs) != len(prices):
            msg = (f"CartRevenueConfig: {len(probs)} base_probabilities for {len(prices)} "
                   "prices; give one probability per category")
            raise ValueError(msg)
        if not all(0.0 < q < 1.0 for q in probs):
            msg = (f"CartRevenueConfig: base_probabilities={probs} must each lie strictly "
                   "between 0 and 1")
            raise ValueError(msg)
        ref = self.reference_basket
        if ref is not None and not (math.isfinite(float(ref)) and float(ref) > 0):
            msg = f"CartRevenueConfig: reference_basket={ref!r} must be a positive number"
            raise ValueError(msg)
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "base_probabilities", probs)

    @property
    def m_ref(self) -> float:
        """The reference basket actually used (``reference_basket`` or its default)."""
        if self.reference_basket is not None:
            return float(self.reference_basket)
        return math.fsum(p * q for p, q in zip(self.prices, self.base_probabilities,
                                               strict=True))

    def inclusion_probabilities(self, m: np.ndarray) -> np.ndarray:
        """π_c per visitor and category, shape (n, C), from the severity surface ``m`` (n,)."""
        m = np.asarray(m, dtype=np.float64)
        log_miss = np.log1p(-np.asarray(self.base_probabilities))  # log(1 - q_c) < 0
        return -np.expm1((m / self.m_ref)[:, None] * log_miss[None, :])

    def expected_basket(self, m: np.ndarray) -> np.ndarray:
        """Closed-form expected spend of a converter, shape (n,), given ``m`` (n,)."""
        pi = self.inclusion_probabilities(m)
        empty = np.prod(1.0 - pi, axis=1)
        return (pi @ np.asarray(self.prices)) / (1.0 - empty)

    def sample(self, m: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Cart sums of converters, conditioned on a non-empty cart.

        Parameters
        ----------
        m : numpy.ndarray
            Severity surface per converter, shape (n,).
        u : numpy.ndarray
            Uniforms on [0, 1), shape (n, C): one per converter and category.

        Returns
        -------
        numpy.ndarray
            Revenue per converter, shape (n,), always positive.

        Notes
        -----
        Categories are decided in order. Until one is in the cart, category ``c`` is taken
        with probability ``π_c / (1 − Π_{j >= c} (1 − π_j))`` (its chance given that the cart
        is not empty and nothing earlier was taken; it is 1 for the last category), afterwards
        with its plain ``π_c``. This draws the carts exactly from the Bernoulli model
        conditioned on being non-empty, without rejection.
        """
        pi = self.inclusion_probabilities(m)
        n, n_cat = pi.shape
        if u.shape != (n, n_cat):
            msg = f"CartRevenueConfig.sample: u has shape {u.shape}; expected ({n}, {n_cat})"
            raise ValueError(msg)
        # tail[:, c] = Π_{j >= c} (1 − π_j): chance that nothing from c onwards is taken.
        tail = np.cumprod((1.0 - pi)[:, ::-1], axis=1)[:, ::-1]
        total = np.zeros(n)
        started = np.zeros(n, dtype=bool)
        for c, price in enumerate(self.prices):  # loop over categories, not visitors
            first = pi[:, c] / (1.0 - tail[:, c])
            take = u[:, c] < np.where(started, pi[:, c], first)
            total += np.where(take, price, 0.0)
            started |= take
        return total

    @property
    def n_categories(self) -> int:
        return len(self.prices)
