"""Small visitor frames shared by the ``pytyche.data`` unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def visitor_frame(n: int = 60, *, seed: int = 0, arms: tuple[str, ...] = ("A", "B", "C"),
                  outcome: str = "revenue") -> pd.DataFrame:
    """A well-formed frame: arm labels, a zero-inflated outcome and four kinds of feature."""
    rng = np.random.default_rng(seed)
    arm = np.array(arms)[np.arange(n) % len(arms)]
    spend = np.where(rng.random(n) < 0.6, 0.0, rng.gamma(2.0, 20.0, n))
    return pd.DataFrame({
        "arm": arm,
        outcome: spend,
        "age": rng.integers(18, 80, n),
        "score": rng.normal(size=n),
        "member": rng.random(n) < 0.5,
        "returning": (rng.random(n) < 0.5).astype(int),
        "device": rng.choice(["web", "app", "tablet"], n),
        "customer": [f"c{i:04d}" for i in range(n)],
    })
