"""Decision-quality battery: error rates, coverage and power of pytyche's decisions.

Every cell simulates experiments with known truth from a generator template, fits the BCF the
metric calls for (a reduced sampler, see ``CONFIG``), runs ``pt.analyze`` with its default
design-based decisions, and scores what the user would have been told:

- ``false_ship``: some treatment SHIPped overall although no treatment helps (``null``);
  family-wise, per experiment.
- ``false_stop_harm``: some treatment STOPped on the harm gate although none harms (``null``).
- ``coverage_arm``: the 90% interval of each treatment's average effect covers the truth. The
  estimand is the sample-average effect: the mean over the analysed visitors of the true
  conditional effect E[Y(k) − Y(0) | x].
- ``coverage_arm_dm``: the same for the normal interval of the plain difference in means on
  the same experiments (the reference: it separates an unlucky draw of experiments from a
  fault of pytyche's intervals; ``--dm-reference`` adds it to cells stored without it).
- ``coverage_segment``: the 90% interval of each reported segment's effect (every treatment)
  covers the mean true conditional effect over the visitors it is measured on (the held-out
  fold's members of the segment).
- ``ship_rate`` and ``z_ship_rate`` (power): how often pytyche SHIPs the truth-best treatment
  against how often a two-sample z-test on the difference in means rejects at the same
  family-wise level (two-sided 5%, Bonferroni over the K − 1 treatments).
- ``model_false_ship``: the same null experiments decided on the BCF posterior
  (``decisions="model"``), the path pytyche used before.

The sequential part runs ``pt.sequential_experiment`` for 5 geometric rounds and records
whether any round SHIPped (null), STOPped on harm (null), or dropped the truth-best arm.

Intervals of rates are Wilson 95% intervals. Usage::

    python benchmarks/bench_decisions.py --quick          # a reduced battery (minutes)
    python benchmarks/bench_decisions.py                  # the full battery (an hour or more)
    python benchmarks/bench_decisions.py --cells null_rpv_k3_4000 --seeds 200
    python benchmarks/bench_decisions.py --hillstrom --cells none   # the real-data rows only

Results go to ``benchmarks/results/decisions.json`` (merged cell by cell, so a run can be
split) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtri

RESULTS = Path(__file__).parent / "results" / "decisions.json"

#: Reduced sampler for the battery: 20 μ / 8 τ trees, 50 burn-in + 50 kept draws (hundreds
#: of fits on 2 CPU cores). The decisions' validity comes from the design (known assignment
#: probabilities), so a smaller outcome model costs precision, never error control.
CONFIG = {"num_trees_mu": 20, "num_trees_tau": 8, "num_burnin": 50, "num_samples": 50}

METRICS = {"rpv": "revenue_per_visitor", "conv": "conversion_rate", "cont": "continuous"}


@dataclass(frozen=True)
class Cell:
    template: str
    metric: str
    K: int
    n: int
    seeds: int
    effect_scale: float | None = None

    @property
    def name(self) -> str:
        scale = "" if self.effect_scale is None else f"_x{self.effect_scale:g}"
        return f"{self.template}_{self.metric}_k{self.K}_{self.n}{scale}"


def battery(quick: bool) -> list[Cell]:
    """The cells: null everywhere, coverage on every template and metric, sizes and K."""
    s_null, s_cov = (60, 20) if quick else (200, 20)
    cells = [Cell("null", "rpv", 3, 4000, s_null)]
    cells += [Cell("null", m, k, 4000, s_null // 5) for m in METRICS for k in (2, 3, 5)
              if (m, k) != ("rpv", 3)]
    cells += [Cell("null", "rpv", 3, n, s_null // 5) for n in (2000, 20000)]
    templates = ("constant", "reversal", "sparse_benefit", "nonlinear", "clustered",
                 "clustered_realistic")
    cells += [Cell(t, m, 3, 4000, s_cov) for t in templates for m in METRICS]
    cells += [Cell(t, "rpv", k, 10000, s_cov // 2) for t in ("reversal", "clustered")
              for k in (2, 5)]
    cells += [Cell("clustered_realistic", "rpv", 3, n, s_cov // 2) for n in (2000, 20000)]
    if not quick:
        cells += [Cell("clustered_realistic", "rpv", 3, 200_000, 10)]
    # power: a planted constant lift large enough that the z-test has moderate power
    cells += [Cell("constant", m, 3, 20000, s_cov, effect_scale=0.1 if m == "cont" else 0.3)
              for m in METRICS]
    return cells


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score interval of a binomial rate."""
    if n == 0:
        return [math.nan, math.nan]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def z_test_ships(observed, K: int) -> list[bool]:
    """Per treatment, whether a two-sample z-test on the difference in means is significantly
    positive at two-sided 5% with Bonferroni over the K − 1 treatments."""
    y = observed.outcome()
    arm = observed.treatment_index()
    y0 = y[arm == 0]
    crit = float(-ndtri(0.025 / (K - 1)))
    out = []
    for k in range(1, K):
        yk = y[arm == k]
        se = math.sqrt(yk.var(ddof=1) / yk.size + y0.var(ddof=1) / y0.size)
        out.append(bool(se > 0 and (yk.mean() - y0.mean()) / se > crit))
    return out


