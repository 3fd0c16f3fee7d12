"""Does the adaptive loop lose less than a fixed uniform split? Cumulative regret, measured.

For every cell (template, K, metric) and seed: a simulated sequential experiment with
geometric rounds (10,000 visitors doubling, 4 rounds = 150,000 visitors by default) at the
template's default effect scale. Per round, with the truth's potential outcomes m_k(x):

* regret of the loop: sum over the round's visitors of ``max_k m_k(x) - sum_k p_k(x) m_k(x)``
  with ``p`` the allocation the round shipped (the cell-weight blend of its cells);
* regret of a fixed uniform 1/K split over the same visitors;
* the Optimized cell's policy value (true RPV) against uniform and against the oracle;
* the dropped treatments (and whether the truth-best arm is among them).

The summary per cell: the ratio of cumulative regrets (loop / uniform) averaged over seeds with
a 95% t-interval, the regret difference per visitor with its 95% t-interval (the measure for
templates without effects, where the ratio is undefined), and the share of seeds that ever
dropped the truth-best arm.

Results merge into ``benchmarks/results/loop_value.json`` run by run, keyed by
(variant, template, K, metric, seed), so a grid can be split over several invocations::

    python benchmarks/bench_loop_value.py --templates clustered_realistic --seeds 0-3
    python benchmarks/bench_loop_value.py --templates null,constant --K 3,5 --seeds 0-19
    python benchmarks/bench_loop_value.py --table          # print the table of what is stored

Fit configuration (reduced; ``--full-fit`` for the spec defaults): 50 μ trees, 20 τ trees,
100 burn-in + 100 kept draws, 10 policy-tree bootstrap refits. Calibration: none
(``Calibration.skip()``, the loop's decisions are design-based AIPW confidence sequences).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "loop_value.json"
REDUCED_FIT = {"num_trees_mu": 50, "num_trees_tau": 20, "num_burnin": 100, "num_samples": 100}
ANALYSIS = {"n_bootstrap": 10}
METRICS = {"revenue": "revenue_per_visitor", "conversion": "conversion_rate"}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(template: str, k: int, metric: str, seed: int, *, initial: int, n_rounds: int,
            full_fit: bool) -> dict:
    """One simulated experiment; per-round regret, policy values and drops."""
    from pytyche.analysis._truth import loop_regret
    from pytyche.bcf import GPUBCFConfig
    from pytyche.errors import UncalibratedWarning
    from pytyche.experiment import (
        GeometricSchedule,
        sequential_experiment,
        simulated_experiment_generator,
    )
    from pytyche.experiment.cells import OPTIMIZED_CELL
    from pytyche.generators import DEFAULT_EFFECT_SCALE

    names = ["control", *[f"treatment_{i}" for i in range(1, k)]]
    generator = simulated_experiment_generator(
        template=template, metric=METRICS[metric], effect_scale=DEFAULT_EFFECT_SCALE, K=k,
        seed=seed, treatment_names=names)
    exp = sequential_experiment(
        generator=generator, schedule=GeometricSchedule(initial, n_rounds=n_rounds),
        treatments=names, seed=seed,
        fit_config=None if full_fit else GPUBCFConfig(**REDUCED_FIT),
        analysis_options=None if full_fit else ANALYSIS)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for _ in exp:
            pass
    seconds = time.perf_counter() - start
    regrets = loop_regret(exp.rounds, names)
    outcomes_sum = np.zeros(k)
    n_total = 0
    rounds = []
    for rnd, reg, record in zip(exp.rounds, regrets, exp.history, strict=True):
        outcomes = np.asarray(rnd.truth.potential_outcomes.values, dtype=np.float64)
        outcomes_sum += outcomes.sum(axis=0)
        n_total += len(outcomes)
        entry = reg.to_dict()
        entry["cells"] = {c.id: c.weight for c in rnd.plan.cells}
        entry["dropped_shipped"] = list(rnd.plan.dropped_treatments)
        entry["dropped_next"] = list(record.next_recommendation.dropped_treatments)
        opt = [c for c in rnd.plan.cells if c.id.startswith(OPTIMIZED_CELL)]
        if opt:
            probs = opt[0].policy.probabilities(rnd.observed.visitors(), names)
            value = float(np.einsum("nk,nk->n", probs, outcomes).mean())
            entry["optimized_rpv"] = value
            entry["optimized_vs_uniform"] = value - reg.rpv_uniform
            entry["optimized_gap_to_oracle"] = reg.rpv_oracle - value
        rounds.append(entry)
    means = outcomes_sum / n_total
    tie = 1e-9 * max(1.0, float(np.abs(means).max()))
    best = [names[i] for i in np.flatnonzero(means >= means.max() - tie)]
    ever_dropped = set()
    for r in rounds:
        ever_dropped.update(r["dropped_next"])
    best_dropped = len(best) < k and any(b in ever_dropped for b in best)
    return {
        "template": template, "K": k, "metric": metric, "seed": seed, "initial": initial,
        "n_rounds": n_rounds, "full_fit": full_fit, "seconds": seconds,
        "n_visitors": n_total,
        "regret": sum(r["regret"] for r in rounds),
        "uniform_regret": sum(r["uniform_regret"] for r in rounds),
        "arm_means": means.tolist(), "truth_best": best,
        "best_dropped": bool(best_dropped), "rounds": rounds,
    }


def _key(run: dict, variant: str) -> str:
    return f"{variant}|{run['template']}|K{run['K']}|{run['metric']}|{run['seed']}"


def _load() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {"runs": {}}


def _store(run: dict, variant: str) -> None:
    import fcntl

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(tempfile.gettempdir()) / "pytyche-loop-value.lock"
    with open(lock_path, "w") as lock:  # invocations may run side by side
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _load()  # re-read: another invocation may have merged runs meanwhile
        data["runs"][_key(run, variant)] = {**run, "variant": variant}
        data["summary"] = summarise(data["runs"])
        tmp = RESULTS.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(RESULTS)


def _t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds (NaN half-width with one seed)."""
    from scipy import stats

    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return mean, mean - half, mean + half


