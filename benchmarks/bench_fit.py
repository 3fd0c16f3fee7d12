"""Benchmark pytyche's BCF against bartz.bcf and stochtree on the same simulated data.

Continuous: Hahn, Murray & Carvalho (2020) simulation with heterogeneous τ = 1 + 2·x2·x4,
linear μ = 1 + g(x5) + x1·x3, targeted selection, unit noise, plus 5 noise covariates
(p = 10); pytyche vs `bartz.bcf.bcf` vs stochtree `BCFModel`.
Hurdle: the same covariates, ~3.5% conversion (probit), log-normal severity among converters,
a 50/50 randomized treatment; pytyche joint hurdle vs a stochtree two-stage hurdle (probit
BCF for conversion on everyone, Gaussian BCF on converters' log value, draws composed one to
one). ``pytyche_hurdle`` runs pytyche's own hurdle forest kernel (the default);
``pytyche_hurdle_bartz`` the same model on bartz's masked 2-component forest (before/after).

Every fit runs in its own process (peak RSS per fit). Same trees and iterations everywhere:
200 μ + 50 τ trees, 200 burn-in + 200 kept draws, 1 chain, true propensity given.

Usage::

    python benchmarks/bench_fit.py              # n = 10k and 50k
    python benchmarks/bench_fit.py --n 10000    # one size (repeatable)
    python benchmarks/bench_fit.py --only pytyche_cont,bartz_cont

Writes benchmarks/results/fit.json and prints a table.
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
from pathlib import Path

import numpy as np
from scipy.special import ndtr, ndtri

TREES_MU, TREES_TAU, BURN, KEEP = 200, 50, 200, 200
LIBS = ("pytyche_cont", "bartz_cont", "stochtree_cont", "pytyche_hurdle", "pytyche_hurdle_bartz",
        "stochtree_hurdle")


def hmc_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Hahn et al. (2020) heterogeneous-τ, linear-μ design with targeted selection."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    x4 = rng.integers(0, 2, n).astype(float)
    x5 = rng.integers(1, 4, n).astype(float)
    noise = rng.normal(size=(n, 5))
    g = np.select([x5 == 1, x5 == 2], [2.0, -1.0], -4.0)
    mu = 1.0 + g + x1 * x3
    tau = 1.0 + 2.0 * x2 * x4
    pi = 0.8 * ndtr(3.0 * mu / mu.std() - 0.5 * x1) + 0.05 + rng.uniform(size=n) / 10.0
    z = (rng.uniform(size=n) < pi).astype(np.int32)
    y = mu + tau * z + rng.normal(size=n)
    X = np.column_stack([x1, x2, x3, x4, x5, noise]).astype(np.float32)
    return {"X": X, "z": z, "y": y.astype(np.float32), "pi": pi, "tau": tau}


def hurdle_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Zero-inflated revenue: probit conversion (~3.5%) and log-normal severity."""
    rng = np.random.default_rng(seed)
    d = hmc_data(n, seed)
    X = d["X"]
    x1, x2, x3, x4, x5 = X[:, :5].T.astype(float)
    z = rng.integers(0, 2, n).astype(np.int32)
    lat0 = -1.9 + 0.3 * x1 - 0.2 * x4
    tau_c = 0.2 + 0.15 * x2
    m0 = 3.0 + 0.4 * x1 + 0.3 * (x5 == 3)
    tau_s = 0.1 + 0.15 * x3
    sig = 0.6
    conv = rng.normal(size=n) < lat0 + tau_c * z
    logy = m0 + tau_s * z + sig * rng.normal(size=n)
    y = np.where(conv, np.exp(logy), 0.0).astype(np.float32)
    rpv0 = ndtr(lat0) * np.exp(m0 + sig**2 / 2)
    rpv1 = ndtr(lat0 + tau_c) * np.exp(m0 + tau_s + sig**2 / 2)
    return {"X": X, "z": z, "y": y, "pi": np.full(n, 0.5), "tau": rpv1 - rpv0}


def _scores(draws: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """CATE RMSE of the posterior mean and 90% interval coverage; draws (n, S)."""
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=1)
    return {
        "rmse": float(np.sqrt(np.mean((draws.mean(axis=1) - truth) ** 2))),
        "cov90": float(np.mean((lo <= truth) & (truth <= hi))),
        "true_sd": float(truth.std()),
    }


