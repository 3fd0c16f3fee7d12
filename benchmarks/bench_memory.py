"""Peak memory of a joint hurdle fit (K = 3, default trees, 200 kept draws) as n grows.

Memory is driven by the kept per-visitor draws (p, sev, revenue effect: float32, n x S x K)
and the in-loop records, so it does not depend on burn-in length; the run uses a short burn-in
(``--burnin``, default 20) to keep the wall time down. Each size runs in its own process.

Usage::

    python benchmarks/bench_memory.py --n 100000 --n 200000
    python benchmarks/bench_memory.py --n 1000000        # the 24 GiB check (about 15-20 min)

Writes benchmarks/results/memory.json and prints a table with a linear fit of peak RSS on n.
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
    print(json.dumps({"n": n, "burnin": burnin, "kept": post.n_samples, "fit_s": seconds,
                      "draws_gib": draws_gib, "peak_rss_gib": peak_gib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="visitors (repeatable)")
    parser.add_argument("--burnin", type=int, default=20)
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
    # keep earlier sizes measured with the same burn-in; a rerun of a size replaces it
    previous = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []
    done = {r["n"] for r in rows}
    rows = sorted([r for r in previous if r["n"] not in done and r["burnin"] == args.burnin]
                  + rows, key=lambda r: r["n"])
    result: dict = {"runs": rows, "limit_gib": 24.0,
                    "within_limit": all(r["peak_rss_gib"] <= 24.0 for r in rows)}
    if len(rows) >= 2:
        ns = np.array([r["n"] for r in rows], float)
        peaks = np.array([r["peak_rss_gib"] for r in rows])
        slope, intercept = np.polyfit(ns, peaks, 1)
        result["linear_fit"] = {"gib_per_million": slope * 1e6, "intercept_gib": intercept}
        print(f"linear fit over {len(rows)} sizes: {slope * 1e6:.2f} GiB per million visitors "
              f"+ {intercept:.2f} GiB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