def summarise(runs: dict) -> list[dict]:
    """One row per (variant, template, K, metric)."""
    cells: dict[tuple, list[dict]] = {}
    for run in runs.values():
        key = (run["variant"], run["template"], run["K"], run["metric"])
        cells.setdefault(key, []).append(run)
    rows = []
    for (variant, template, k, metric), group in sorted(cells.items()):
        ratios = [r["regret"] / r["uniform_regret"] if r["uniform_regret"] > 0 else math.nan
                  for r in group]
        diffs = [(r["regret"] - r["uniform_regret"]) / r["n_visitors"] for r in group]
        ratio, lo, hi = _t_interval(ratios)
        diff, dlo, dhi = _t_interval(diffs)
        n_rounds = max(len(r["rounds"]) for r in group)
        per_round = []
        for i in range(1, n_rounds):
            vs_u = [r["rounds"][i].get("optimized_vs_uniform", math.nan) for r in group
                    if len(r["rounds"]) > i]
            gap = [r["rounds"][i].get("optimized_gap_to_oracle", math.nan) for r in group
                   if len(r["rounds"]) > i]
            w = [r["rounds"][i]["cells"].get("optimized", math.nan) for r in group
                 if len(r["rounds"]) > i]
            per_round.append({"round": i, "optimized_vs_uniform": _t_interval(vs_u)[0],
                              "optimized_gap_to_oracle": _t_interval(gap)[0],
                              "optimized_weight": _t_interval(w)[0]})
        rows.append({
            "variant": variant, "template": template, "K": k, "metric": metric,
            "seeds": len(group), "regret_ratio": ratio, "regret_ratio_ci": [lo, hi],
            "regret_diff_per_visitor": diff, "regret_diff_ci": [dlo, dhi],
            "uniform_regret_per_visitor": float(np.mean(
                [r["uniform_regret"] / r["n_visitors"] for r in group])),
            "best_dropped_share": float(np.mean([r["best_dropped"] for r in group])),
            "per_round": per_round,
            "seconds_per_seed": float(np.mean([r["seconds"] for r in group])),
        })
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`summarise` rows."""
    head = ("| variant | template | K | metric | seeds | regret / uniform [95% CI] | "
            "Δ regret per visitor [95% CI] | uniform regret per visitor | Optimized − uniform "
            "RPV by round | Optimized gap to oracle by round | Optimized weight by round | "
            "best arm dropped |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lo, hi = r["regret_ratio_ci"]
        dlo, dhi = r["regret_diff_ci"]
        pr = r["per_round"]
        lines.append(
            f"| {r['variant']} | {r['template']} | {r['K']} | {r['metric']} | {r['seeds']} | "
            f"{r['regret_ratio']:.2f} [{lo:.2f}, {hi:.2f}] | "
            f"{r['regret_diff_per_visitor']:+.4f} [{dlo:+.4f}, {dhi:+.4f}] | "
            f"{r['uniform_regret_per_visitor']:.4f} | "
            + " / ".join(f"{p['optimized_vs_uniform']:+.3f}" for p in pr) + " | "
            + " / ".join(f"{p['optimized_gap_to_oracle']:.3f}" for p in pr) + " | "
            + " / ".join(f"{p['optimized_weight']:.2f}" for p in pr) + " | "
            f"{r['best_dropped_share']:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", default="clustered_realistic")
    parser.add_argument("--K", default="3", help="comma-separated arm counts")
    parser.add_argument("--metrics", default="revenue", help="revenue,conversion")
    parser.add_argument("--seeds", default="0-3", help="e.g. 0-19 or 0,2,5")
    parser.add_argument("--initial", type=int, default=10_000, help="round-0 visitors")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--variant", default="shipped", help="label of the code under test")
    parser.add_argument("--full-fit", action="store_true", help="spec-default fit settings")
    parser.add_argument("--table", action="store_true", help="print the stored table and exit")
    args = parser.parse_args()
    if args.table:
        print(table(summarise(_load()["runs"])))
        return
    for template in args.templates.split(","):
        for k in (int(v) for v in args.K.split(",")):
            for metric in args.metrics.split(","):
                for seed in _seeds(args.seeds):
                    run = run_one(template, k, metric, seed, initial=args.initial,
                                  n_rounds=args.rounds, full_fit=args.full_fit)
                    _store(run, args.variant)
                    print(f"{args.variant} {template} K={k} {metric} seed {seed}: regret "
                          f"{run['regret'] / run['n_visitors']:.4f} vs uniform "
                          f"{run['uniform_regret'] / run['n_visitors']:.4f} per visitor "
                          f"(ratio {run['regret'] / max(run['uniform_regret'], 1e-12):.2f}); "
                          f"best dropped {run['best_dropped']}; {run['seconds']:.0f} s",
                          flush=True)
    print(table(summarise(_load()["runs"])))


if __name__ == "__main__":
    main()
