"""Worked example: a real-data sequential experiment, rounds read from Parquet through DuckDB.

In production the operator's platform assigns visitors by pytyche's plan and logs, per visitor,
the features, the cell, the treatment received and the outcome. Here a stand-in "platform"
(a known revenue model) plays that part and writes each round to ``visits.parquet``; pytyche
reads a round with a DuckDB query and never sees the model, only the logged rows.

``python examples/real_data_sequential.py [--quick] [--out DIR]``
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from pytyche.bcf import GPUBCFConfig
from pytyche.errors import UncalibratedWarning
from pytyche.experiment import (
    FixedSchedule,
    export_assignment,
    export_policy_rules,
    real_data_generator,
    sequential_experiment,
)
from pytyche.report import write_report

TREATMENTS = ("control", "free_shipping", "ten_percent_off")
QUICK = {"per_round": 900, "fit": GPUBCFConfig(num_burnin=30, num_samples=40, num_trees_mu=15,
                                               num_trees_tau=6), "n_bootstrap": 5}
FULL = {"per_round": 3_000, "fit": GPUBCFConfig(num_burnin=100, num_samples=100,
                                                num_trees_mu=30, num_trees_tau=10),
        "n_bootstrap": 20}


def platform_round(plan, n: int, round_idx: int, seed: int) -> pd.DataFrame:
    """What the platform logs for one round: it follows the plan, then visitors buy or not."""
    rng = np.random.default_rng([seed, round_idx])
    visitors = pd.DataFrame({"device": rng.choice(["mobile", "desktop"], n, p=[0.6, 0.4]),
                             "basket_history": rng.gamma(2.0, 30.0, n).round(2)})
    logged = export_assignment(plan, visitors, seed=seed + round_idx)
    mobile = (logged["device"] == "mobile").to_numpy()
    arm = logged["treatment"].to_numpy()
    # Free shipping lifts conversion on mobile; the discount lifts basket size for big spenders.
    p_buy = 0.08 + np.where((arm == "free_shipping") & mobile, 0.05, 0.0)
    big = logged["basket_history"].to_numpy() > 60
    basket = 40.0 * np.where((arm == "ten_percent_off") & big, 1.25, 1.0)
    bought = rng.random(n) < p_buy
    logged["revenue"] = np.where(bought, basket * rng.lognormal(0.0, 0.4, n), 0.0).round(2)
    logged["round_no"] = round_idx
    return logged


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller rounds and fits")
    parser.add_argument("--out", type=Path, default=Path("real_data_out"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "visits.parquet"

    # pytyche reads each round with this query; {round} becomes the round index.
    query = f"SELECT * EXCLUDE (round_no) FROM read_parquet('{table}') WHERE round_no = {{round}}"
    generator = real_data_generator(query, treatment="treatment", outcome="revenue",
                                    metric="revenue_per_visitor",
                                    features=["device", "basket_history"])
    exp = sequential_experiment(
        generator=generator, schedule=FixedSchedule(setup["per_round"], n_rounds=3),
        treatments=TREATMENTS, seed=args.seed, fit_config=setup["fit"],
        analysis_options={"n_bootstrap": setup["n_bootstrap"]})

    from pytyche.experiment import cold_start_plan

    plan = cold_start_plan(list(TREATMENTS))  # round 0: Control and Explore, 50/50
    logged = pd.DataFrame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for r in range(3):
            # The platform ships the plan, logs the round and appends it to the table.
            logged = pd.concat([logged, platform_round(plan, setup["per_round"], r, args.seed)])
            logged.to_parquet(table, index=False)
            experiment = exp.advance()
            print(experiment.summary_one_line())
            plan = exp.next_recommendation
    print("\n" + exp.summary)
    print("\nNext round's plan as SQL for the assignment platform:\n")
    print(export_policy_rules(plan, format="sql"))
    write_report(exp, args.out / "report.html", settings={"data": query, "quick": args.quick})
    print(f"\nWrote {args.out / 'report.html'}.")
    return exp


if __name__ == "__main__":
    main()