def dm_covers(observed, sate: np.ndarray, K: int, level: float = 0.90) -> list[bool]:
    """Per treatment, whether the normal interval of the plain difference in means (unpooled
    variances) covers the arm estimand: the reference on the same experiments."""
    y = observed.outcome()
    arm = observed.treatment_index()
    y0 = y[arm == 0]
    crit = float(-ndtri((1.0 - level) / 2.0))
    out = []
    for k in range(1, K):
        yk = y[arm == k]
        se = math.sqrt(yk.var(ddof=1) / yk.size + y0.var(ddof=1) / y0.size)
        out.append(bool(abs(yk.mean() - y0.mean() - sate[k]) <= crit * se))
    return out


def _experiment(cell: Cell, seed: int):
    from pytyche.generators import simulate

    bundle = simulate(cell.template, n_visitors=cell.n, metric=METRICS[cell.metric], K=cell.K,
                      seed=1000 + seed, effect_scale=cell.effect_scale)
    po = np.asarray(bundle.truth.potential_outcomes.values, dtype=np.float64)
    return bundle.observed, po, po.mean(axis=0) - po[:, 0].mean()


def dm_reference(cell: Cell, seeds: int) -> dict:
    """Coverage of the difference in means' 90% interval on a cell's experiments (no fit)."""
    hits = [h for seed in range(seeds)
            for h in dm_covers(*_experiment(cell, seed)[::2], cell.K)]
    return {"rate": float(np.mean(hits)), "k": int(sum(hits)), "n": len(hits),
            "ci95": wilson(int(sum(hits)), len(hits))}


def run_cell(cell: Cell) -> dict:
    import pytyche as pt
    from pytyche.analysis import analyze
    from pytyche.bcf import GPUBCFConfig, fit_for_metric
    from pytyche.contracts import Decision
    from pytyche.data import feature_matrix

    config = GPUBCFConfig(**CONFIG)
    counts = {"false_ship": 0, "false_stop_harm": 0, "model_false_ship": 0,
              "model_false_stop_harm": 0, "ship_best": 0, "z_ship_best": 0,
              "cover_arm": 0, "n_arm": 0, "cover_seg": 0, "n_seg": 0, "cover_dm": 0}
    widths, model_widths = [], []
    t0 = time.time()
    for seed in range(cell.seeds):
        observed, po, sate = _experiment(cell, seed)
        post = fit_for_metric(observed, seed=seed, config=config, progress=False,
                              observed_copy="ref")
        res = analyze(post, n_bootstrap=0, level=0.90, seed=seed)
        overall = [c for c in res.comparisons if c.segment_id is None]
        decisions = [c.recommendation for c in overall]
        null = cell.template == "null"
        if null:
            counts["false_ship"] += any(r.decision == Decision.SHIP for r in decisions)
            counts["false_stop_harm"] += any(
                r.decision == Decision.STOP and "harm" in r.rationale for r in decisions)
            model = analyze(post, n_bootstrap=0, level=0.90, decisions="model")
            mrec = list(model.recommendations.values())
            counts["model_false_ship"] += any(r.decision == Decision.SHIP for r in mrec)
            counts["model_false_stop_harm"] += any(
                r.decision == Decision.STOP and "harm" in r.rationale for r in mrec)
        for j, c in enumerate(overall, start=1):
            counts["n_arm"] += 1
            counts["cover_arm"] += c.effect_ci[0] <= sate[j] <= c.effect_ci[1]
            widths.append(c.effect_ci[1] - c.effect_ci[0])
            model_widths.append(c.model_ci[1] - c.model_ci[0])
        counts["cover_dm"] += sum(dm_covers(observed, sate, cell.K))
        best = int(np.argmax(sate))
        if not null and best > 0:
            counts["ship_best"] += decisions[best - 1].decision == Decision.SHIP
            counts["z_ship_best"] += z_test_ships(observed, cell.K)[best - 1]
        leaves = res.policy_tree.tree.apply(feature_matrix(observed))
        measured = res.design.fold == 0 if res.design.fold_models else np.ones(len(po), bool)
        for c in res.comparisons:
            if c.segment_id is None:
                continue
            members = (leaves == c.segment_id) & measured
            j = observed.treatments.index(c.treatment)
            target = float((po[members, j] - po[members, 0]).mean())
            counts["n_seg"] += 1
            counts["cover_seg"] += c.effect_ci[0] <= target <= c.effect_ci[1]
        print(f"  {cell.name} seed {seed}: {time.time() - t0:.0f}s", file=sys.stderr,
              flush=True)
    return summarise(cell, counts, widths, model_widths, time.time() - t0, pt.__version__)


