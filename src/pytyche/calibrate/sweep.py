"""Coverage sweeps: simulate experiments with known truth, fit them, score the intervals.

A sweep runs one task per (visitor count, seed): simulate from a template, fit the BCF, score
the posterior with :func:`pytyche.calibrate.sbc.evaluate_posterior`. Tasks run in a local
process pool (spawn context, one XLA thread per worker), in this process (``workers=0``), or on
Ray (``backend="ray"``); every backend calls the same module-level task function.

The sweep file is JSON Lines. The first line is a header with the sweep's settings (template,
metric, K, pooling, nominal levels, fit configuration, effect scale) and the pytyche / bartz
versions; every other line is one finished task. Lines are appended whole and fsynced as tasks
finish, so an interrupted sweep leaves at most one torn last line, which the reader drops (and
the next run truncates away). Rerunning with the same settings skips the (size, seed) pairs the
file already holds.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pytyche._integrity import atomic_write, jsonable
from pytyche.contracts import CalibrationRecord

__all__ = [
    "DEFAULT_NOMINAL_LEVELS",
    "SWEEP_FORMAT",
    "SweepEntry",
    "SweepResults",
    "SweepTask",
    "package_versions",
    "read_sweep",
    "run_sweep",
    "run_task",
]

#: Nominal interval levels recorded by default.
DEFAULT_NOMINAL_LEVELS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: Format tag written in a sweep file's header.
SWEEP_FORMAT = "pytyche-sweep/1"
#: Settings that must agree between a sweep file and a run that resumes it.
_SETTING_KEYS = ("template", "metric", "K", "pooling", "nominal_levels", "config",
                 "effect_scale", "warm_start_share")

Backend = Literal["process", "ray"]


def package_versions() -> dict[str, str]:
    """Installed pytyche and bartz versions ("unknown" when not installed)."""
    out = {}
    for name in ("pytyche", "bartz"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _config_dict(config: Any) -> dict[str, Any]:
    if config is None:
        from pytyche.bcf.config import GPUBCFConfig

        config = GPUBCFConfig()
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return dict(config)
    msg = f"config={config!r}: pass a GPUBCFConfig, a mapping of its fields, or None"
    raise TypeError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepTask:
    """One simulate-fit-score job of a sweep (picklable; what workers receive).

    Attributes
    ----------
    template, metric : str
        Simulation template and metric (see :func:`pytyche.generators.simulate`).
    K : int
        Number of arms, control included.
    n_visitors, seed : int
        Size and seed of this experiment; the seed drives both the simulation and the fit.
    pooling : str
        Hurdle pooling ("joint" or "independent"); ignored by the other families.
    nominal_levels : tuple of float
    config : dict
        Fields of :class:`~pytyche.bcf.GPUBCFConfig`.
    effect_scale : float or None
    warm_start_share : float or None
        When set, a pilot fit on this share of each arm's visitors (a random subset) runs
        first and the scored fit is warm-started from its trees, as a sequential
        experiment's next round would be.
    """

    template: str
    metric: str
    K: int
    n_visitors: int
    seed: int
    pooling: str
    nominal_levels: tuple[float, ...]
    config: dict[str, Any] = field(hash=False)
    effect_scale: float | None = None
    warm_start_share: float | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.n_visitors, self.seed)


def _limit_threads() -> None:
    """One XLA/BLAS thread per worker, set before JAX loads (no effect once it has).

    Changes this process's environment, so it runs only inside the worker processes a sweep
    starts (:func:`_run_in_worker`), never in the caller's process.
    """
    import sys

    if "jax" in sys.modules:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def run_task(task: SweepTask) -> dict[str, Any]:
    """Simulate, fit and score one experiment; return the sweep-file line (a dict).

    The fit is chosen by the metric (``fit_hurdle_bcf`` with ``task.pooling`` for revenue,
    :func:`pytyche.bcf.fit` otherwise), without a progress bar.
    """
    from pytyche.bcf import GPUBCFConfig, fit, fit_hurdle_bcf
    from pytyche.calibrate.sbc import evaluate_posterior
    from pytyche.contracts import MetricFamily
    from pytyche.generators import simulate

    observed, truth = simulate(task.template, n_visitors=task.n_visitors, metric=task.metric,
                               K=task.K, effect_scale=task.effect_scale, seed=task.seed)
    config = GPUBCFConfig(**task.config)
    hurdle = observed.metric_family == MetricFamily.HURDLE

    def fit_one(data: Any, warm_start: Any = None) -> Any:
        if hurdle:
            return fit_hurdle_bcf(data, pooling=task.pooling, config=config, seed=task.seed,
                                  progress=False, warm_start=warm_start)
        return fit(data, config=config, seed=task.seed, progress=False, warm_start=warm_start)

    t0 = time.perf_counter()
    pilot = None
    if task.warm_start_share is not None:
        pilot = fit_one(_random_share(observed, task.warm_start_share, task.seed))
    posterior = fit_one(observed, pilot)
    pooling = task.pooling if hurdle else "none"
    seconds = time.perf_counter() - t0
    scores = evaluate_posterior(posterior, truth, nominal_levels=task.nominal_levels)
    record = CalibrationRecord(
        template=task.template, metric=task.metric, n_visitors=task.n_visitors,
        n_treatments=task.K, seed=task.seed, pooling=pooling,
        nominal_levels=tuple(task.nominal_levels),
        segment_coverage=scores["segment_coverage"], arm_coverage=scores["arm_coverage"],
        decision_correct=scores["decision_correct"], regret=scores["regret"],
        segment_hits=scores["segment_hits"], segment_total=scores["segment_total"],
        fit_seconds=seconds,
    )
    return {
        "kind": "result",
        "n_visitors": task.n_visitors,
        "seed": task.seed,
        "record": _record_to_dict(record),
        "segment_levels": scores["segment_levels"],
        "arm_levels": scores["arm_levels"],
        "diagnostics": jsonable(posterior.diagnostics),
    }


def _random_share(observed: Any, share: float, seed: int) -> Any:
    """The same experiment with a random ``share`` of each arm's visitors (a pilot round)."""
    from pytyche.contracts import VariantData

    rng = np.random.default_rng([seed, 7])
    variants = []
    for v in observed.variants:
        keep = np.sort(rng.permutation(v.n_visitors)[: max(1, round(share * v.n_visitors))])
        variants.append(VariantData.from_visitors(v.name, v.visitors.iloc[keep]))
    return dataclasses.replace(observed, variants=tuple(variants))


