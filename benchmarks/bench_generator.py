"""Benchmark the simulator: 1,000,000 visitors of ``clustered_realistic`` at K = 3, revenue.

Measures, for ``simulate("clustered_realistic", n_visitors=N, K=3,
metric="revenue_per_visitor")``:

* wall seconds: first call and best of ``--repeat`` further calls, in this process;
* peak traced memory: ``tracemalloc`` peak during one call (numpy buffers included);
* peak RSS: ``ru_maxrss`` of a fresh process, after imports and after one call, so the
  difference is what generation adds on top of the interpreter and libraries.

Usage::

    python benchmarks/bench_generator.py                 # N = 1,000,000
    python benchmarks/bench_generator.py --n 200000 --repeat 5

Prints a table and writes benchmarks/results/generator.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

TEMPLATE, METRIC, K = "clustered_realistic", "revenue_per_visitor", 3
RESULTS = Path(__file__).resolve().parent / "results" / "generator.json"


def _max_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _generate(n: int, seed: int):
    from pytyche.generators import simulate

    return simulate(TEMPLATE, n_visitors=n, metric=METRIC, K=K, seed=seed)


def _worker(n: int) -> None:
    """Run in a fresh process: RSS after imports, then after one generation."""
    import pytyche.generators  # noqa: F401

    before = _max_rss_mib()
    bundle = _generate(n, seed=0)
    after = _max_rss_mib()
    print(json.dumps({"rss_after_import_mib": before, "rss_peak_mib": after,
                      "n_visitors": bundle.observed.n_visitors}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.n)
        return

    rss = json.loads(subprocess.run(
        [sys.executable, __file__, "--worker", "--n", str(args.n)],
        check=True, capture_output=True, text=True,
    ).stdout)

    t0 = time.perf_counter()
    bundle = _generate(args.n, seed=0)
    first = time.perf_counter() - t0
    del bundle
    times = []
    for r in range(args.repeat):
        t0 = time.perf_counter()
        bundle = _generate(args.n, seed=r + 1)
        times.append(time.perf_counter() - t0)
        del bundle

    tracemalloc.start()
    bundle = _generate(args.n, seed=0)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    observed, truth = bundle

    result = {
        "template": TEMPLATE,
        "metric": METRIC,
        "K": K,
        "n_visitors": args.n,
        "seconds_first": round(first, 3),
        "seconds_best": round(min(times), 3) if times else None,
        "seconds_all": [round(t, 3) for t in times],
        "tracemalloc_peak_mib": round(traced_peak / 2**20, 1),
        "rss_after_import_mib": round(rss["rss_after_import_mib"], 1),
        "rss_peak_mib": round(rss["rss_peak_mib"], 1),
        "rss_added_mib": round(rss["rss_peak_mib"] - rss["rss_after_import_mib"], 1),
        "arm_sizes": [v.n_visitors for v in observed.variants],
        "conversion_share": round(float((observed.outcome() > 0).mean()), 4),
        "true_effects": {k: round(v, 4) for k, v in truth.effect_components.items()},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    rows = [
        ("visitors", f"{args.n:,}"),
        ("seconds (first call)", f"{result['seconds_first']:.3f}"),
        (f"seconds (best of {args.repeat})", f"{result['seconds_best']}"),
        ("tracemalloc peak (MiB)", f"{result['tracemalloc_peak_mib']}"),
        ("RSS after imports (MiB)", f"{result['rss_after_import_mib']}"),
        ("RSS peak (MiB)", f"{result['rss_peak_mib']}"),
        ("RSS added by generation (MiB)", f"{result['rss_added_mib']}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{TEMPLATE}, {METRIC}, K={K}")
    print("-" * (width + 16))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