def summarise(cell: Cell, c: dict, widths: list, model_widths: list, seconds: float,
              version: str) -> dict:
    s = cell.seeds
    out = {"cell": cell.name, "template": cell.template, "metric": METRICS[cell.metric],
           "K": cell.K, "n": cell.n, "seeds": s, "effect_scale": cell.effect_scale,
           "config": CONFIG, "seconds": round(seconds, 1), "pytyche": version}
    rate = lambda k, n: {"rate": k / n if n else math.nan, "k": int(k),  # noqa: E731
                         "n": int(n), "ci95": wilson(int(k), int(n))}
    if cell.template == "null":
        out["false_ship"] = rate(c["false_ship"], s)
        out["false_stop_harm"] = rate(c["false_stop_harm"], s)
        out["model_false_ship"] = rate(c["model_false_ship"], s)
        out["model_false_stop_harm"] = rate(c["model_false_stop_harm"], s)
    else:
        out["ship_best"] = rate(c["ship_best"], s)
        out["z_ship_best"] = rate(c["z_ship_best"], s)
    out["coverage_arm"] = rate(c["cover_arm"], c["n_arm"])
    out["coverage_segment"] = rate(c["cover_seg"], c["n_seg"])
    out["coverage_arm_dm"] = rate(c["cover_dm"], c["n_arm"])
    out["mean_width_design"] = float(np.mean(widths)) if widths else math.nan
    out["mean_width_model"] = float(np.mean(model_widths)) if model_widths else math.nan
    return out


@dataclass(frozen=True)
class LoopCell:
    template: str
    metric: str
    K: int
    initial: int
    seeds: int
    n_rounds: int = 5

    @property
    def name(self) -> str:
        return f"loop_{self.template}_{self.metric}_k{self.K}_{self.initial}x{self.n_rounds}"


def loop_battery(quick: bool) -> list[LoopCell]:
    """Null loops for the across-rounds error rates; loops with a best arm for drops."""
    s_null, s_best = (20, 10) if quick else (50, 20)
    cells = [LoopCell("null", "rpv", 3, 1000, s_null)]
    cells += [LoopCell(t, "rpv", 3, 1000, s_best)
              for t in ("clustered_realistic", "reversal", "sparse_benefit", "constant")]
    return cells


