"""Design battery: pytyche's BCF against bartz.bcf and stochtree on the same simulated data.

Designs (``pytyche.generators.designs``), each with five extra noise features:

- ``hmc-{lin,nonlin}-{hom,het}``: the Hahn, Murray & Carvalho (2020) 2×2 family (linear or
  nonlinear μ, homogeneous or heterogeneous τ, targeted selection);
- ``multilevel``: τ grows with the product of a normal and a three-level feature;
- ``hurdle-shared`` / ``hurdle-separate``: zero-inflated revenue (~4% buy, log-normal basket,
  50/50 randomized) whose conversion and basket effects have the same driver or different ones.

Continuous designs run pytyche, ``bartz.bcf.bcf`` (fit + predict) and stochtree's
``BCFModel``; hurdle designs run pytyche's joint hurdle, its independent pooling and a
stochtree two-stage hurdle (a probit BCF for conversion on everyone, a Gaussian BCF on
converters' log spend, draws composed one to one). pytyche is timed as a user calls it: a
DataFrame through ``pt.from_dataframe`` and ``pt.fit`` to the per-visitor effect draws.

Every fit runs in its own process with a fresh, empty JAX compilation cache (cold: the first
fit's compile is in the time, and reported separately as ``compile_s``), and its peak RSS is
that process's. Same trees and iterations everywhere: 200 μ + 50 τ trees, 200 burn-in + 200
kept draws, 1 chain, the true propensity given.

Usage::

    python benchmarks/bench_fit.py                         # n = 1k, 10k, 50k, every design
    python benchmarks/bench_fit.py --large                 # adds 200k and 1M
    python benchmarks/bench_fit.py --n 10000 --designs hmc-lin-het --libs pytyche,bartz

Results merge into benchmarks/results/fit.json (key ``battery``); prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import ndtr

from pytyche.generators.designs import (
    ArrayDesign,
    hmc_design,
    hurdle_design,
    multilevel_moderator_design,
)

TREES_MU, TREES_TAU, BURN, KEEP = 200, 50, 200, 200
NOISE = 5
RESULTS = Path(__file__).parent / "results" / "fit.json"

DESIGNS: dict[str, tuple[str, Callable[[int, int], ArrayDesign]]] = {
    "hmc-lin-het": ("cont", lambda n, s: hmc_design(n, seed=s, n_noise=NOISE)),
    "hmc-lin-hom": ("cont", lambda n, s: hmc_design(n, heterogeneous=False, seed=s,
                                                    n_noise=NOISE)),
    "hmc-nonlin-het": ("cont", lambda n, s: hmc_design(n, linear=False, seed=s, n_noise=NOISE)),
    "hmc-nonlin-hom": ("cont", lambda n, s: hmc_design(n, heterogeneous=False, linear=False,
                                                       seed=s, n_noise=NOISE)),
    "multilevel": ("cont", lambda n, s: multilevel_moderator_design(n, seed=s, n_noise=NOISE)),
    "hurdle-shared": ("hurdle", lambda n, s: hurdle_design(n, drivers="shared", seed=s,
                                                           n_noise=NOISE)),
    "hurdle-separate": ("hurdle", lambda n, s: hurdle_design(n, drivers="separate", seed=s,
                                                             n_noise=NOISE)),
}
LIBS = {"cont": ("pytyche", "bartz", "stochtree"),
        "hurdle": ("pytyche", "pytyche_independent", "stochtree_two_stage")}
PEERS = ("bartz", "stochtree", "stochtree_two_stage")


def _frame(d: ArrayDesign):
    import pandas as pd

    df = pd.DataFrame(d.X, columns=[f"x{j + 1}" for j in range(d.X.shape[1])])
    df["arm"] = np.where(d.z == 1, "treated", "control")
    df["y"] = d.y
    df["propensity"] = d.propensity[:, 1]
    return df


def run_pytyche(d: ArrayDesign, family: str, pooling: str) -> dict[str, float]:
    import pytyche as pt
    from pytyche.bcf import GPUBCFConfig

    cfg = GPUBCFConfig(num_burnin=BURN, num_samples=KEEP, num_trees_mu=TREES_MU,
                       num_trees_tau=TREES_TAU)
    metric = "continuous" if family == "cont" else "revenue_per_visitor"
    df = _frame(d)
    t0 = time.perf_counter()
    observed = pt.from_dataframe(df, treatment="arm", outcome="y", control="control",
                                 metric=metric)
    kw = {"pooling": pooling} if family == "hurdle" else {}
    result = pt.fit(observed, config=cfg, seed=0, progress=False, **kw)
    draws = np.asarray(result.cate_samples())[:, :, 0]
    total = time.perf_counter() - t0
    tm = result.fit.timings
    # independent pooling runs two fits; its timings are prefixed conv_ and sev_
    parts = [""] if "ms_per_iteration" in tm else ["conv_", "sev_"]
    ms = sum(tm[f"{p}ms_per_iteration"] for p in parts)
    compile_s = sum(tm[f"{p}init_s"] + tm[f"{p}first_block_s"]
                    - cfg.block_size * tm[f"{p}ms_per_iteration"] / 1000.0 for p in parts)
    # from_dataframe sorts visitors control first: compare draws with the truth in that order
    order = np.argsort(d.z, kind="stable")
    return {"end_to_end_s": total, "ms_per_iteration": ms, "compile_s": compile_s,
            "draws_s": tm["draws_s"], **_scores(draws, d.tau[order])}


def _scores(draws: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from pytyche.bcf.reference import cate_scores

    return cate_scores(draws, truth)


def run_bartz(d: ArrayDesign) -> dict[str, float]:
    import jax
    from bartz.bcf import bcf

    pi = d.propensity[:, 1]
    kw = dict(pihat_train=pi, num_trees_mu=TREES_MU, num_trees_tau=TREES_TAU, ndpost=KEEP,
              nskip=BURN, seed=0)
    t0 = time.perf_counter()
    m = bcf(d.X, d.y, d.z.astype(np.float32), **kw)
    jax.block_until_ready(m)  # bcf returns before the asynchronous MCMC finishes
    t_fit = time.perf_counter() - t0
    t1 = time.perf_counter()
    tau = np.asarray(m.predict(d.X, pihat_test=pi)["tau"]).T
    t_pred = time.perf_counter() - t1
    del m
    t2 = time.perf_counter()
    m = bcf(d.X, d.y, d.z.astype(np.float32), **kw)  # same shapes: compiled already
    jax.block_until_ready(m)
    t_warm = time.perf_counter() - t2
    return {"end_to_end_s": t_fit + t_pred, "ms_per_iteration": 1000 * t_warm / (BURN + KEEP),
            "compile_s": t_fit - t_warm, "draws_s": t_pred, **_scores(tau, d.tau)}


def _stochtree_bcf(X, z, y, pi, probit: bool):
    from stochtree import BCFModel, OutcomeModel

    general = {"random_seed": 0}
    if probit:
        general["outcome_model"] = OutcomeModel(outcome="binary", link="probit")
    m = BCFModel()
    m.sample(X, z, y, propensity_train=pi, num_gfr=0, num_burnin=BURN, num_mcmc=KEEP,
             general_params=general, prognostic_forest_params={"num_trees": TREES_MU},
             treatment_effect_forest_params={"num_trees": TREES_TAU})
    return m


def run_stochtree(d: ArrayDesign) -> dict[str, float]:
    t0 = time.perf_counter()
    m = _stochtree_bcf(d.X, d.z, d.y, d.propensity[:, 1], probit=False)
    t = time.perf_counter() - t0
    return {"end_to_end_s": t, "ms_per_iteration": 1000 * t / (BURN + KEEP), "compile_s": 0.0,
            "draws_s": 0.0, **_scores(m.tau_hat_train, d.tau)}


def run_stochtree_two_stage(d: ArrayDesign) -> dict[str, float]:
    X, z, y, pi = d.X, d.z, d.y, d.propensity[:, 1]
    buy = y > 0
    t0 = time.perf_counter()
    m1 = _stochtree_bcf(X, z, buy.astype(float), pi, probit=True)
    lat0 = m1.mu_hat_train  # (n, S) latent, control
    lat1 = lat0 + m1.tau_hat_train
    m2 = _stochtree_bcf(X[buy], z[buy], np.log(y[buy]), pi[buy], probit=False)
    t_fit = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = m2.predict(X, np.zeros(len(y), np.int32), pi, terms=["mu", "tau"])
    mu_s, tau_s = pred["mu_hat"], pred["tau_hat"]
    sig2 = m2.global_var_samples[None, :]
    draws = ndtr(lat1) * np.exp(mu_s + tau_s + sig2 / 2) - ndtr(lat0) * np.exp(mu_s + sig2 / 2)
    t_pred = time.perf_counter() - t1
    return {"end_to_end_s": t_fit + t_pred, "ms_per_iteration": 1000 * t_fit / (BURN + KEEP),
            "compile_s": 0.0, "draws_s": t_pred, **_scores(draws, d.tau)}


def worker(lib: str, design: str, n: int) -> dict[str, float]:
    family, make = DESIGNS[design]
    d = make(n, 0)
    if lib == "pytyche":
        out = run_pytyche(d, family, "joint")
    elif lib == "pytyche_independent":
        out = run_pytyche(d, family, "independent")
    elif lib == "bartz":
        out = run_bartz(d)
    elif lib == "stochtree":
        out = run_stochtree(d)
    else:
        out = run_stochtree_two_stage(d)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_one(lib: str, design: str, n: int, warm_cache: bool) -> dict:
    env = dict(os.environ)
    if not warm_cache:
        env["PYTYCHE_JAX_CACHE"] = tempfile.mkdtemp(prefix="pytyche-jax-")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", lib, design, str(n)],
                          capture_output=True, text=True, env=env, check=False)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        return {"lib": lib, "design": design, "n": n, "error": proc.stderr[-2000:]}
    return {"lib": lib, "design": design, "n": n, **json.loads(line[0][7:]),
            "process_s": time.perf_counter() - t0}


def ratios(rows: list[dict]) -> list[dict]:
    """Per design and size: pytyche's time and RMSE against each peer and the best peer."""
    by = {(r["lib"], r["design"], r["n"]): r for r in rows if "error" not in r}
    out = []
    for design, n in sorted({(r["design"], r["n"]) for r in rows}, key=lambda t: (t[1], t[0])):
        p = by.get(("pytyche", design, n))
        if p is None:
            continue
        entry: dict = {"design": design, "n": n}
        peers = {lib: by[(lib, design, n)] for lib in PEERS if (lib, design, n) in by}
        for lib, r in peers.items():
            entry[f"time_vs_{lib}"] = p["end_to_end_s"] / r["end_to_end_s"]
            entry[f"rmse_vs_{lib}"] = p["rmse"] / r["rmse"]
        ind = by.get(("pytyche_independent", design, n))
        if ind is not None:
            entry["rmse_joint_vs_independent"] = p["rmse"] / ind["rmse"]
        if peers:
            entry["rmse_vs_best_peer"] = p["rmse"] / min(r["rmse"] for r in peers.values())
        out.append(entry)
    return out