def run_pytyche(n: int, family: str, hurdle_kernel: str = "pytyche") -> dict[str, float]:
    from pytyche.bcf import GPUBCFConfig, fit_continuous_arrays, fit_hurdle_arrays

    d = hmc_data(n) if family == "cont" else hurdle_data(n)
    prop = np.column_stack([1 - d["pi"], d["pi"]]).astype(np.float32)
    cfg = GPUBCFConfig(
        num_burnin=BURN, num_samples=KEEP, num_trees_mu=TREES_MU, num_trees_tau=TREES_TAU,
        hurdle_kernel=hurdle_kernel,
    )
    t0 = time.perf_counter()
    if family == "cont":
        fit = fit_continuous_arrays(
            d["X"], d["z"], d["y"], propensity=prop, seed=0, config=cfg, progress=False
        )
        draws = fit.draws["cate"][:, :, 0]
    else:
        fit = fit_hurdle_arrays(
            d["X"], d["z"], d["y"], pooling="joint", propensity=prop, seed=0, config=cfg,
            progress=False,
        )
        draws = fit.draws["rpv_cate"][:, :, 0]
    total = time.perf_counter() - t0
    tm = fit.timings
    ms = tm["ms_per_iteration"]
    compile_s = tm["init_s"] + tm["first_block_s"] - cfg.block_size * ms / 1000.0
    return {"end_to_end_s": total, "ms_per_iteration": ms, "compile_s": compile_s,
            "draws_s": tm["draws_s"], "ms_per_iteration_burnin": tm["ms_per_iteration_burnin"],
            "ms_per_iteration_sampling": tm["ms_per_iteration_sampling"],
            **_scores(draws, d["tau"])}


def run_bartz(n: int) -> dict[str, float]:
    import jax
    from bartz.bcf import bcf

    d = hmc_data(n)
    kw = dict(pihat_train=d["pi"].astype(np.float32), num_trees_mu=TREES_MU,
              num_trees_tau=TREES_TAU, ndpost=KEEP, nskip=BURN, seed=0)
    t0 = time.perf_counter()
    m = bcf(d["X"], d["y"], d["z"].astype(np.float32), **kw)
    jax.block_until_ready(m)  # bcf returns before the asynchronous MCMC finishes
    t_fit = time.perf_counter() - t0
    t1 = time.perf_counter()
    tau = np.asarray(m.predict(d["X"], pihat_test=d["pi"].astype(np.float32))["tau"]).T
    t_pred = time.perf_counter() - t1
    del m
    t2 = time.perf_counter()
    m = bcf(d["X"], d["y"], d["z"].astype(np.float32), **kw)  # same shapes: compiled already
    jax.block_until_ready(m)
    t_warm = time.perf_counter() - t2
    return {"end_to_end_s": t_fit + t_pred, "ms_per_iteration": 1000 * t_warm / (BURN + KEEP),
            "compile_s": t_fit - t_warm, "draws_s": t_pred, **_scores(tau, d["tau"])}


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


def run_stochtree(n: int, family: str) -> dict[str, float]:
    if family == "cont":
        d = hmc_data(n)
        t0 = time.perf_counter()
        m = _stochtree_bcf(d["X"], d["z"], d["y"], d["pi"], probit=False)
        t = time.perf_counter() - t0
        return {"end_to_end_s": t, "ms_per_iteration": 1000 * t / (BURN + KEEP),
                "compile_s": 0.0, "draws_s": 0.0, **_scores(m.tau_hat_train, d["tau"])}
    d = hurdle_data(n)
    X, z, y, pi = d["X"], d["z"], d["y"], d["pi"]
    conv = y > 0
    t0 = time.perf_counter()
    m1 = _stochtree_bcf(X, z, conv.astype(float), pi, probit=True)
    lat0 = m1.mu_hat_train  # (n, S) latent, control
    lat1 = lat0 + m1.tau_hat_train
    m2 = _stochtree_bcf(X[conv], z[conv], np.log(y[conv]), pi[conv], probit=False)
    t_fit = time.perf_counter() - t0
    t1 = time.perf_counter()
    zeros = np.zeros(len(y), np.int32)
    pred = m2.predict(X, zeros, pi, terms=["mu", "tau"])
    mu_s, tau_s = pred["mu_hat"], pred["tau_hat"]
    sig2 = m2.global_var_samples[None, :]
    sev0 = np.exp(mu_s + sig2 / 2)
    sev1 = np.exp(mu_s + tau_s + sig2 / 2)
    draws = ndtr(lat1) * sev1 - ndtr(lat0) * sev0
    t_pred = time.perf_counter() - t1
    return {"end_to_end_s": t_fit + t_pred, "ms_per_iteration": 1000 * t_fit / (BURN + KEEP),
            "compile_s": 0.0, "draws_s": t_pred, **_scores(draws, d["tau"])}