def _loop_seed(cell: LoopCell, seed: int) -> dict:
    """One sequential experiment of the cell: what its decisions did, round after round."""
    import warnings

    from pytyche.bcf import GPUBCFConfig
    from pytyche.contracts import Decision, DecisionThresholds
    from pytyche.experiment import (
        GeometricSchedule,
        UncalibratedWarning,
        sequential_experiment,
        simulated_experiment_generator,
    )

    names = ["control"] + [f"t{k}" for k in range(1, cell.K)]
    generator = simulated_experiment_generator(
        template=cell.template, metric=METRICS[cell.metric], effect_scale=0.1, K=cell.K,
        seed=2000 + seed, treatment_names=names)
    exp = sequential_experiment(
        generator=generator, schedule=GeometricSchedule(cell.initial, n_rounds=cell.n_rounds),
        treatments=names, seed=seed, fit_config=GPUBCFConfig(**CONFIG),
        analysis_options={"n_bootstrap": 0})
    shipped = stopped = dropped_best = False
    best_gates: set[str] = set()
    best = None
    lift = math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for experiment in exp:
            recs = experiment.analysis.recommendations
            shipped |= any(r.decision == Decision.SHIP for r in recs.values())
            stopped |= any(r.decision == Decision.STOP and "harm" in r.rationale
                           for r in recs.values())
            if best is None and experiment.truth_comparison is not None:
                best, lift = _truth_best(exp, names)
            if best is not None and best != "control":
                plan = experiment.next_recommendation
                dropped_best |= best in plan.dropped_treatments
                r = recs.get(best)
                if r is not None and r.decision == Decision.STOP:
                    best_gates.add(r.gate)
    # A futility STOP says "the effect is below the practical threshold": an error only when
    # the arm's true lift clears it; a harm STOP of the truth-best arm is always one.
    practical = DecisionThresholds().min_practical_effect
    wrong = "harm" in best_gates or ("futility" in best_gates and lift >= practical)
    return {"seed": seed, "shipped": bool(shipped), "stopped_harm": bool(stopped),
            "best": best, "best_lift": float(lift), "best_dropped": bool(dropped_best),
            "best_stopped": bool(best_gates), "best_stop_gates": sorted(best_gates),
            "best_stopped_wrongly": bool(wrong)}


def _rate(k: int, n: int) -> dict:
    return {"rate": k / n if n else math.nan, "k": int(k), "n": int(n),
            "ci95": wilson(int(k), int(n))}


def summarise_loop(cell: LoopCell, per_seed: list[dict], seconds: float) -> dict:
    """The cell's rates from its per-seed records (any number of them: a run resumes)."""
    import pytyche as pt

    n = len(per_seed)
    with_best = [r for r in per_seed if r["best"] not in (None, "control")]
    out = {"cell": cell.name, "template": cell.template, "metric": METRICS[cell.metric],
           "K": cell.K, "initial": cell.initial, "n_rounds": cell.n_rounds, "seeds": n,
           "config": CONFIG, "seconds": round(seconds, 1), "pytyche": pt.__version__,
           "per_seed": per_seed}
    if n < cell.seeds:
        out["partial"] = f"{n} of {cell.seeds} seeds so far (the run resumes where it stopped)"
    if cell.template == "null":
        out["false_ship_any_round"] = _rate(sum(r["shipped"] for r in per_seed), n)
        out["false_stop_harm_any_round"] = _rate(sum(r["stopped_harm"] for r in per_seed), n)
    else:
        out["best_dropped"] = _rate(sum(r["best_dropped"] for r in with_best), len(with_best))
        out["best_stopped"] = _rate(sum(r["best_stopped"] for r in with_best), len(with_best))
        out["best_stopped_wrongly"] = _rate(sum(r["best_stopped_wrongly"] for r in with_best),
                                            len(with_best))
        out["best_lift"] = float(np.mean([r["best_lift"] for r in with_best]))
    return out


def run_loop_cell(cell: LoopCell, stored: dict | None, checkpoint) -> dict:
    """Run the cell's seeds not yet in `stored` (same config), checkpointing after each."""
    per_seed: list[dict] = []
    seconds = 0.0
    # an older run's records with a best arm (before its STOP gates were recorded) run again
    if (stored and stored.get("config") == CONFIG and "per_seed" in stored
            and (cell.template == "null"
                 or all("best_stopped_wrongly" in r for r in stored["per_seed"]))):
        per_seed = list(stored["per_seed"])
        seconds = float(stored.get("seconds", 0.0))
    done = {r["seed"] for r in per_seed}
    for seed in range(cell.seeds):
        if seed in done:
            continue
        t0 = time.time()
        record = _loop_seed(cell, seed)
        seconds += time.time() - t0
        per_seed.append(record)
        print(f"  {cell.name} seed {seed}: {time.time() - t0:.0f}s {record}", file=sys.stderr,
              flush=True)
        checkpoint(summarise_loop(cell, per_seed, seconds))
    return summarise_loop(cell, per_seed, seconds)