def table(rows: list[dict]) -> str:
    cols = ["end_to_end_s", "compile_s", "ms_per_iteration", "peak_rss_mib", "rmse", "cov90"]
    lines = ["| design | n | library | " + " | ".join(cols) + " |",
             "|---|---:|---|" + "---:|" * len(cols)]
    for r in sorted(rows, key=lambda r: (r["n"], r["design"], r["lib"])):
        vals = " | ".join(f"{r[c]:.3g}" if c in r else "err" for c in cols)
        lines.append(f"| {r['design']} | {r['n']:,} | {r['lib']} | {vals} |")
    lines += ["", "| design | n | time vs bartz | time vs stochtree | RMSE vs best peer | "
              "RMSE vs bartz | RMSE vs stochtree | joint vs independent RMSE |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda e, k: f"{e[k]:.2f}" if k in e else "–"  # noqa: E731
    for e in ratios(rows):
        st = "stochtree" if "time_vs_stochtree" in e else "stochtree_two_stage"
        lines.append(f"| {e['design']} | {e['n']:,} | {fmt(e, 'time_vs_bartz')} | "
                     f"{fmt(e, f'time_vs_{st}')} | {fmt(e, 'rmse_vs_best_peer')} | "
                     f"{fmt(e, 'rmse_vs_bartz')} | {fmt(e, f'rmse_vs_{st}')} | "
                     f"{fmt(e, 'rmse_joint_vs_independent')} |")
    return "\n".join(lines)


def save(rows: list[dict]) -> list[dict]:
    """Merge rows into the results file (atomically); return every stored battery row."""
    prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = lambda r: (r["lib"], r["design"], r["n"])  # noqa: E731
    new = {key(r) for r in rows}
    battery = [r for r in prev.get("battery", []) if key(r) not in new] + rows
    prev["battery"] = battery
    prev["battery_ratios"] = ratios(battery)
    prev["battery_settings"] = {"trees_mu": TREES_MU, "trees_tau": TREES_TAU, "burnin": BURN,
                                "kept": KEEP, "chains": 1, "noise_features": NOISE}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(prev, indent=1))
    os.replace(tmp, RESULTS)
    return battery


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, action="append", help="visitor count (repeatable)")
    ap.add_argument("--large", action="store_true", help="add n = 200,000 and 1,000,000")
    ap.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated designs")
    ap.add_argument("--libs", default="", help="comma-separated libraries (default: all)")
    ap.add_argument("--warm-cache", action="store_true",
                    help="reuse pytyche's persistent JAX cache (default: a fresh, cold one)")
    ap.add_argument("--table", action="store_true", help="print the stored table only")
    ap.add_argument("--worker", nargs=3, metavar=("LIB", "DESIGN", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, design, n = args.worker
        print("RESULT " + json.dumps(worker(lib, design, int(n))))
        return
    if args.table:
        print(table(json.loads(RESULTS.read_text())["battery"]))
        return
    sizes = args.n or [1_000, 10_000, 50_000] + ([200_000, 1_000_000] if args.large else [])
    only = {lib for lib in args.libs.split(",") if lib}
    for n in sizes:
        for design in [d for d in args.designs.split(",") if d]:
            for lib in LIBS[DESIGNS[design][0]]:
                if only and lib not in only:
                    continue
                row = run_one(lib, design, n, args.warm_cache)
                print(json.dumps(row), flush=True)
                battery = save([row])
    print(table(battery))


if __name__ == "__main__":
    main()