def worker(lib: str, n: int) -> dict[str, float]:
    if lib == "pytyche_cont":
        out = run_pytyche(n, "cont")
    elif lib == "pytyche_hurdle":
        out = run_pytyche(n, "hurdle")
    elif lib == "pytyche_hurdle_bartz":
        out = run_pytyche(n, "hurdle", hurdle_kernel="bartz")
    elif lib == "bartz_cont":
        out = run_bartz(n)
    elif lib == "stochtree_cont":
        out = run_stochtree(n, "cont")
    else:
        out = run_stochtree(n, "hurdle")
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, action="append", help="visitor count (repeatable)")
    ap.add_argument("--only", default=",".join(LIBS),
                    help="comma-separated subset of " + ",".join(LIBS))
    ap.add_argument("--warm-cache", action="store_true",
                    help="reuse pytyche's persistent JAX cache (default: a fresh, cold one)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fit.json"))
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    sizes = args.n or [10_000, 50_000]
    libs = [lib for lib in args.only.split(",") if lib]
    rows = []
    for n in sizes:
        for lib in libs:
            env = dict(os.environ)
            if not args.warm_cache:
                env["PYTYCHE_JAX_CACHE"] = tempfile.mkdtemp(prefix="pytyche-jax-")
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--worker", lib, str(n)],
                                  capture_output=True, text=True, env=env, check=False)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                row = {"lib": lib, "n": n, "error": proc.stderr[-2000:]}
            else:
                row = {"lib": lib, "n": n, **json.loads(line[0][7:]),
                       "process_s": time.perf_counter() - t0}
            rows.append(row)
            print(json.dumps(row), flush=True)
    by = {(r["lib"], r["n"]): r for r in rows if "error" not in r}
    ratios = {}
    for n in sizes:
        p, b = by.get(("pytyche_cont", n)), by.get(("bartz_cont", n))
        s = by.get(("stochtree_cont", n))
        ph, sh = by.get(("pytyche_hurdle", n)), by.get(("stochtree_hurdle", n))
        pb = by.get(("pytyche_hurdle_bartz", n))
        r: dict[str, float] = {}
        if p and b:
            r["cont_end_to_end_vs_bartz"] = p["end_to_end_s"] / b["end_to_end_s"]
            r["cont_ms_per_iter_vs_bartz"] = p["ms_per_iteration"] / b["ms_per_iteration"]
        if p and s:
            r["cont_rmse_vs_stochtree"] = p["rmse"] / s["rmse"]
        if ph and sh:
            r["hurdle_end_to_end_vs_stochtree"] = ph["end_to_end_s"] / sh["end_to_end_s"]
            r["hurdle_rmse_vs_stochtree"] = ph["rmse"] / sh["rmse"]
        if ph and pb:
            r["hurdle_ms_per_iter_own_kernel_vs_bartz_kernel"] = (
                ph["ms_per_iteration"] / pb["ms_per_iteration"])
        ratios[str(n)] = r
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prev = json.loads(out.read_text()) if out.exists() else {"runs": []}
    prev["runs"] = [x for x in prev.get("runs", []) if (x["lib"], x["n"]) not in
                    {(r["lib"], r["n"]) for r in rows}] + rows
    prev["ratios"] = {**prev.get("ratios", {}), **ratios}
    prev["settings"] = {"trees_mu": TREES_MU, "trees_tau": TREES_TAU, "burnin": BURN,
                        "kept": KEEP, "chains": 1, "cold_cache": not args.warm_cache}
    out.write_text(json.dumps(prev, indent=2))
    cols = ["end_to_end_s", "ms_per_iteration", "compile_s", "draws_s", "peak_rss_mib",
            "rmse", "cov90"]
    print("| lib | n | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 2))
    for r in rows:
        vals = " | ".join(f"{r[c]:.3g}" if c in r else "err" for c in cols)
        print(f"| {r['lib']} | {r['n']} | {vals} |")
    print(json.dumps(ratios, indent=2))
    _ = ndtri  # keep scipy import explicit for readers of the DGP


if __name__ == "__main__":
    main()