def _truth_best(exp, names: list[str]) -> tuple[str, float]:
    """The arm with the highest true average outcome over the first round's visitors, and
    its true lift over control (relative to control's mean)."""
    truth = exp.rounds[0].truth if hasattr(exp, "rounds") else exp._rounds[0].truth
    po = np.asarray(truth.potential_outcomes.values, dtype=np.float64).mean(axis=0)
    j = int(np.argmax(po))
    return names[j], float(po[j] / po[0] - 1.0)


def run_hillstrom(config: dict | None) -> dict:
    """The shipped Hillstrom RCT: both e-mails against no e-mail, design-based and
    model-based effects beside the difference in means, and the decisions."""
    from pytyche.analysis import analyze
    from pytyche.bcf import GPUBCFConfig, fit_for_metric
    from pytyche.data import from_dataframe
    from pytyche.datasets import HILLSTROM_ARMS, HILLSTROM_FEATURES, load_hillstrom

    frame = load_hillstrom()
    observed = from_dataframe(frame, treatment="segment", outcome="spend",
                              control=HILLSTROM_ARMS[0], features=list(HILLSTROM_FEATURES),
                              metric="revenue_per_visitor", experiment_id="hillstrom")
    cfg = GPUBCFConfig(**config) if config else GPUBCFConfig()
    t0 = time.time()
    post = fit_for_metric(observed, seed=0, config=cfg, progress=False, observed_copy="ref")
    res = analyze(post, n_bootstrap=0, level=0.90, seed=0)
    y, arm = observed.outcome(), observed.treatment_index()
    rows = []
    for c in (c for c in res.comparisons if c.segment_id is None):
        k = observed.treatments.index(c.treatment)
        dim = float(y[arm == k].mean() - y[arm == 0].mean())
        dim_se = math.sqrt(y[arm == k].var(ddof=1) / (arm == k).sum()
                           + y[arm == 0].var(ddof=1) / (arm == 0).sum())
        rows.append({"treatment": c.treatment, "difference_in_means": dim,
                     "dim_ci90": [dim - 1.645 * dim_se, dim + 1.645 * dim_se],
                     "design_effect": c.effect, "design_ci90": list(c.effect_ci),
                     "design_se": c.se, "dim_se": dim_se, "model_effect": c.model_effect,
                     "model_ci90": list(c.model_ci), "decision": c.recommendation.decision.value,
                     "gate": c.recommendation.gate, "p_positive": c.recommendation.p_positive})
    return {"config": config or "default", "seconds": round(time.time() - t0, 1),
            "n": observed.n_visitors, "outcome_model": res.design.outcome_model, "arms": rows}


def load() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {"cells": {}}