def _record_to_dict(record: CalibrationRecord) -> dict[str, Any]:
    d = dataclasses.asdict(record)
    d["regret"] = None if math.isnan(record.regret) else record.regret
    return d


def _record_from_dict(d: Mapping[str, Any]) -> CalibrationRecord:
    kw = dict(d)
    for name in ("nominal_levels", "segment_coverage", "arm_coverage", "segment_hits"):
        kw[name] = tuple(float("nan") if v is None else v for v in kw.get(name, ()))
    kw["segment_hits"] = tuple(int(v) for v in kw["segment_hits"])
    if kw.get("regret") is None:
        kw["regret"] = float("nan")
    return CalibrationRecord(**kw)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepEntry:
    """One finished task of a sweep: its record and the tail levels behind it."""

    record: CalibrationRecord
    segment_levels: tuple[float, ...]
    """Smallest covering level per (segment, treatment), segment-major."""
    arm_levels: tuple[float, ...]
    """Smallest covering level per treatment's average effect."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResults:
    """The content of a sweep file.

    Attributes
    ----------
    path : pathlib.Path
    settings : dict
        Header settings (template, metric, K, pooling, nominal_levels, config, effect_scale).
    versions : dict
        Package versions that wrote the header.
    entries : tuple of SweepEntry
        Finished tasks, in file order.
    dropped_torn_line : bool
        Whether a torn last line (an interrupted write) was ignored.
    """

    path: Path
    settings: dict[str, Any]
    versions: dict[str, str]
    entries: tuple[SweepEntry, ...]
    dropped_torn_line: bool = False

    @property
    def records(self) -> tuple[CalibrationRecord, ...]:
        return tuple(e.record for e in self.entries)

    @property
    def done(self) -> set[tuple[int, int]]:
        """The (n_visitors, seed) pairs already in the file."""
        return {(e.record.n_visitors, e.record.seed) for e in self.entries}

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(sorted({e.record.n_visitors for e in self.entries}))

    def tail_levels(
        self, kind: Literal["segment", "arm"] = "segment", *, sizes: Iterable[int] | None = None,
        seeds: Iterable[int] | None = None,
    ) -> np.ndarray:
        """Pooled tail levels of the chosen estimands, optionally for some sizes/seeds only."""
        keep_n = None if sizes is None else set(sizes)
        keep_s = None if seeds is None else set(seeds)
        out: list[float] = []
        for e in self.entries:
            if keep_n is not None and e.record.n_visitors not in keep_n:
                continue
            if keep_s is not None and e.record.seed not in keep_s:
                continue
            out.extend(e.segment_levels if kind == "segment" else e.arm_levels)
        return np.asarray(out, dtype=np.float64)


def _parse_lines(raw: bytes, path: Path) -> tuple[list[dict[str, Any]], int, bool]:
    """Decode complete JSON lines; return them, the byte length they span, and torn-ness."""
    lines = raw.split(b"\n")
    parsed: list[dict[str, Any]] = []
    offset = 0
    torn = False
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if not line.strip():
            if not last:
                offset += len(line) + 1
            continue
        try:
            if last:  # no newline after it: the write did not finish
                raise ValueError
            parsed.append(json.loads(line))
        except ValueError:
            if last:
                torn = True
                break
            msg = (f"{path}: line {i + 1} is not valid JSON and is not the last line, so this "
                   "is not an interrupted sweep file; move it aside and rerun the sweep")
            raise ValueError(msg) from None
        offset += len(line) + 1
    return parsed, offset, torn


def read_sweep(path: str | os.PathLike[str]) -> SweepResults:
    """Read a sweep file, ignoring a torn last line.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file has no sweep header or a corrupt line before the last.
    """
    path = Path(path)
    parsed, _, torn = _parse_lines(path.read_bytes(), path)
    if not parsed or parsed[0].get("format") != SWEEP_FORMAT:
        msg = (f"{path} does not start with a {SWEEP_FORMAT!r} header; pass a file written "
               "by run_sweep")
        raise ValueError(msg)
    header = parsed[0]
    entries = tuple(
        SweepEntry(record=_record_from_dict(d["record"]),
                   segment_levels=tuple(d["segment_levels"]),
                   arm_levels=tuple(d["arm_levels"]))
        for d in parsed[1:] if d.get("kind") == "result"
    )
    return SweepResults(path=path, settings=header["settings"], versions=header["versions"],
                        entries=entries, dropped_torn_line=torn)


def _open_sweep(path: Path, settings: dict[str, Any]) -> set[tuple[int, int]]:
    """Create the file with its header, or validate and repair an existing one; return done."""
    if not path.exists():
        header = {"format": SWEEP_FORMAT, "settings": settings, "versions": package_versions()}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(header) + "\n")
        return set()
    raw = path.read_bytes()
    _, offset, torn = _parse_lines(raw, path)
    if torn or offset < len(raw):
        with open(path, "r+b") as fh:  # drop the torn tail so appends start on a fresh line
            fh.truncate(offset)
            fh.flush()
            os.fsync(fh.fileno())
    existing = read_sweep(path)
    differ = [f"{k}: file has {existing.settings.get(k)!r}, this run {settings.get(k)!r}"
              for k in _SETTING_KEYS if existing.settings.get(k) != settings.get(k)]
    if differ:
        msg = (f"{path} was written by a sweep with other settings ({'; '.join(differ)}); "
               "pass another out= path or rerun with the file's settings")
        raise ValueError(msg)
    return existing.done


def _append_line(path: Path, line: Mapping[str, Any]) -> None:
    data = (json.dumps(line) + "\n").encode()
    with open(path, "ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(p) for p in levels)
    if not out or any(not 0.0 < p < 1.0 for p in out) or list(out) != sorted(set(out)):
        msg = (f"nominal_levels={levels!r}: pass increasing levels strictly between 0 and 1, "
               "e.g. (0.5, 0.8, 0.9)")
        raise ValueError(msg)
    return out


def run_sweep(
    *,
    template: str,
    metric: str,
    K: int,
    sizes: Sequence[int],
    seeds: Iterable[int],
    out: str | os.PathLike[str],
    pooling: str = "joint",
    nominal_levels: Sequence[float] = DEFAULT_NOMINAL_LEVELS,
    config: Any = None,
    effect_scale: float | None = None,
    workers: int | None = None,
    backend: Backend = "process",
    progress: bool = True,
    task_fn: Callable[[SweepTask], dict[str, Any]] | None = None,
    warm_start_share: float | None = None,
) -> SweepResults:
    """Run (or resume) a coverage sweep and return everything its file holds.

    Parameters
    ----------
    template, metric : str
        Simulation template and metric, as for :func:`pytyche.generators.simulate`.
    K : int
        Number of arms, control included.
    sizes : sequence of int
        Visitor counts; every size is run with every seed.
    seeds : iterable of int
        Seeds of the simulated experiments (each also seeds its fit).
    out : path
        Sweep file (JSON Lines). An existing file with the same settings is resumed: its
        finished (size, seed) pairs are skipped.
    pooling : {"joint", "independent"}, default="joint"
        Hurdle pooling; recorded as "none" for non-revenue metrics.
    nominal_levels : sequence of float, default=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
        Levels whose coverage each record reports. The file also keeps each estimand's tail
        level, so coverage at any other level can be computed later.
    config : GPUBCFConfig, mapping or None
        Fit configuration (None: the defaults).
    effect_scale : float or None
        Passed to the template.
    workers : int or None, default=None
        Parallel workers. ``0`` runs in this process; None uses ``min(2, cpu_count)``
        processes, or every CPU Ray offers with ``backend="ray"``.
    backend : {"process", "ray"}, default="process"
        Local spawn-context process pool, or Ray tasks (the ``distributed`` extra). Ray
        connects to the running instance or starts a local one with ``num_cpus=workers``.
    progress : bool, default=True
        Show a tqdm bar over tasks.
    task_fn : callable, optional
        Replaces :func:`run_task` (a picklable module-level function taking a
        :class:`SweepTask` and returning its file line). For custom scoring and tests.
    warm_start_share : float or None
        Warm-start every scored fit from a pilot fit on this share of the visitors (see
        :class:`SweepTask`); recorded in the file's settings.

    Returns
    -------
    SweepResults

    Raises
    ------
    ValueError
        Bad sizes, seeds, levels or backend, or an existing file written with other settings.
    Exception
        The first task error is re-raised after the tasks already finished are saved, so a
        rerun resumes from there.

    Notes
    -----
    Process workers are spawned, so a script that calls this with ``workers != 0`` must guard
    its entry point with ``if __name__ == "__main__":``. Each worker limits XLA to one thread
    and keeps its compiled programs, so submitting tasks size by size (as done here) compiles
    each size once per worker; JAX's persistent compilation cache serves later runs.

    Examples
    --------
    >>> from pytyche.bcf import GPUBCFConfig
    >>> results = run_sweep(  # doctest: +SKIP
    ...     template="clustered_realistic", metric="revenue_per_visitor", K=3,
    ...     sizes=[1_000, 3_000], seeds=range(20), out="sweep.jsonl",
    ...     config=GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=30,
    ...                         num_trees_tau=10))
    >>> results.records[0].segment_coverage  # doctest: +SKIP
    """
    if backend not in ("process", "ray"):
        msg = f"backend={backend!r}: use 'process' (local pool) or 'ray'"
        raise ValueError(msg)
    sizes = [int(n) for n in sizes]
    seeds = [int(s) for s in seeds]
    if not sizes or not seeds or min(sizes) <= 0:
        msg = f"sizes={sizes} and seeds={seeds}: pass at least one positive size and one seed"
        raise ValueError(msg)
    if workers is not None and workers < 0:
        msg = f"workers={workers}: pass 0 (in this process), a positive count, or None"
        raise ValueError(msg)
    levels = _check_levels(nominal_levels)
    if warm_start_share is not None and not 0.0 < warm_start_share < 1.0:
        msg = f"warm_start_share={warm_start_share}: pass a share strictly between 0 and 1"
        raise ValueError(msg)
    settings = {"template": template, "metric": metric, "K": int(K), "pooling": pooling,
                "nominal_levels": list(levels), "config": _config_dict(config),
                "effect_scale": effect_scale}
    if warm_start_share is not None:  # only when used, so older files still resume
        settings["warm_start_share"] = float(warm_start_share)
    path = Path(out)
    done = _open_sweep(path, settings)
    todo = [
        SweepTask(template=template, metric=metric, K=int(K), n_visitors=n, seed=s,
                  pooling=pooling, nominal_levels=levels, config=settings["config"],
                  effect_scale=effect_scale, warm_start_share=warm_start_share)
        for n in sizes for s in seeds if (n, s) not in done
    ]
    fn = task_fn or run_task
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"sweep {template}", unit="fit")

    def save(line: dict[str, Any]) -> None:
        _append_line(path, line)
        if bar is not None:
            bar.update(1)

    try:
        if not todo:
            pass
        elif backend == "ray":
            _run_ray(fn, todo, workers, save)
        elif workers == 0:
            for task in todo:
                save(fn(task))
        else:
            _run_pool(fn, todo, workers or min(2, os.cpu_count() or 1), save)
    finally:
        if bar is not None:
            bar.close()
    return read_sweep(path)


def _run_in_worker(fn: Callable[[SweepTask], dict[str, Any]], task: SweepTask) -> dict[str, Any]:
    """Run one task in a sweep worker process, with one thread for XLA and BLAS."""
    _limit_threads()
    return fn(task)


def _run_pool(fn: Callable[[SweepTask], dict[str, Any]], todo: list[SweepTask], workers: int,
              save: Callable[[dict[str, Any]], None]) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(_run_in_worker, fn, t) for t in todo}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    save(fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _run_ray(fn: Callable[[SweepTask], dict[str, Any]], todo: list[SweepTask],
             workers: int | None, save: Callable[[dict[str, Any]], None]) -> None:
    try:
        import ray
    except ImportError:
        msg = ("backend='ray' needs Ray: install the distributed extra "
               "(pip install 'pytyche[distributed]') or use backend='process'")
        raise ImportError(msg) from None
    if not ray.is_initialized():
        ray.init(num_cpus=workers or None, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_run_in_worker)
    pending = [remote.remote(fn, t) for t in todo]
    try:
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            save(ray.get(finished[0]))
    except BaseException:
        for ref in pending:
            ray.cancel(ref)
        raise
