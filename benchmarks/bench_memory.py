"""Peak memory and wall time of a joint hurdle fit (K = 3, default trees, 200 kept draws).

Memory is driven by the kept per-visitor draws (P(convert) at half precision, severity and
revenue effect float32, n x S x K), the model-unit draws the sampler records (float32,
visitors first, released row chunk by row chunk while they are converted) and the two blocks
of per-visitor records in flight; it does not depend on burn-in length. The default is the
default config (200 burn-in + 200 kept draws), the one issue #13's targets are for: 8 GiB
peak RSS and 10 minutes at 1,000,000 visitors on 2 cores. ``--burnin 20`` measures the memory
of the same fit in a third of the time. Each size runs in its own process (cold JAX cache).

Usage::

    python benchmarks/bench_memory.py --n 100000 --n 200000
    python benchmarks/bench_memory.py --n 1000000        # the 1M target (about 10 min)

Writes benchmarks/results/memory.json (runs keyed by size and burn-in; a rerun replaces its
row) and prints a table with a linear fit of peak RSS on n over the runs of this burn-in.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "memory.json"
#: Peak RSS target at 1,000,000 visitors (issue #13).
LIMIT_GIB = 8.0
#: Wall-time target of the default-config fit at 1,000,000 visitors (issue #13).
LIMIT_S = 600.0


def child(n: int, burnin: int) -> None:
    from pytyche.bcf import GPUBCFConfig, fit_hurdle_bcf
    from pytyche.generators import simulate

    bundle = simulate("clustered_realistic", n_visitors=n, metric="revenue_per_visitor", K=3,
                      seed=0)
    start = time.perf_counter()
    post = fit_hurdle_bcf(bundle.observed, config=GPUBCFConfig(num_burnin=burnin),
                          seed=0, progress=False, observed_copy="ref")
    seconds = time.perf_counter() - start
    draws_gib = sum(a.nbytes for a in post.fit.draws.values()) / 2**30
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    timings = post.fit.timings
    print(json.dumps({"n": n, "burnin": burnin, "kept": post.n_samples, "fit_s": seconds,
                      "first_block_s": timings.get("first_block_s"),
                      "mcmc_s": timings.get("mcmc_s"), "draws_s": timings.get("draws_s"),
                      "block_size": timings.get("block_size"),
                      "draws_gib": draws_gib, "peak_rss_gib": peak_gib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="visitors (repeatable)")
    parser.add_argument("--burnin", type=int, default=200)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.burnin)
        return
    rows = []
    for n in args.n or [100_000, 200_000]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--burnin",
                              str(args.burnin)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"n={r['n']:>9,}  fit {r['fit_s']:7.1f} s  draws {r['draws_gib']:6.2f} GiB  "
              f"peak RSS {r['peak_rss_gib']:6.2f} GiB", flush=True)
    # keep earlier runs; a rerun of a (size, burn-in) replaces its row
    previous = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []
    done = {(r["n"], r["burnin"]) for r in rows}
    rows = sorted([r for r in previous if (r["n"], r["burnin"]) not in done] + rows,
                  key=lambda r: (r["burnin"], r["n"]))
    result: dict = {"runs": rows, "limit_gib": LIMIT_GIB, "limit_s_at_1m": LIMIT_S,
                    "within_limit": all(r["peak_rss_gib"] <= LIMIT_GIB for r in rows)}
    same = [r for r in rows if r["burnin"] == args.burnin]
    if len(same) >= 2:
        ns = np.array([r["n"] for r in same], float)
        peaks = np.array([r["peak_rss_gib"] for r in same])
        slope, intercept = np.polyfit(ns, peaks, 1)
        result["linear_fit"] = {"burnin": args.burnin, "gib_per_million": slope * 1e6,
                                "intercept_gib": intercept}
        print(f"linear fit over {len(same)} sizes: {slope * 1e6:.2f} GiB per million visitors "
              f"+ {intercept:.2f} GiB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