def save(data: dict) -> None:
    """Merge ``data`` into the results file (re-read first: several runs may share it)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    merged = load()
    for key, value in data.items():
        if isinstance(value, dict) and key in ("cells", "loops"):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    tmp = RESULTS.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged, indent=1, sort_keys=True))
    os.replace(tmp, RESULTS)
    data.update(merged)


def fmt_rate(r: dict | None) -> str:
    if not r:
        return ""
    return f"{r['rate']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] ({r['k']}/{r['n']})"


def table(data: dict) -> str:
    loops = ["| loop | seeds | false SHIP, any round | false STOP (harm), any round | "
             "truth-best dropped | truth-best STOPped (any gate) | truth-best STOPped wrongly | "
             "truth-best true lift |", "|---|---:|---|---|---|---|---|---:|"]
    for name, r in sorted(data.get("loops", {}).items()):
        loops.append(
            f"| {name} | {r['seeds']}{' (partial)' if r.get('partial') else ''} | "
            f"{fmt_rate(r.get('false_ship_any_round'))} | "
            f"{fmt_rate(r.get('false_stop_harm_any_round'))} | "
            f"{fmt_rate(r.get('best_dropped'))} | {fmt_rate(r.get('best_stopped'))} | "
            f"{fmt_rate(r.get('best_stopped_wrongly'))} | "
            f"{'' if 'best_lift' not in r else format(r['best_lift'], '+.1%')} |")
    rows = ["| cell | seeds | false SHIP | false STOP (harm) | model false SHIP | arm 90% "
            "coverage | difference in means, same experiments | segment 90% coverage | "
            "SHIP best | z-test SHIP best |",
            "|---|---:|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(data["cells"].items()):
        rows.append(
            f"| {name} | {r['seeds']} | {fmt_rate(r.get('false_ship'))} | "
            f"{fmt_rate(r.get('false_stop_harm'))} | {fmt_rate(r.get('model_false_ship'))} | "
            f"{fmt_rate(r.get('coverage_arm'))} | {fmt_rate(r.get('coverage_arm_dm'))} | "
            f"{fmt_rate(r.get('coverage_segment'))} | "
            f"{fmt_rate(r.get('ship_best'))} | {fmt_rate(r.get('z_ship_best'))} |")
    hill = ["| Hillstrom arm | difference in means [90%] | design-based [90%] | se ratio | "
            "model-based [90%] | decision |", "|---|---|---|---:|---|---|"]
    for a in data.get("hillstrom", {}).get("arms", []):
        hill.append(
            f"| {a['treatment']} | {a['difference_in_means']:.3f} [{a['dim_ci90'][0]:.3f}, "
            f"{a['dim_ci90'][1]:.3f}] | {a['design_effect']:.3f} [{a['design_ci90'][0]:.3f}, "
            f"{a['design_ci90'][1]:.3f}] | {a['design_se'] / a['dim_se']:.3f} | "
            f"{a['model_effect']:.3f} [{a['model_ci90'][0]:.3f}, {a['model_ci90'][1]:.3f}] | "
            f"{a['decision']} ({a['gate']}) |")
    return "\n".join(rows) + "\n\n" + "\n".join(loops) + "\n\n" + "\n".join(hill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced battery")
    parser.add_argument("--cells", default="", help="comma-separated cell names to run")
    parser.add_argument("--seeds", type=int, default=0, help="override the seed count")
    parser.add_argument("--table", action="store_true", help="print the stored table only")
    parser.add_argument("--hillstrom", action="store_true",
                        help="also run the shipped Hillstrom RCT (default fit config)")
    parser.add_argument("--dm-reference", action="store_true",
                        help="add the difference in means' coverage on the same experiments to "
                             "stored cells that lack it (simulation only, no fits)")
    args = parser.parse_args()
    data = load()
    if args.dm_reference:
        cells = {c.name: c for c in battery(False) + battery(True)}
        for name, r in data["cells"].items():
            if "coverage_arm_dm" not in r and name in cells:
                c = cells[name]
                c = Cell(c.template, c.metric, c.K, c.n, r["seeds"], c.effect_scale)
                r["coverage_arm_dm"] = dm_reference(c, r["seeds"])
                print(f"{name}: difference in means covers {fmt_rate(r['coverage_arm_dm'])}",
                      file=sys.stderr, flush=True)
        save(data)
    if args.hillstrom:
        data["hillstrom"] = run_hillstrom(None)
        print(json.dumps(data["hillstrom"]), file=sys.stderr, flush=True)
        save(data)
    if not args.table:
        wanted = {c for c in args.cells.split(",") if c}
        for cell in battery(args.quick):
            if wanted and cell.name not in wanted:
                continue
            if args.seeds:
                cell = Cell(cell.template, cell.metric, cell.K, cell.n, args.seeds,
                            cell.effect_scale)
            print(f"{cell.name}: {cell.seeds} seeds", file=sys.stderr, flush=True)
            data["cells"][cell.name] = run_cell(cell)
            print(json.dumps(data["cells"][cell.name]), file=sys.stderr, flush=True)
            save(data)
        for loop in loop_battery(args.quick):
            if wanted and loop.name not in wanted:
                continue
            if args.seeds:
                loop = LoopCell(loop.template, loop.metric, loop.K, loop.initial, args.seeds,
                                loop.n_rounds)
            print(f"{loop.name}: {loop.seeds} seeds", file=sys.stderr, flush=True)

            def checkpoint(result: dict, name: str = loop.name) -> None:
                save({"loops": {name: result}})

            result = run_loop_cell(loop, data.get("loops", {}).get(loop.name), checkpoint)
            checkpoint(result)
            data = load()
    print(table(data))


if __name__ == "__main__":
    main()
