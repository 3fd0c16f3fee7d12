"""``Calibration``: a fitted correction plus the regime it was fitted for, and the registry.

A calibration applies to a posterior only when the regime matches: the metric, the number of
treatments K, and the hurdle pooling mode ("none" for non-revenue fits). Under-coverage grows
with the number of visitors, so a calibration fitted to a sweep over several sizes keeps one
correction per size and resolves the one for a posterior's size (interpolated in log n) when
it is attached to that posterior. Shipped artifacts are
JSON files in ``pytyche/calibrate/artifacts/``, one per name; ``scripts/fit_calibration.py``
reruns the sweep behind them and rewrites them.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pytyche.calibrate.correction import DEFAULT_FIT_GRID, LayeredCalibrationCorrection
from pytyche.calibrate.sweep import SWEEP_FORMAT, SweepResults, package_versions, read_sweep
from pytyche.contracts import MetricFamily, ObservedExperimentData, metric_family_of
from pytyche.errors import PytycheWarning, UncalibratedWarning

__all__ = ["ARTIFACT_FORMAT", "Calibration", "artifact_path", "available_artifacts"]

#: Format tag of a saved calibration JSON.
ARTIFACT_FORMAT = "pytyche-calibration/1"
_ARTIFACT_DIR = "artifacts"
#: How far past the largest measured size a posterior may be before a warning says so.
_EXTRAPOLATION_FACTOR = 2.0


def _artifact_files() -> dict[str, Any]:
    folder = resources.files("pytyche.calibrate").joinpath(_ARTIFACT_DIR)
    if not folder.is_dir():
        return {}
    return {f.name.removesuffix(".json"): f for f in folder.iterdir()
            if f.name.endswith(".json")}


def available_artifacts() -> tuple[str, ...]:
    """Names of the calibration artifacts shipped with this install, sorted."""
    return tuple(sorted(_artifact_files()))


def artifact_path(name: str) -> Path:
    """Where the shipped artifact ``name`` lives (the file may not exist yet)."""
    return Path(str(resources.files("pytyche.calibrate").joinpath(_ARTIFACT_DIR))) / (
        f"{name}.json")


#: The sampler settings a calibration's regime covers: forest sizes and chain length.
SAMPLER_FIELDS = ("num_trees_mu", "num_trees_tau", "num_burnin", "num_samples", "num_chains")


def _default_pooling(metric: str) -> str:
    return "joint" if metric_family_of(metric) == MetricFamily.HURDLE else "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """A coverage correction and the regime (metric, K, pooling) it was measured in.

    Build one with :meth:`from_sweep` (a shipped name, a saved artifact or a sweep file),
    :meth:`fit` (a :class:`~pytyche.calibrate.SweepResults`) or :meth:`skip`.

    Attributes
    ----------
    correction : LayeredCalibrationCorrection or None
        The nominal→coverage map; None only for :meth:`skip`. For a size-aware calibration
        that is not yet resolved, the map pooled over every size (used when the size is
        unknown).
    metric : str or None
        Metric of the sweep (e.g. "revenue_per_visitor"); None for :meth:`skip`.
    n_treatments : int or None
        K of the sweep, control included.
    pooling : str or None
        "joint" or "independent" for revenue sweeps, "none" for the other metrics.
    name : str
        Artifact name (or "custom", "skip").
    applied : bool
        False for :meth:`skip`: intervals stay raw and posteriors stay labelled uncalibrated.
    provenance : dict
        Versions and sweep settings behind the fit.
    by_size : tuple of (int, LayeredCalibrationCorrection)
        One correction per sweep size (number of visitors), ascending; empty for a
        calibration that does not depend on size or is already resolved by
        :meth:`for_size`.
    """

    correction: LayeredCalibrationCorrection | None
    metric: str | None
    n_treatments: int | None
    pooling: str | None
    name: str = "custom"
    applied: bool = True
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)
    by_size: tuple[tuple[int, LayeredCalibrationCorrection], ...] = ()

    def __post_init__(self) -> None:
        if self.applied and (self.correction is None or self.metric is None
                             or self.n_treatments is None or self.pooling is None):
            msg = (f"Calibration {self.name!r}: an applied calibration needs correction, "
                   "metric, n_treatments and pooling; use Calibration.skip() for none")
            raise ValueError(msg)
        if self.metric is not None:
            metric_family_of(self.metric)
        if self.pooling not in (None, "joint", "independent", "none"):
            msg = (f"pooling={self.pooling!r}: use 'joint' or 'independent' (revenue) or "
                   "'none'")
            raise ValueError(msg)
        sizes = [n for n, _ in self.by_size]
        if any(n <= 0 for n in sizes) or sizes != sorted(set(sizes)):
            msg = (f"by_size sizes {sizes}: need distinct positive visitor counts in "
                   "ascending order")
            raise ValueError(msg)

    # ---- constructors ---------------------------------------------------------------------

    @classmethod
    def skip(cls) -> Calibration:
        """Run uncalibrated on purpose: intervals stay raw, posteriors are labelled so."""
        return cls(correction=None, metric=None, n_treatments=None, pooling=None, name="skip",
                   applied=False)

    @classmethod
    def from_sweep(cls, name_or_path: str | os.PathLike[str]) -> Calibration:
        """Load a shipped artifact, a saved artifact JSON, or fit a sweep file.

        Parameters
        ----------
        name_or_path : str or path
            A name from :func:`available_artifacts` (e.g. ``"clustered_realistic_v1"``), a
            JSON file written by :meth:`save`, or a sweep file written by
            :func:`~pytyche.calibrate.run_sweep` (fitted with :meth:`fit` defaults).

        Raises
        ------
        ValueError
            Neither a shipped name nor a readable artifact or sweep file.
        """
        shipped = _artifact_files()
        if isinstance(name_or_path, str) and name_or_path in shipped:
            data = json.loads(shipped[name_or_path].read_text(encoding="utf-8"))
            return cls.from_dict(data)
        path = Path(name_or_path)
        if not path.is_file():
            msg = (f"{str(name_or_path)!r} is neither a shipped calibration "
                   f"({', '.join(sorted(shipped)) or 'none installed'}) nor an existing file; "
                   "pass one of those names or the path of an artifact or sweep file")
            raise ValueError(msg)
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
        try:
            head = json.loads(first)
        except ValueError:
            head = None
        if isinstance(head, dict) and head.get("format") == SWEEP_FORMAT:
            return cls.fit(read_sweep(path), name=path.stem)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("format") != ARTIFACT_FORMAT:
            msg = (f"{path} is neither a calibration artifact ({ARTIFACT_FORMAT!r}) nor a "
                   f"sweep file ({SWEEP_FORMAT!r})")
            raise ValueError(msg)
        return cls.from_dict(data)

    @classmethod
    def fit(
        cls,
        sweep: SweepResults,
        *,
        name: str = "custom",
        sizes: Iterable[int] | None = None,
        seeds: Iterable[int] | None = None,
        min_misses: int = 20,
        max_ceiling: float = 0.95,
        per_size: bool = True,
    ) -> Calibration:
        """Fit the layered correction to a sweep's segment-mean intervals.

        Every (segment, treatment) estimand of the selected sizes and seeds contributes its
        tail level; see :meth:`LayeredCalibrationCorrection.from_tail_levels`. The pooled
        correction uses all of them. With ``per_size`` and a sweep over several sizes, each
        size also gets its own correction from its own estimands (a size with too few misses
        to fit is left out and named in the provenance); :meth:`for_size` interpolates
        between them.
        """
        sizes = None if sizes is None else sorted(int(n) for n in sizes)
        seeds = None if seeds is None else sorted(int(s) for s in seeds)
        u = sweep.tail_levels("segment", sizes=sizes, seeds=seeds)
        correction = LayeredCalibrationCorrection.from_tail_levels(
            u, min_misses=min_misses, max_ceiling=max_ceiling)
        by_size: list[tuple[int, LayeredCalibrationCorrection]] = []
        unfitted: list[int] = []
        chosen = [n for n in sweep.sizes if sizes is None or n in sizes]
        if per_size and len(chosen) > 1:
            for n in chosen:
                u_n = sweep.tail_levels("segment", sizes=[n], seeds=seeds)
                try:
                    by_size.append((n, LayeredCalibrationCorrection.from_tail_levels(
                        u_n, min_misses=min_misses, max_ceiling=max_ceiling)))
                except ValueError:
                    unfitted.append(n)
        settings = dict(sweep.settings)
        used = [e.record for e in sweep.entries
                if (sizes is None or e.record.n_visitors in sizes)
                and (seeds is None or e.record.seed in seeds)]
        pooling = settings["pooling"] if (
            metric_family_of(settings["metric"]) == MetricFamily.HURDLE) else "none"
        provenance = {
            "fitted_with": package_versions(),
            "sweep_versions": dict(sweep.versions),
            "sweep_settings": settings,
            "sweep_file": sweep.path.name,
            "sizes": sorted({r.n_visitors for r in used}),
            "seeds": sorted({r.seed for r in used}),
            "n_fits": len(used),
            "n_estimands": int(u.size),
            "estimand": "segment mean CATE over the truth's clusters, per treatment",
            "fit_grid": list(DEFAULT_FIT_GRID),
            "min_misses": min_misses,
            "max_ceiling": max_ceiling,
            "per_size_sizes": [n for n, _ in by_size],
            "per_size_too_few_misses": unfitted,
        }
        return cls(correction=correction, metric=settings["metric"],
                   n_treatments=int(settings["K"]), pooling=pooling, name=name,
                   provenance=provenance, by_size=tuple(by_size))

    # ---- size -----------------------------------------------------------------------------

    @property
    def sizes(self) -> tuple[int, ...]:
        """Visitor counts with their own correction (empty when not size-aware)."""
        return tuple(n for n, _ in self.by_size)

    def for_size(self, n_visitors: int) -> Calibration:
        """This calibration resolved for a posterior fitted on ``n_visitors`` visitors.

        Between two measured sizes the coverage curves R(p) are blended linearly in log n
        and the layered correction is refitted to the blend (a blend of non-decreasing maps
        is non-decreasing, so it stays invertible); the lower layer stops at the smaller of
        the two ceilings. Below the smallest measured size the smallest size's correction
        applies; above the largest, the largest's, with a :class:`PytycheWarning` once n is
        more than twice the largest size, since under-coverage keeps growing with n.

        Returns ``self`` when the calibration is not size-aware (or already resolved).
        """
        if not self.by_size:
            return self
        n = int(n_visitors)
        if n <= 0:
            msg = f"n_visitors={n_visitors!r}: pass the posterior's positive visitor count"
            raise ValueError(msg)
        sizes = self.sizes
        if n > _EXTRAPOLATION_FACTOR * sizes[-1]:
            warnings.warn(
                f"calibration {self.name!r} was measured up to {sizes[-1]:,} visitors; this "
                f"posterior has {n:,}. Its intervals use the {sizes[-1]:,}-visitor correction "
                "and may still under-cover: run a sweep at this size (pytyche calibrate "
                "--sizes ...) for a measured correction",
                PytycheWarning, stacklevel=2)
        resolved = _blend(self.by_size, n)
        provenance = {**dict(self.provenance), "resolved_for_n_visitors": n}
        return replace(self, correction=resolved, by_size=(), provenance=provenance)

    # ---- regime ---------------------------------------------------------------------------

    def mismatches(
        self, observed: ObservedExperimentData, *, pooling: str | None = None
    ) -> list[str]:
        """Each regime dimension where ``observed`` differs, as ``"dim: ... vs ..."``.

        Parameters
        ----------
        observed : ObservedExperimentData
        pooling : str or None
            Pooling of the fit; None means the default for the data ("joint" for revenue,
            "none" otherwise).

        Returns
        -------
        list of str
            Empty when the calibration applies (always empty for :meth:`skip`).
        """
        if not self.applied:
            return []
        out = []
        if observed.metric != self.metric:
            out.append(f"metric: calibration fitted on {self.metric!r}, data is "
                       f"{observed.metric!r}")
        if observed.n_treatments != self.n_treatments:
            out.append(f"n_treatments: calibration fitted with {self.n_treatments}, data has "
                       f"{observed.n_treatments}")
        actual = _default_pooling(observed.metric) if pooling is None else str(pooling)
        if actual != self.pooling:
            out.append(f"pooling: calibration fitted with {self.pooling!r}, posterior uses "
                       f"{actual!r}")
        return out

    def config_mismatch(self, config: Any) -> str | None:
        """How the sampler settings of ``config`` differ from the sweep's, or None.

        A correction measured with one forest size and chain length says nothing about the
        coverage of another (more trees and draws change how narrow intervals are), so a
        posterior fitted otherwise is left uncalibrated. Artifacts that do not record their
        sampler settings are taken at their word.
        """
        measured = (self.provenance.get("sweep_settings") or {}).get("config") or {}
        if not self.applied or not measured or config is None:
            return None
        differ = [f"{key} {measured[key]} (calibration) vs {getattr(config, key)} (fit)"
                  for key in SAMPLER_FIELDS
                  if key in measured and getattr(config, key, measured[key]) != measured[key]]
        return "; ".join(differ) or None

    def checked_for(self, observed: ObservedExperimentData, *, pooling: str | None,
                    subject: str, config: Any = None) -> Calibration | None:
        """This calibration after checking its regime against ``observed``, resolved for the
        data's number of visitors when it is size-aware (:meth:`for_size`).

        What a fit and ``posterior.apply_calibration`` attach. ``pooling`` is the fitted
        model's (None: a non-hurdle model). A calibration measured with other sampler settings
        than ``config`` is not applied: the result is None, with an
        :class:`~pytyche.errors.UncalibratedWarning`.

        Raises
        ------
        ValueError
            Naming each mismatched dimension (metric, number of treatments, pooling) of the
            ``subject`` ("data" or "posterior").
        """
        # The model actually fitted decides the pooling: a non-hurdle fit pools nothing,
        # whatever the metric is called.
        mismatches = self.mismatches(observed, pooling="none" if pooling is None else pooling)
        if mismatches:
            msg = f"calibration does not apply to this {subject}: " + "; ".join(mismatches)
            raise ValueError(msg)
        differ = self.config_mismatch(config) if config is not None else None
        if differ:
            warnings.warn(
                f"calibration {self.name!r} was measured with other sampler settings "
                f"({differ}); this {subject} stays uncalibrated (decisions are design-based "
                "and do not use it)",
                UncalibratedWarning,
                stacklevel=4,
            )
            return None
        return self.for_size(observed.n_visitors)

    def applies_to(self, observed: ObservedExperimentData, pooling: str | None = None) -> bool:
        """Whether metric, number of treatments and pooling all match this calibration."""
        return not self.mismatches(observed, pooling=pooling)

    def adjust_level(self, nominal: float) -> float:
        """Raw interval level that achieves ``nominal`` coverage (``nominal`` itself for skip).

        A size-aware calibration not yet resolved with :meth:`for_size` uses its pooled
        correction here; attaching it to a posterior resolves it for that posterior's size.
        """
        if self.correction is None:
            return float(nominal)
        return self.correction.adjust_level(nominal)

    # ---- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` rebuilds it."""
        return {
            "format": ARTIFACT_FORMAT,
            "name": self.name,
            "applied": self.applied,
            "metric": self.metric,
            "n_treatments": self.n_treatments,
            "pooling": self.pooling,
            "correction": None if self.correction is None else self.correction.to_dict(),
            "by_size": [{"n_visitors": n, "correction": c.to_dict()} for n, c in self.by_size],
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Rebuild a calibration written by :meth:`to_dict`."""
        if data.get("format") != ARTIFACT_FORMAT:
            msg = (f"calibration format={data.get('format')!r}: expected {ARTIFACT_FORMAT!r}; "
                   "refit it with scripts/fit_calibration.py or Calibration.fit")
            raise ValueError(msg)
        correction = data.get("correction")
        return cls(
            correction=None if correction is None
            else LayeredCalibrationCorrection.from_dict(correction),
            metric=data.get("metric"), n_treatments=data.get("n_treatments"),
            pooling=data.get("pooling"), name=data.get("name", "custom"),
            applied=bool(data.get("applied", True)),
            provenance=dict(data.get("provenance") or {}),
            by_size=tuple((int(d["n_visitors"]),
                           LayeredCalibrationCorrection.from_dict(d["correction"]))
                          for d in data.get("by_size") or ()),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the artifact JSON (atomically) and return its path."""
        from pytyche._integrity import atomic_write

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    def curve(
        self, levels: Iterable[float] | None = None, *, n_visitors: int | None = None
    ) -> dict[str, list[float]]:
        """The fitted R(p) curve: measured coverage of raw intervals at each nominal level
        (``{"nominal": [...], "empirical": [...]}``; what :func:`pytyche.viz.plot_calibration`
        draws). ``n_visitors`` picks the size-resolved curve; default: the pooled one."""
        cal = self if n_visitors is None else self.for_size(n_visitors)
        grid = [float(p) for p in (levels if levels is not None else
                                   [i / 100 for i in range(5, 100, 5)])]
        return {"nominal": grid, "empirical": [float(cal.correction.coverage(p)) for p in grid]}

    def describe(
        self, levels: Iterable[float] = (0.5, 0.8, 0.9, 0.95), *, n_visitors: int | None = None
    ) -> dict[float, float]:
        """Raw level used for each nominal level, e.g. ``{0.8: 0.93, ...}``, pooled or for
        ``n_visitors``."""
        cal = self if n_visitors is None else self.for_size(n_visitors)
        return {float(p): cal.adjust_level(p) for p in levels}


def _blend(
    by_size: tuple[tuple[int, LayeredCalibrationCorrection], ...], n: int
) -> LayeredCalibrationCorrection:
    """The correction at ``n`` visitors: R(p) blended linearly in log n between neighbours."""
    sizes = [s for s, _ in by_size]
    if n <= sizes[0]:
        return by_size[0][1]
    if n >= sizes[-1]:
        return by_size[-1][1]
    hi = next(i for i, s in enumerate(sizes) if s >= n)
    (n_lo, lo), (n_hi, up) = by_size[hi - 1], by_size[hi]
    if n == n_hi:
        return up
    w = (math.log(n) - math.log(n_lo)) / (math.log(n_hi) - math.log(n_lo))
    ceiling = min(lo.ceiling, up.ceiling)
    grid = sorted({*(p for p in DEFAULT_FIT_GRID if p < ceiling), ceiling})
    blended = [(1.0 - w) * lo.coverage(p) + w * up.coverage(p) for p in grid]
    return LayeredCalibrationCorrection.from_pairs(grid, blended, ceiling=ceiling,
                                                   max_level=min(lo.max_level, up.max_level))

