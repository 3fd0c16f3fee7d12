"""Measure `GPUBCFConfig.tau_intercept` (a τ intercept τ₀ per arm) off against on.

Designs:

- the Hahn, Murray & Carvalho (2020) 2×2 family of tests/statistical/test_bcf_recovery.py
  (homogeneous / heterogeneous τ, linear / nonlinear μ, targeted selection, p = 5) at
  n = 500 and 2,000, 3 seeds each (data seed = fit seed), pytyche off, pytyche on and
  ``bartz.bcf`` (which samples its τ₀ by default) on the same data, trees and iterations;
- the design where the intercept matters, that of tests/statistical/test_tau_intercept.py:
  a randomized experiment with a constant effect of 1.5 under noise sd 2 (n = 500, 3
  seeds) fitted with a τ tree prior at bartz.bcf's scale (var_tau = 0.05), off against on
  against bartz.bcf;
- the ``clustered_realistic`` simulation template, revenue per visitor, K = 3, 4,000
  visitors, 2 seeds, joint hurdle off against on (no bartz hurdle exists).

Every fit is small (20 μ + 8 τ trees, 100 burn-in + 100 kept draws, the test suite's
config) so the whole run fits on two shared cores; the scores are CATE RMSE of the
posterior mean and the share of visitors whose central 90% interval holds the true effect.
No timings are reported (the machine is shared). Writes ``results/tau_intercept.json`` and
prints the markdown table of benchmarks/README.md's "τ intercept" section.

Usage: ``nice -n 5 python benchmarks/bench_tau_intercept.py [--no-bartz] [--out PATH]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pytyche.bcf import GPUBCFConfig, fit_continuous_arrays
from pytyche.bcf.reference import bartz_reference_cate, cate_scores
from pytyche.generators.designs import ArrayDesign, hmc_design, weak_signal_rct

CFG = GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)
SIZES = (500, 2000)
SEEDS = (0, 1, 2)
HURDLE_N = 4000
HURDLE_SEEDS = (0, 1)
#: The pytyche fits compared: the default (no intercept), the intercept alone, and the
#: intercept with a τ tree prior near bartz.bcf's scale (its k_tau = 10 gives a τ(x) prior
#: variance of (range of standardized y / 20)², about 0.05 to 0.12 on these designs).
VARIANTS = {
    "off": {},
    "on": {"tau_intercept": True},
    "on_vt": {"tau_intercept": True, "var_tau": 0.1, "var_tau_sev": 0.1},
}
LABELS = {"off": "off", "on": "on", "on_vt": "on, var_tau 0.1", "bartz": "bartz.bcf"}
DESIGNS = {  # name: (heterogeneous τ, linear μ)
    "hom-tau-linear-mu": (False, True),
    "hom-tau-nonlinear-mu": (False, False),
    "het-tau-linear-mu": (True, True),
    "het-tau-nonlinear-mu": (True, False),
}


def _fit_scores(d: ArrayDesign, cfg: GPUBCFConfig, seed: int) -> dict[str, float]:
    fit = fit_continuous_arrays(d.X, d.z, d.y, propensity=d.propensity, seed=seed, config=cfg,
                                progress=False)
    return _rmse_cov(cate_scores(fit.draws["cate"][:, :, 0], d.tau))


def _bartz_scores(d: ArrayDesign, seed: int) -> dict[str, float]:
    cate = bartz_reference_cate(d.X, d.z, d.y, d.propensity, config=CFG, seed=seed)
    return _rmse_cov(cate_scores(cate, d.tau))


def _rmse_cov(s: dict[str, float]) -> dict[str, float]:
    return {"rmse": s["rmse"], "cov90": s["cov90"]}


def run_hmc(with_bartz: bool) -> list[dict[str, Any]]:
    rows = []
    for name, (het, lin) in DESIGNS.items():
        for n in SIZES:
            for seed in SEEDS:
                d = hmc_design(n, heterogeneous=het, linear=lin, seed=seed)
                row: dict[str, Any] = {"design": name, "n": n, "seed": seed}
                for label, fields in VARIANTS.items():
                    row[label] = _fit_scores(d, dataclasses.replace(CFG, **fields), seed)
                if with_bartz:
                    row["bartz"] = _bartz_scores(d, seed)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def run_rct(with_bartz: bool) -> list[dict[str, Any]]:
    rows = []
    for seed in SEEDS:
        d = weak_signal_rct(500, seed=seed)
        row: dict[str, Any] = {"design": "rct-constant-effect, var_tau 0.05", "n": 500,
                               "seed": seed}
        for label, on in (("off", False), ("on", True)):
            cfg = dataclasses.replace(CFG, tau_intercept=on, var_tau=0.05)
            row[label] = _fit_scores(d, cfg, seed)
        if with_bartz:
            row["bartz"] = _bartz_scores(d, seed)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def run_hurdle() -> list[dict[str, Any]]:
    from pytyche.bcf import fit_hurdle_bcf
    from pytyche.generators import simulate

    rows = []
    for seed in HURDLE_SEEDS:
        bundle = simulate("clustered_realistic", n_visitors=HURDLE_N,
                          metric="revenue_per_visitor", K=3, seed=seed)
        truth = bundle.truth.cate_matrix()  # (n, K − 1)
        row: dict[str, Any] = {"design": "clustered_realistic-rpv-K3", "n": HURDLE_N,
                               "seed": seed}
        for label, fields in VARIANTS.items():
            cfg = dataclasses.replace(CFG, **fields)
            post = fit_hurdle_bcf(bundle.observed, seed=seed, config=cfg, progress=False)
            cate = np.asarray(post.cate_samples())  # (n, S, K − 1)
            per_arm = [cate_scores(cate[:, :, j], truth[:, j])
                       for j in range(truth.shape[1])]
            row[label] = {key: float(np.mean([s[key] for s in per_arm]))
                          for key in ("rmse", "cov90")}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and seed-to-seed sd of each score per (design, n), and on/off RMSE ratios."""
    out = []
    keys = sorted({(r["design"], r["n"]) for r in rows}, key=lambda t: (t[0], t[1]))
    for design, n in keys:
        group = [r for r in rows if r["design"] == design and r["n"] == n]
        entry: dict[str, Any] = {"design": design, "n": n, "seeds": len(group)}
        for label in LABELS:
            if label not in group[0]:
                continue
            for key in ("rmse", "cov90"):
                vals = np.array([r[label][key] for r in group])
                entry[f"{label}_{key}"] = float(vals.mean())
                entry[f"{label}_{key}_sd"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        ratio = np.array([r["on"]["rmse"] / r["off"]["rmse"] for r in group])
        entry["on_over_off_rmse"] = float(ratio.mean())
        entry["on_better_seeds"] = int(sum(r["on"]["rmse"] < r["off"]["rmse"] for r in group))
        out.append(entry)
    return out


def table(summary: list[dict[str, Any]]) -> str:
    """Two markdown tables: CATE RMSE, then 90% coverage (mean ± seed-to-seed sd)."""
    def cell(e: dict[str, Any], label: str, key: str) -> str:
        if f"{label}_{key}" not in e:
            return "–"
        return f"{e[f'{label}_{key}']:.3f} ± {e[f'{label}_{key}_sd']:.3f}"

    out = []
    for key, title in (("rmse", "CATE RMSE"), ("cov90", "90% coverage")):
        head = " | ".join(f"{title} {LABELS[lab]}" for lab in LABELS)
        extra = " on/off RMSE | on better |" if key == "rmse" else ""
        out.append(f"| design | n | seeds | {head} |{extra}")
        out.append("|---|---:|---:|" + "---:|" * (len(LABELS) + (2 if extra else 0)))
        for e in summary:
            cells = " | ".join(cell(e, lab, key) for lab in LABELS)
            tail = (f" {e['on_over_off_rmse']:.2f} | {e['on_better_seeds']}/{e['seeds']} |"
                    if extra else "")
            out.append(f"| {e['design']} | {e['n']:,} | {e['seeds']} | {cells} |{tail}")
        out.append("")
    return "\n".join(out).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-bartz", action="store_true", help="skip the bartz.bcf reference")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "tau_intercept.json")
    args = parser.parse_args()
    rows = run_hurdle() + run_rct(not args.no_bartz) + run_hmc(not args.no_bartz)
    summary = summarize(rows)
    result = {"config": CFG.to_dict(), "variants": VARIANTS, "sizes": list(SIZES),
              "seeds": list(SEEDS),
              "hurdle": {"template": "clustered_realistic", "n": HURDLE_N, "K": 3,
                         "seeds": list(HURDLE_SEEDS)},
              "summary": summary, "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(summary))


if __name__ == "__main__":
    main()
