"""Rerun the coverage sweep behind a shipped calibration artifact and refit the artifact.

Usage (from the repository root)::

    python scripts/fit_calibration.py                     # clustered_realistic_v1
    python scripts/fit_calibration.py --workers 4 --backend ray

The sweep file resumes: finished (size, seed) fits are not redone, so rerunning with the
committed sweep file only refits the correction. Delete the sweep file to measure from scratch.
The artifact records the pytyche and bartz versions and every sweep setting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytyche.bcf import GPUBCFConfig
from pytyche.calibrate import artifact_path, run_calibrate

ROOT = Path(__file__).resolve().parents[1]
SWEEP_DIR = ROOT / "benchmarks" / "results" / "calibration_sweeps"

#: Every shipped artifact and the sweep that defines it.
ARTIFACTS = {
    "clustered_realistic_v1": {
        "template": "clustered_realistic",
        "metric": "revenue_per_visitor",
        "K": 3,
        "pooling": "joint",
        "sizes": (1_000, 3_000, 10_000, 30_000),
        # a 30k fit costs ~10x a 1k fit: fewer seeds there, still 480 segment estimands
        "seeds": {1_000: range(0, 150), 3_000: range(0, 150), 10_000: range(0, 150),
                  30_000: range(0, 60)},
        "config": GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=30,
                               num_trees_tau=10),
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="clustered_realistic_v1", choices=sorted(ARTIFACTS))
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel fits (0: in this process; default: 2 processes)")
    parser.add_argument("--backend", choices=("process", "ray"), default="process")
    parser.add_argument("--sweep", type=Path, default=None, help="sweep file to write/resume")
    parser.add_argument("--artifact", type=Path, default=None,
                        help="where to write the artifact (default: inside the package)")
    args = parser.parse_args()
    spec = ARTIFACTS[args.name]
    sweep = args.sweep or SWEEP_DIR / f"{args.name}_fit.jsonl"
    artifact = args.artifact or artifact_path(args.name)
    calibration = run_calibrate(sweep=sweep, artifact=artifact, name=args.name,
                                workers=args.workers, backend=args.backend, **spec)
    corr = calibration.correction
    print(f"wrote {artifact}")
    print(f"ceiling {corr.ceiling:.3f}, scale {corr.scale:.3f}, "
          f"{calibration.provenance['n_fits']} fits, "
          f"{calibration.provenance['n_estimands']} segment estimands")
    for nominal, raw in calibration.describe().items():
        print(f"  nominal {nominal:.2f} -> raw level {raw:.4f}")


if __name__ == "__main__":
    main()
