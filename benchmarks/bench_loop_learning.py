"""Does the sequential loop learn at the default effect scale? Seeds x templates, 3 rounds each.

For every (template, seed): a 3-round simulated experiment (K = 3, revenue per visitor,
effect_scale 0.1 by default) with geometric rounds; records per round the truth comparison
(policy RPV, uniform RPV, oracle RPV, oracle gap, CATE RMSE) and whether, after round 3, the
policy beats uniform and the oracle gap shrank since round 1.

Usage::

    python benchmarks/bench_loop_learning.py                      # 3 seeds, rounds 2k/4k/8k
    python benchmarks/bench_loop_learning.py --initial 10000 --seeds 5 --full-fit

Writes benchmarks/results/loop_learning.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "loop_learning.json"
TREATMENTS = ["control", "treatment_1", "treatment_2"]


def run_one(template: str, seed: int, *, initial: int, effect_scale: float,
            full_fit: bool) -> dict:
    from pytyche.bcf import GPUBCFConfig
    from pytyche.errors import UncalibratedWarning
    from pytyche.experiment import (
        GeometricSchedule,
        sequential_experiment,
        simulated_experiment_generator,
    )

    config = GPUBCFConfig() if full_fit else GPUBCFConfig(
        num_burnin=100, num_samples=100, num_trees_mu=50, num_trees_tau=20)
    generator = simulated_experiment_generator(
        template=template, metric="revenue_per_visitor", effect_scale=effect_scale, K=3,
        seed=seed, treatment_names=TREATMENTS)
    experiment = sequential_experiment(
        generator=generator, schedule=GeometricSchedule(initial, n_rounds=3),
        treatments=TREATMENTS, seed=seed, fit_config=config,
        analysis_options={"n_bootstrap": 10})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        history = [next(experiment) for _ in range(3)]
    rounds = []
    for round_ in history:
        tc = round_.truth_comparison
        rounds.append({name: float(getattr(tc, name)) for name in (
            "cate_rmse", "policy_accuracy", "oracle_gap_rpv", "rpv_policy", "rpv_uniform",
            "rpv_oracle")})
    first, last = rounds[0], rounds[-1]
    return {
        "template": template, "seed": seed, "initial": initial, "effect_scale": effect_scale,
        "full_fit": full_fit, "seconds": time.perf_counter() - start, "rounds": rounds,
        "beats_uniform": last["rpv_policy"] > last["rpv_uniform"],
        "gap_shrinks": last["oracle_gap_rpv"] < first["oracle_gap_rpv"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", default="clustered_realistic,reversal")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=2000, help="round-1 visitors")
    parser.add_argument("--effect-scale", type=float, default=0.1)
    parser.add_argument("--full-fit", action="store_true", help="spec-default fit settings")
    args = parser.parse_args()
    runs = []
    for template in args.templates.split(","):
        for seed in range(args.seeds):
            run = run_one(template, seed, initial=args.initial,
                          effect_scale=args.effect_scale, full_fit=args.full_fit)
            runs.append(run)
            r1, r3 = run["rounds"][0], run["rounds"][-1]
            print(f"{template:20s} seed {seed}: policy {r3['rpv_policy']:.3f} vs uniform "
                  f"{r3['rpv_uniform']:.3f} (oracle {r3['rpv_oracle']:.3f}); gap "
                  f"{r1['oracle_gap_rpv']:.3f} -> {r3['oracle_gap_rpv']:.3f}; "
                  f"{run['seconds']:.0f} s", flush=True)
    summary = {
        t: {"seeds": sum(r["template"] == t for r in runs),
            "beats_uniform": sum(r["beats_uniform"] for r in runs if r["template"] == t),
            "gap_shrinks": sum(r["gap_shrinks"] for r in runs if r["template"] == t)}
        for t in args.templates.split(",")
    }
    print(json.dumps(summary, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
