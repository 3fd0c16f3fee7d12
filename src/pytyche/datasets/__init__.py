"""Small public data sets shipped with pytyche.

``load_hillstrom()``: the MineThatData e-mail campaign (Kevin Hillstrom, 2008), a randomized
test on 64,000 customers with three arms (no e-mail, a men's e-mail, a women's e-mail) and a
zero-inflated spend outcome, which makes it a natural hurdle example.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["HILLSTROM_ARMS", "HILLSTROM_FEATURES", "hillstrom_path", "load_hillstrom"]

#: Hillstrom treatment labels, control first.
HILLSTROM_ARMS = ("No E-Mail", "Mens E-Mail", "Womens E-Mail")
#: Pre-treatment customer features of the Hillstrom data.
HILLSTROM_FEATURES = ("recency", "history_segment", "history", "mens", "womens", "zip_code",
                      "newbie", "channel")


def hillstrom_path() -> str:
    """Filesystem path of the gzipped Hillstrom CSV inside the installed package."""
    return str(resources.files("pytyche.datasets").joinpath("hillstrom.csv.gz"))


def load_hillstrom(*, n: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The Hillstrom e-mail campaign as a DataFrame, one row per customer.

    Parameters
    ----------
    n : int, optional
        Keep a random sample of ``n`` customers (stratified by arm, so each arm keeps its
        third); all 64,000 when omitted.
    seed : int, default=0
        Seed of that sample.

    Returns
    -------
    pandas.DataFrame
        Columns: the features in :data:`HILLSTROM_FEATURES`, ``segment`` (the treatment:
        "No E-Mail", "Mens E-Mail", "Womens E-Mail"), ``visit``, ``conversion`` (0/1) and
        ``spend`` (dollars in the two weeks after the e-mail, zero for most customers).

    Examples
    --------
    >>> df = load_hillstrom()
    >>> df.shape
    (64000, 12)
    """
    import pandas as pd

    frame = pd.read_csv(hillstrom_path())
    if n is None:
        return frame
    if not 0 < n <= len(frame):
        msg = f"n={n} must be between 1 and {len(frame)} (the number of customers)"
        raise ValueError(msg)
    share = n / len(frame)
    parts = [group.sample(n=max(1, round(len(group) * share)), random_state=seed)
             for _, group in frame.groupby("segment", sort=False)]
    return pd.concat(parts).sort_index().reset_index(drop=True)
