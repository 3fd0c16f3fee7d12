"""One call from sweep to artifact, for the ``pytyche calibrate`` CLI verb and scripts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytyche.calibrate.artifact import Calibration
from pytyche.calibrate.sweep import DEFAULT_NOMINAL_LEVELS, Backend, run_sweep

__all__ = ["run_calibrate"]


def run_calibrate(
    *,
    sweep: str | os.PathLike[str],
    artifact: str | os.PathLike[str] | None = None,
    name: str | None = None,
    template: str = "clustered_realistic",
    metric: str = "revenue_per_visitor",
    K: int = 3,
    sizes: Sequence[int] = (1_000, 3_000, 10_000),
    seeds: int | Iterable[int] | Mapping[int, int | Iterable[int]] = 100,
    pooling: str = "joint",
    nominal_levels: Sequence[float] = DEFAULT_NOMINAL_LEVELS,
    config: Any = None,
    workers: int | None = None,
    backend: Backend = "process",
    progress: bool = True,
) -> Calibration:
    """Run (or resume) a coverage sweep, fit a :class:`Calibration` to it, optionally save it.

    Parameters
    ----------
    sweep : path
        Sweep file to write or resume (JSON Lines).
    artifact : path, optional
        Where to save the fitted calibration JSON; not saved when None.
    name : str, optional
        Name stored in the artifact; default: the artifact's (or sweep's) file stem.
    seeds : int, iterable of int, or mapping of size to either, default=100
        An int ``m`` means seeds ``0 .. m-1``. A mapping gives each size its own seeds (large
        sizes cost more per fit, so they often get fewer); sizes it omits are not run.
    template, metric, K, sizes, pooling, nominal_levels, config, workers, backend, progress
        As for :func:`~pytyche.calibrate.run_sweep`.

    Returns
    -------
    Calibration
        Fitted on every finished task of the sweep file.

    Notes
    -----
    With the default process backend, a script calling this must guard its entry point with
    ``if __name__ == "__main__":`` (workers are spawned and re-import the main module).
    """
    def seed_list(value: int | Iterable[int]) -> list[int]:
        return list(range(value)) if isinstance(value, int) else [int(s) for s in value]

    groups = ([([n], seed_list(seeds[n])) for n in sizes if n in seeds]
              if isinstance(seeds, Mapping) else [(list(sizes), seed_list(seeds))])
    if not groups:
        msg = f"seeds names sizes {sorted(seeds)} but sizes={list(sizes)}: give seeds for a size"
        raise ValueError(msg)
    for group_sizes, group_seeds in groups:
        results = run_sweep(template=template, metric=metric, K=K, sizes=group_sizes,
                            seeds=group_seeds, out=sweep, pooling=pooling,
                            nominal_levels=nominal_levels, config=config, workers=workers,
                            backend=backend, progress=progress)
    label = name or Path(artifact if artifact is not None else sweep).stem
    calibration = Calibration.fit(results, name=label)
    if artifact is not None:
        calibration.save(artifact)
    return calibration
