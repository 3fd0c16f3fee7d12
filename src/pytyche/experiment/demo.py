"""A ready-made simulated experiment for the command line's ``pytyche demo``.

Three rounds on the ``clustered_realistic`` template (K = 3, revenue per visitor). The demo
configuration (below) is sized to finish in under three minutes on two CPU cores; ``full=True``
uses the spec's default round sizes and fit settings instead.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pytyche.errors import StoreError
from pytyche.experiment.schedule import GeometricSchedule
from pytyche.experiment.sequential import SequentialExperiment, sequential_experiment
from pytyche.experiment.simulate import simulated_experiment_generator

__all__ = ["DEMO_ANALYSIS", "DEMO_FIT", "DEMO_ROUNDS", "regret_summary", "run_demo"]

#: Demo round sizes: 1,000 then 2,000 then 4,000 visitors (``full``: 10,000 doubling).
DEMO_ROUNDS = {"initial": 1_000, "growth": 2.0, "n_rounds": 3}
#: Demo BCF settings (``full``: the GPUBCFConfig defaults).
DEMO_FIT = {"num_burnin": 100, "num_samples": 100, "num_trees_mu": 30, "num_trees_tau": 10}
#: Demo analysis settings (``full``: the analysis defaults, 50 bootstrap trees).
DEMO_ANALYSIS = {"n_bootstrap": 20}
_FULL_ROUNDS = {"initial": 10_000, "growth": 2.0, "n_rounds": 3}
_TREATMENTS = ("control", "treatment_1", "treatment_2")
#: File that marks a folder as the demo's own, so a rerun may replace its outputs.
_DEMO_MARKER = ".pytyche-demo"


def run_demo(
    out_dir: str | Path, *, full: bool = False, seed: int = 0, progress: bool = True
) -> SequentialExperiment:
    """Run the three-round demo and write ``summary.json`` (and the round store) to ``out_dir``.

    Parameters
    ----------
    out_dir : str or path
        Output folder (created). Running the demo again into the same folder replaces the
        previous demo's outputs; a folder holding another experiment's store is refused.
    full : bool, default=False
        Use the spec's default sizes and fit settings instead of the demo configuration.
    seed : int, default=0
        Seed of the simulation and of the fits.
    progress : bool, default=True
        Show progress bars for the fits.

    Returns
    -------
    SequentialExperiment
        The finished experiment (its ``history`` holds the three rounds).
    """
    from pytyche.bcf.config import GPUBCFConfig
    from pytyche.generators import DEFAULT_EFFECT_SCALE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / _DEMO_MARKER
    if (out / "store").exists() and not marker.exists():
        msg = (f"{out / 'store'} holds an experiment store that the demo did not write; "
               "pick another --out folder")
        raise StoreError(msg)
    staging = Path(tempfile.mkdtemp(prefix=".store-", dir=out))
    shutil.rmtree(staging)  # the store must be created by the experiment itself
    generator = simulated_experiment_generator(
        template="clustered_realistic", metric="revenue_per_visitor",
        effect_scale=DEFAULT_EFFECT_SCALE, K=3, seed=seed, treatment_names=_TREATMENTS,
    )
    rounds = _FULL_ROUNDS if full else DEMO_ROUNDS
    exp = sequential_experiment(
        generator=generator,
        schedule=GeometricSchedule(**rounds),
        treatments=_TREATMENTS,
        seed=seed,
        progress=progress,
        store=staging,
        fit_config=None if full else GPUBCFConfig(**DEMO_FIT),
        analysis_options=None if full else DEMO_ANALYSIS,
    )
    try:
        for _ in exp:
            pass
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    marker.touch()
    if (out / "store").exists():  # a previous demo's store: swap in the new one
        shutil.rmtree(out / "store")
    staging.rename(out / "store")
    report: dict[str, Any] = {
        "configuration": {"template": "clustered_realistic", "metric": "revenue_per_visitor",
                          "K": 3, "seed": seed, "full": full, "rounds": rounds,
                          "fit": "GPUBCFConfig defaults" if full else DEMO_FIT,
                          "analysis": "defaults" if full else DEMO_ANALYSIS},
        **exp.report(),
        "regret_against_uniform": regret_summary(exp),
    }
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, default=_plain))
    tmp.replace(out / "summary.json")
    return exp


def regret_summary(exp: SequentialExperiment) -> dict[str, Any]:
    """Cumulative regret of a simulated experiment against a fixed uniform split.

    Parameters
    ----------
    exp : SequentialExperiment
        A sim-mode experiment (every round carries its truth).

    Returns
    -------
    dict
        ``rounds``: per round, the visitors and the regret of the shipped allocation and of
        a uniform 1/K split (summed over the round's visitors, in the metric's units);
        ``cumulative_regret``, ``cumulative_uniform_regret`` and their ``ratio`` (``None``
        when uniform loses nothing); ``line``: one sentence saying it.
    """
    from pytyche.analysis import loop_regret

    rounds = loop_regret(exp.rounds, exp.treatments)
    loop = sum(r.regret for r in rounds)
    uniform = sum(r.uniform_regret for r in rounds)
    n = sum(r.n_visitors for r in rounds)
    ratio = loop / uniform if uniform > 0 else None
    line = (f"Cumulative regret over {n:,} visitors: {loop / n:.4f} per visitor lost against "
            f"the oracle, versus {uniform / n:.4f} for a fixed uniform split"
            + (f" ({ratio:.2f}x)." if ratio is not None else "."))
    return {"rounds": [r.to_dict() for r in rounds], "cumulative_regret": loop,
            "cumulative_uniform_regret": uniform, "ratio": ratio, "n_visitors": n,
            "line": line}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
