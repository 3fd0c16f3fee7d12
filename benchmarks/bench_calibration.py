"""Coverage study: raw and calibrated interval coverage on held-out simulated experiments.

Regime of the shipped ``clustered_realistic_v1`` artifact: template ``clustered_realistic``,
revenue per visitor, K = 3 (control / low_promo / free_ship), joint hurdle pooling, 30 μ + 10 τ
trees, 100 burn-in + 100 kept draws, one chain. The artifact is fitted by
``scripts/fit_calibration.py`` on seeds 0-149 at 1k, 3k and 10k visitors and 0-59 at 30k, with
one correction per size; this study scores seeds never seen by the fit: 10000-10149 at 1k, 3k
and 10k, 10000-10059 at 30k, and reports the first 60 separately.
Each row shows the size-aware correction (the one a posterior of that size gets) and the
correction pooled over all sizes, which is what a single correction would give. Intervals
resample whole fits, since the 8 estimands of one fit share its posterior's errors.

Estimand: the mean CATE over each of the truth's 4 clusters, per treatment (8 per fit). For each
one the sweep keeps its tail level (the smallest equal-tailed level whose interval covers the
truth), so raw coverage at 80% is the share of tail levels <= 0.80 and calibrated coverage the
share <= ``calibration.adjust_level(0.80)``: exactly what ``credible_interval(...,
calibration=...)`` would report, without refitting.

Source fixes, at n = 3k on held-out seeds 10000-10059 (paired with the baseline): 2x burn-in
(200), 2 chains (200 draws), and a warm start: a pilot fit on a random half of the visitors,
then the scored fit starting from the pilot's trees (what the next round of a sequential
experiment does), same burn-in.

Usage::

    python benchmarks/bench_calibration.py              # run missing fits, then report
    python benchmarks/bench_calibration.py --no-run     # report from the sweep files only

Writes benchmarks/results/calibration.json and prints a table. Sweep files (resumable) live
in benchmarks/results/calibration_sweeps/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from pytyche.bcf import GPUBCFConfig
from pytyche.calibrate import Calibration, read_sweep, run_sweep
from pytyche.calibrate.sbc import coverage_at
from pytyche.calibrate.sweep import SweepResults, package_versions

ROOT = Path(__file__).resolve().parent
SWEEPS = ROOT / "results" / "calibration_sweeps"
OUT = ROOT / "results" / "calibration.json"
ARTIFACT = "clustered_realistic_v1"
REGIME = {"template": "clustered_realistic", "metric": "revenue_per_visitor", "K": 3,
          "pooling": "joint"}
CONFIG = GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=30, num_trees_tau=10)
SIZES = (1_000, 3_000, 10_000)
HELD_OUT = range(10_000, 10_150)
#: 30k fits cost ~10x more: fewer held-out seeds, in their own sweep file
LARGE_SIZE = 30_000
LARGE_HELD_OUT = range(10_000, 10_060)
FIRST_PASS = range(10_000, 10_060)  # the held-out seeds of the first measurement
VARIANT_SIZE = 3_000
VARIANT_SEEDS = FIRST_PASS
VARIANTS = {
    "burnin2x": (dataclasses.replace(CONFIG, num_burnin=200), None),
    "chains2": (dataclasses.replace(CONFIG, num_chains=2), None),
    "warm_half": (CONFIG, 0.5),
}
LEVELS = (0.5, 0.8, 0.9, 0.95)
TARGET = 0.8
BAND = (0.75, 0.85)


def _fit_bootstrap_ci(
    sweep: SweepResults, size: int, seeds: range, level: float, n_boot: int = 2000
) -> list[float]:
    """95% interval of coverage, resampling whole fits (a fit's 8 estimands move together)."""
    per_fit = np.array([
        [np.sum(np.asarray(e.segment_levels) <= level + 1e-9), len(e.segment_levels)]
        for e in sweep.entries if e.record.n_visitors == size and e.record.seed in seeds
    ], dtype=np.float64)
    if per_fit.size == 0:
        return [math.nan, math.nan]
    idx = np.random.default_rng(0).integers(0, len(per_fit), size=(n_boot, len(per_fit)))
    boot = per_fit[idx, 0].sum(axis=1) / per_fit[idx, 1].sum(axis=1)
    return np.round(np.quantile(boot, [0.025, 0.975]), 4).tolist()


def _coverage_row(sweep: SweepResults, size: int, cal: Calibration, seeds: range) -> dict:
    u = sweep.tail_levels("segment", sizes=[size], seeds=seeds)
    u_arm = sweep.tail_levels("arm", sizes=[size], seeds=seeds)
    pooled_80 = cal.adjust_level(TARGET)  # the correction pooled over every size
    cal = cal.for_size(size)
    raw_levels = [cal.adjust_level(p) for p in LEVELS]
    raw = coverage_at(u, LEVELS)
    calibrated = coverage_at(u, raw_levels)
    records = [r for r in sweep.records if r.n_visitors == size and r.seed in seeds]
    i80 = LEVELS.index(TARGET)
    return {
        "n_visitors": size,
        "fits": len(records),
        "seeds": [min(r.seed for r in records), max(r.seed for r in records)],
        "segment_estimands": int(u.size),
        "uncalibrated": dict(zip(map(str, LEVELS), raw.round(4).tolist(), strict=True)),
        "calibrated": dict(zip(map(str, LEVELS), calibrated.round(4).tolist(), strict=True)),
        "raw_level_used": dict(zip(map(str, LEVELS), np.round(raw_levels, 4).tolist(),
                                   strict=True)),
        "uncalibrated_80_ci95": _fit_bootstrap_ci(sweep, size, seeds, TARGET),
        "calibrated_80_ci95": _fit_bootstrap_ci(sweep, size, seeds, raw_levels[i80]),
        "calibrated_80_in_band": bool(BAND[0] <= calibrated[i80] <= BAND[1]),
        "pooled_correction_80": round(float(coverage_at(u, [pooled_80])[0]), 4),
        "pooled_correction_80_ci95": _fit_bootstrap_ci(sweep, size, seeds, pooled_80),
        "arm_uncalibrated_80": round(float(coverage_at(u_arm, [TARGET])[0]), 4),
        "arm_calibrated_80": round(float(coverage_at(u_arm, [raw_levels[i80]])[0]), 4),
        "decision_correct": round(float(np.mean([r.decision_correct for r in records])), 4),
        "regret_rpv": round(float(np.nanmean([r.regret for r in records])), 4),
        "fit_seconds_mean": round(float(np.mean([r.fit_seconds for r in records])), 3),
    }


def _per_seed_hits(sweep: SweepResults, level: float) -> dict[int, tuple[int, int]]:
    return {e.record.seed: (int(np.sum(np.asarray(e.segment_levels) <= level + 1e-9)),
                            len(e.segment_levels))
            for e in sweep.entries
            if e.record.n_visitors == VARIANT_SIZE and e.record.seed in VARIANT_SEEDS}


def _paired_delta(variant: SweepResults, baseline: SweepResults, level: float = TARGET,
                  n_boot: int = 2000) -> dict:
    """Raw coverage change vs the baseline on shared seeds, with a seed-bootstrap 95% CI."""
    a, b = _per_seed_hits(variant, level), _per_seed_hits(baseline, level)
    seeds = sorted(set(a) & set(b))
    hits = np.array([[a[s][0], b[s][0], a[s][1]] for s in seeds], dtype=np.float64)
    idx = np.random.default_rng(0).integers(0, len(seeds), size=(n_boot, len(seeds)))
    boot = (hits[idx, 0].sum(1) - hits[idx, 1].sum(1)) / hits[idx, 2].sum(1)
    delta = (hits[:, 0].sum() - hits[:, 1].sum()) / hits[:, 2].sum()
    return {"delta": round(float(delta), 4),
            "ci95": np.round(np.quantile(boot, [0.025, 0.975]), 4).tolist(),
            "paired_seeds": len(seeds)}


def _variant_row(name: str, sweep: SweepResults, cal: Calibration) -> dict:
    u = sweep.tail_levels("segment", sizes=[VARIANT_SIZE], seeds=VARIANT_SEEDS)
    cal = cal.for_size(VARIANT_SIZE)
    raw = coverage_at(u, [0.8, 0.9])
    calibrated = coverage_at(u, [cal.adjust_level(0.8), cal.adjust_level(0.9)])
    records = [r for r in sweep.records
               if r.n_visitors == VARIANT_SIZE and r.seed in VARIANT_SEEDS]
    cfg = sweep.settings["config"]
    return {
        "variant": name, "n_visitors": VARIANT_SIZE, "fits": len(records),
        "num_burnin": cfg["num_burnin"], "num_chains": cfg["num_chains"],
        "warm_start_share": sweep.settings.get("warm_start_share"),
        "segment_estimands": int(u.size),
        "uncalibrated_80": round(float(raw[0]), 4), "uncalibrated_90": round(float(raw[1]), 4),
        "uncalibrated_80_ci95": _fit_bootstrap_ci(sweep, VARIANT_SIZE, VARIANT_SEEDS, 0.8),
        "calibrated_80": round(float(calibrated[0]), 4),
        "calibrated_90": round(float(calibrated[1]), 4),
        "fit_seconds_mean": round(float(np.mean([r.fit_seconds for r in records])), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="only read the sweep files")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    held_out_path = SWEEPS / "heldout.jsonl"
    variant_paths = {name: SWEEPS / f"heldout_{name}.jsonl" for name in VARIANTS}
    large_path = SWEEPS / "heldout_30k.jsonl"
    if not args.no_run:
        common = {**REGIME, "workers": args.workers, "seeds": HELD_OUT}
        run_sweep(**common, sizes=SIZES, config=CONFIG, out=held_out_path)
        run_sweep(**{**common, "seeds": LARGE_HELD_OUT}, sizes=[LARGE_SIZE], config=CONFIG,
                  out=large_path)
        for name, (cfg, share) in VARIANTS.items():
            run_sweep(**{**common, "seeds": VARIANT_SEEDS}, sizes=[VARIANT_SIZE], config=cfg,
                      out=variant_paths[name], warm_start_share=share)
    cal = Calibration.from_sweep(ARTIFACT)
    overlap = set(cal.provenance["seeds"]) & set(HELD_OUT)
    if overlap:
        msg = f"held-out seeds {sorted(overlap)[:5]}... were used to fit {ARTIFACT}"
        raise RuntimeError(msg)
    held_out = read_sweep(held_out_path)
    rows = [_coverage_row(held_out, n, cal, HELD_OUT) for n in SIZES if n in held_out.sizes]
    first_pass = [_coverage_row(held_out, n, cal, FIRST_PASS) for n in SIZES
                  if n in held_out.sizes]
    if large_path.exists():
        rows.append(_coverage_row(read_sweep(large_path), LARGE_SIZE, cal, LARGE_HELD_OUT))
    variants = [_variant_row("baseline", held_out, cal)]
    for name, path in variant_paths.items():
        if path.exists():
            sweep = read_sweep(path)
            variants.append({**_variant_row(name, sweep, cal),
                             "raw_80_change_vs_baseline": _paired_delta(sweep, held_out)})
    result = {
        "settings": {**REGIME, "config": dataclasses.asdict(CONFIG),
                     "sizes": [*SIZES, LARGE_SIZE],
                     "held_out_seeds": [HELD_OUT.start, HELD_OUT.stop - 1],
                     "held_out_seeds_30k": [LARGE_HELD_OUT.start, LARGE_HELD_OUT.stop - 1],
                     "variant_seeds": [VARIANT_SEEDS.start, VARIANT_SEEDS.stop - 1],
                     "ci95": "percentile bootstrap over fits (2000 resamples)",
                     "artifact": ARTIFACT, "artifact_fit_seeds": [
                         min(cal.provenance["seeds"]), max(cal.provenance["seeds"])],
                     "estimand": cal.provenance["estimand"], "target": TARGET,
                     "band": list(BAND), "versions": package_versions()},
        "correction_pooled": cal.correction.to_dict(),
        "correction_by_size": {str(n): c.to_dict() for n, c in cal.by_size},
        "coverage": rows,
        "coverage_first_pass_seeds_10000_10059": first_pass,
        "source_fixes": variants,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")

    print(f"80% segment-mean intervals on held-out seeds, artifact {ARTIFACT} (one correction "
          f"per size {list(cal.sizes)}; 'pooled' = one correction for all sizes)")
    print(f"{'n':>7} {'fits':>5} {'pairs':>6} {'raw 80%':>16} {'calibrated 80%':>20} "
          f"{'raw lvl':>8} {'raw 90%':>8} {'cal 90%':>8} {'arm raw':>8} {'arm cal':>8} "
          f"{'pooled 80%':>10}")
    for r in rows:
        lo, hi = r["uncalibrated_80_ci95"]
        clo, chi = r["calibrated_80_ci95"]
        print(f"{r['n_visitors']:>7} {r['fits']:>5} {r['segment_estimands']:>6} "
              f"{r['uncalibrated']['0.8']:>6.3f} [{lo:.2f},{hi:.2f}] "
              f"{r['calibrated']['0.8']:>6.3f} [{clo:.2f},{chi:.2f}]"
              f"{'*' if r['calibrated_80_in_band'] else ' ':>3} "
              f"{r['raw_level_used']['0.8']:>8.3f} {r['uncalibrated']['0.9']:>8.3f} "
              f"{r['calibrated']['0.9']:>8.3f} {r['arm_uncalibrated_80']:>8.3f} "
              f"{r['arm_calibrated_80']:>8.3f} {r['pooled_correction_80']:>10.3f}")
    print(f"(* calibrated 80% coverage inside {BAND}; 95% CIs resample fits)")
    print(f"\nsource fixes at n = {VARIANT_SIZE}, seeds {VARIANT_SEEDS.start}-"
          f"{VARIANT_SEEDS.stop - 1} (paired)")
    print(f"{'variant':>10} {'burn':>5} {'chains':>6} {'fits':>5} {'raw 80%':>8} "
          f"{'raw 90%':>8} {'cal 80%':>8} {'fit s':>7}  raw 80% change [95% CI]")
    for v in variants:
        change = v.get("raw_80_change_vs_baseline")
        note = "" if change is None else (
            f"  {change['delta']:+.3f} [{change['ci95'][0]:+.3f},{change['ci95'][1]:+.3f}]")
        print(f"{v['variant']:>10} {v['num_burnin']:>5} {v['num_chains']:>6} {v['fits']:>5} "
              f"{v['uncalibrated_80']:>8.3f} {v['uncalibrated_90']:>8.3f} "
              f"{v['calibrated_80']:>8.3f} {v['fit_seconds_mean']:>7.2f}{note}")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
