"""The ``pytyche`` command line: one function per verb, each a thin layer over the public API.

Verbs: ``check-setup``, ``analyze`` (one data set), ``demo`` (a simulated sequential
experiment), ``run`` (one real-data round into a store) and ``status`` (what a store holds).

A pytyche error (bad input, a broken store), a missing file or an unreadable column prints its
message and exits with status 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pytyche.errors import PytycheError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Adaptive A/B/N experiments with heterogeneous treatment effects.",
)
console = Console()

#: BCF settings of ``--quick`` runs (a smoke test, not a result to act on).
QUICK_FIT = {"num_burnin": 60, "num_samples": 100, "num_trees_mu": 30, "num_trees_tau": 10}
#: Bootstrap trees behind segment stability in ``--quick`` runs (50 otherwise).
QUICK_BOOTSTRAP = 10
_DECISION_STYLE = {"SHIP": "bold green", "CONTINUE": "yellow", "STOP": "bold red"}
#: Files ``analyze`` writes into --out; a later run replaces or removes each of them.
_ANALYZE_OUTPUTS = ("report.html", "policy.json", "policy.sql", "summary.json")


class CliError(PytycheError):
    """A command-line input that cannot be used (exit status 2, no traceback)."""


@contextlib.contextmanager
def _clean_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn pytyche errors (and ``extra`` error types) into a message and exit status 2."""
    try:
        yield
    except (PytycheError, *extra) as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


@app.callback()
def _root() -> None:
    """Adaptive A/B/N experiments with heterogeneous treatment effects."""
    # The command line is an application: it asks for JAX's persistent compilation cache
    # (the library leaves JAX's configuration alone unless asked); PYTYCHE_JAX_CACHE=off
    # still turns it off.
    from pytyche.bcf import request_compilation_cache

    request_compilation_cache()


@app.command("check-setup")
def check_setup() -> None:
    """Show versions, JAX devices, CUDA availability and shipped calibration artifacts."""
    from pytyche import check_setup as _check

    report = _check()
    table = Table(title="pytyche setup", show_header=False)
    for label, value in report.lines():
        table.add_row(label, value)
    console.print(table)


# ---- rendering (rich) ----------------------------------------------------------------------


def _num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 or (x != 0 and abs(x) < 1e-3) else f"{x:.{digits}f}"


def _decision(value: Any) -> str:
    text = getattr(value, "value", str(value))
    return f"[{_DECISION_STYLE.get(text, 'white')}]{text}[/]"


def _effects_table(analysis: Any, title: str = "Leaderboard") -> Table:
    """The leaderboard: overall, then per segment; decisions read the first interval."""
    from pytyche.analysis import INTERVAL_NOTES, leaderboard

    board = leaderboard(analysis)
    level = f"{analysis.level:.0%}"
    methods = sorted(set(board["method"])) if not board.empty else []
    caption = "; ".join(f"{level} interval = {INTERVAL_NOTES.get(m, m)}" for m in methods)
    if not board.empty and (board["basis"] == "design").any():
        caption += "; model = BCF posterior mean and credible interval (not used to decide)"
    table = Table(title=f"{title} (decisions use the {level} interval)", caption=caption)
    for col in ("scope", "treatment", "decision", "gate", "effect", f"{level} interval",
                "model", "P(best)"):
        table.add_column(col, justify="right" if col in ("effect", "P(best)") else "left",
                         overflow="fold")
    for row in board.itertuples(index=False):
        model = ("" if row.basis != "design" else
                 f"{_num(row.model_effect)} [{_num(row.model_low)}, {_num(row.model_high)}]")
        table.add_row(escape(row.scope), escape(row.treatment), _decision(row.decision),
                      row.gate, _num(row.effect), f"[{_num(row.low)}, {_num(row.high)}]",
                      model, f"{row.p_best:.0%}")
    return table


def _segments_table(analysis: Any) -> Table:
    from pytyche.viz import short_numbers

    table = Table(title=f"Segments ({analysis.level:.0%} intervals)")
    for col in ("segment", "who", "share", "best", "effect of best", "interval", "stability"):
        table.add_column(col, overflow="fold")
    for s in analysis.segments:
        table.add_row(f"S{s.id}", escape(short_numbers(s.rule.describe())),
                      f"{s.population_share:.0%}", escape(s.best_treatment or "n/a"),
                      _num(s.gate_estimate),
                      f"[{_num(s.gate_ci[0])}, {_num(s.gate_ci[1])}]",
                      _num(s.stability_score, 2))
    return table


def _round_tables(e: Any) -> list[Table]:
    cells = Table(title=f"Round {e.round_idx}: cells")
    for col in ("cell", "weight", "policy", "visitors", "mean outcome", "lift vs control"):
        cells.add_column(col, overflow="fold")
    observations = {o.id: o for o in e.cell_observations}
    for c in e.cells_shipped:
        o = observations.get(c.id)
        lift = ("" if o is None or c.id == "control" else
                f"{_num(o.lift_vs_control)} [{_num(o.lift_vs_control_ci[0])}, "
                f"{_num(o.lift_vs_control_ci[1])}]")
        cells.add_row(escape(c.id), f"{c.weight:.0%}", escape(c.policy.describe()),
                      "" if o is None else f"{o.n_visitors:,}",
                      "" if o is None else _num(o.observed_rpv), lift)
    tables = [cells]
    if e.analysis is not None:
        tables += [_effects_table(e.analysis, f"Round {e.round_idx}: leaderboard"),
                   _segments_table(e.analysis)]
    tc = e.truth_comparison
    if tc is not None:
        truth = Table(title=f"Round {e.round_idx}: against the simulated truth")
        names = ("cate_rmse", "policy_accuracy", "oracle_gap_rpv", "rpv_policy", "rpv_uniform",
                 "rpv_oracle")
        for n in names:
            truth.add_column(n, justify="right")
        truth.add_row(*[_num(float(tc[n] if isinstance(tc, Mapping) else getattr(tc, n)))
                        for n in names])
        tables.append(truth)
    return tables


def _print_files(paths: Mapping[str, Path]) -> None:
    table = Table(title="Written", show_header=False)
    for label, path in paths.items():
        table.add_row(label, escape(str(path)))
    console.print(table)


# ---- analyze --------------------------------------------------------------------------------


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    return names or None


def _load(data: str | None, sql: str | None, database: str | None, **keys: Any) -> Any:
    """Observed data from a CSV/Parquet path or a DuckDB query."""
    from pytyche.data import looks_like_sql, read_csv, read_parquet, read_sql, source_kind

    if sql is not None:
        if data is not None:
            msg = f"give either a DATA file ({data!r}) or --sql, not both"
            raise CliError(msg)
        if not sql.strip():
            msg = "--sql is empty; pass a SELECT query returning one row per visitor"
            raise CliError(msg)
        return read_sql(sql, database, **keys)
    if data is None or not data.strip():
        msg = "give a DATA file (.csv, .tsv, .csv.gz, .parquet) or a query with --sql"
        raise CliError(msg)
    if looks_like_sql(data):
        return read_sql(data, database, **keys)
    kind = source_kind(data)  # a folder of Parquet files reads as "parquet"
    if kind == "parquet":
        return read_parquet(data, **keys)
    if kind in ("csv", "tsv"):
        return read_csv(data, **keys)
    msg = (f"cannot tell the format of {data!r}; use a .csv, .tsv, .csv.gz or .parquet file, "
           "or --sql")
    raise CliError(msg)


def _checked_out(out: str) -> Path:
    """The --out folder, after checking (before any fit) that the outputs can be written."""
    if not out.strip():
        msg = "--out is empty; name a folder for the report and exports (e.g. --out results)"
        raise CliError(msg)
    try:
        path = Path(out).expanduser()
    except RuntimeError as err:
        msg = f"--out {out!r}: {err}; write the folder out in full"
        raise CliError(msg) from None
    if path.exists() and not path.is_dir():
        msg = f"--out {out!r} is a file; pass a folder (it is created when missing)"
        raise CliError(msg)
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        msg = f"--out {out!r} lies inside the file {str(probe)!r}; pass a folder path"
        raise CliError(msg)
    if not os.access(probe, os.W_OK | os.X_OK):
        msg = f"--out {out!r}: cannot write into {str(probe)!r} (permission denied)"
        raise CliError(msg)
    return path


@contextlib.contextmanager
def _staged_outputs(out_dir: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """A fresh folder next to ``out_dir`` that receives every output.

    When the block succeeds its files replace those of ``out_dir`` (created if needed), and any
    of ``names`` left in ``out_dir`` by an earlier run but not written now is removed, so the
    folder never mixes two runs. When the block fails nothing in ``out_dir`` changes.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield staging
        if not out_dir.exists():
            os.replace(staging, out_dir)
        else:
            written = {p.name for p in staging.iterdir()}
            for name in names:
                if name not in written and (out_dir / name).is_file():
                    (out_dir / name).unlink()
            for name in written:
                os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fit_observed(observed: Any, *, seed: int, progress: bool, quick: bool) -> Any:
    """Fit BCF to observed data with the ``--quick`` or default settings."""
    from pytyche.bcf import GPUBCFConfig, fit_for_metric

    options: dict[str, Any] = {}
    if quick:
        options["config"] = GPUBCFConfig(**QUICK_FIT)
    return fit_for_metric(observed, seed=seed, progress=progress, **options)


@app.command()
def analyze(
    data: str = typer.Argument(None, help="CSV / Parquet file (or a DuckDB query)."),
    treatment: str = typer.Option(..., help="Column naming each visitor's treatment."),
    outcome: str = typer.Option(..., help="Outcome column (revenue, conversion, ...)."),
    control: str = typer.Option(None, help="The control treatment (default: inferred)."),
    features: str = typer.Option(None, help="Comma-separated feature columns (default: all)."),
    metric: str = typer.Option(None, help="revenue_per_visitor, conversion_rate or continuous."),
    sql: str = typer.Option(None, help="A DuckDB query returning one row per visitor."),
    database: str = typer.Option(None, help="DuckDB database file for --sql."),
    out: str = typer.Option("pytyche_out", help="Folder for the report and exports."),
    seed: int = typer.Option(0, help="Seed of the fit and of the stability bootstrap."),
    quick: bool = typer.Option(False, help="Small, fast fit (a smoke test, not a result)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Fit BCF to one data set; print effects, decisions and segments; write the report."""
    from pytyche.analysis import analyze as _analyze
    from pytyche.analysis import policy_to_json, policy_to_sql
    from pytyche.data import check_fittable, feature_schema
    from pytyche.report import analysis_summary, write_report

    keys = {"treatment": treatment, "outcome": outcome, "control": control,
            "features": _split(features), "metric": metric}
    with _clean_errors(FileNotFoundError, KeyError, ValueError, _duckdb_error()):
        out_dir = _checked_out(out)
        observed = _load(data, sql, database, **keys)
        check_fittable(observed)
    console.print(escape(f"Loaded {observed.n_visitors:,} visitors, treatments "
                         f"{', '.join(observed.treatments)} (control {observed.control}), "
                         f"metric {observed.metric}."))
    with _clean_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=_uncalibrated())
        posterior = fit_observed(observed, seed=seed, progress=progress, quick=quick)
        console.print("Cross-fitting the outcome model for design-based decisions (one refit "
                      "per half of the visitors)...")
        analysis = _analyze(posterior, n_bootstrap=QUICK_BOOTSTRAP if quick else 50,
                            bootstrap_seed=seed, seed=seed, progress=progress)
    console.print(_effects_table(analysis))
    console.print(_segments_table(analysis))
    settings = {"data": sql or data, "treatment": treatment, "outcome": outcome,
                "control": observed.control, "metric": observed.metric,
                "features": ", ".join(feature_schema(observed).features), "seed": seed,
                "quick": quick, "fit": QUICK_FIT if quick else "GPUBCFConfig defaults",
                "stability bootstrap": QUICK_BOOTSTRAP if quick else 50}
    with _clean_errors(OSError), _staged_outputs(out_dir, _ANALYZE_OUTPUTS) as staging:
        names = {"report": write_report(analysis, staging / "report.html",
                                        settings=settings).name}
        if analysis.policy_tree is not None:
            (staging / "policy.json").write_text(policy_to_json(analysis.policy_tree))
            (staging / "policy.sql").write_text(policy_to_sql(analysis.policy_tree) + "\n")
            names["policy (JSON)"] = "policy.json"
            names["policy (SQL)"] = "policy.sql"
        summary = {**analysis_summary(analysis), "settings": settings}
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, default=_plain))
        names["summary"] = "summary.json"
    _print_files({label: out_dir / name for label, name in names.items()})


def _duckdb_error() -> type[BaseException]:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency
        return CliError
    return duckdb.Error


def _uncalibrated() -> type[Warning]:
    from pytyche.errors import UncalibratedWarning

    return UncalibratedWarning


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


# ---- demo -------------------------------------------------------------------------------------


_EXPERIMENT_OUTPUTS = ("report.html", "evolution.gif", "plan.json", "plan.sql")


def _experiment_outputs(exp: Any, out: Path, settings: Mapping[str, Any], *,
                        plan_files: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Report, GIF (and a real-data run's plan files), staged and moved in only when all are
    written, like ``analyze``'s outputs."""
    from pytyche.report import write_report
    from pytyche.viz import experiment_evolution_gif

    with _clean_errors(OSError, ValueError), _staged_outputs(out, _EXPERIMENT_OUTPUTS) as stage:
        for name, text in (plan_files or {}).items():
            (stage / name).write_text(text)
        write_report(exp, stage / "report.html", settings=settings)
        experiment_evolution_gif(exp, stage / "evolution.gif")
    paths = {f"next plan ({Path(name).suffix[1:].upper()})": out / name
             for name in plan_files or {}}
    return {**paths, "report": out / "report.html", "evolution GIF": out / "evolution.gif"}


@app.command()
def demo(
    out: str = typer.Option("pytyche_demo", help="Output folder (must not hold a store)."),
    full: bool = typer.Option(False, help="The spec's full sizes (slow on CPU)."),
    seed: int = typer.Option(0, help="Seed of the simulation and the fits."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Run a three-round simulated experiment and show each round."""
    try:
        from pytyche.experiment.demo import run_demo
    except ImportError as err:  # the experiment layer is not installed / written yet
        raise CliError(f"the demo needs pytyche.experiment.demo.run_demo ({err})") from None

    out_dir = Path(out)
    with _clean_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=_uncalibrated())
        exp = run_demo(out_dir, full=full, seed=seed, progress=progress)
    for e in exp.history:
        for table in _round_tables(e):
            console.print(table)
    console.print(exp.summary)
    from pytyche.experiment.demo import regret_summary

    console.print(regret_summary(exp)["line"])
    paths = _experiment_outputs(exp, out_dir, {"command": "pytyche demo", "seed": seed,
                                               "full": full})
    paths["summary"] = out_dir / "summary.json"
    paths["store"] = out_dir / "store"
    _print_files(paths)


# ---- run / status (real data, persisted) ----------------------------------------------------


@app.command()
def run(
    store: str = typer.Option(..., help="Experiment store folder (created on the first run)."),
    data: str = typer.Option(..., help="Round data: a file pattern with {round} "
                             "(rounds/r{round}.parquet) or a DuckDB query using {round}."),
    treatment: str = typer.Option("treatment", help="Column of the received treatment."),
    outcome: str = typer.Option(..., help="Outcome column."),
    treatments: str = typer.Option(None, help="All treatments, control first (first run)."),
    features: str = typer.Option(None, help="Comma-separated feature columns (default: all)."),
    metric: str = typer.Option(None, help="Metric id (default: inferred from the outcome)."),
    cell: str = typer.Option("cell", help="Column holding each visitor's cell id."),
    database: str = typer.Option(None, help="DuckDB database file for SQL data."),
    per_round: int = typer.Option(10_000, help="Planned visitors per round (first run)."),
    seed: int = typer.Option(0, help="Master seed (first run; later runs reuse it)."),
    quick: bool = typer.Option(False, help="Small, fast fits (first run; stored)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Analyse the next real-data round into STORE and write the plan for the one after.

    The first run creates the store and reads round 0, which must have been assigned by the
    cold-start plan (Control and Explore cells at 50/50); later runs resume the store and
    read the next round, assigned by the plan the previous run wrote (plan.json / plan.sql).
    """
    from pytyche.experiment import (
        ExperimentStore,
        FixedSchedule,
        SequentialExperiment,
        export_policy_rules,
        real_data_generator,
    )

    store_dir = Path(store)
    with _clean_errors(FileNotFoundError, KeyError, ValueError, _duckdb_error()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", category=_uncalibrated())
        generator = real_data_generator(
            data, treatment=treatment, outcome=outcome, metric=metric,
            features=_split(features), cell=cell, database=database,
            experiment_id=store_dir.name or "experiment")
        fresh = not (store_dir / "manifest.json").exists()
        if fresh:
            names = _split(treatments)
            if not names or len(names) < 2:
                msg = ("the first run creates the store: pass --treatments control,a,b "
                       "(control first)")
                raise CliError(msg)
            from pytyche.bcf.config import GPUBCFConfig

            exp = SequentialExperiment(
                generator=generator, schedule=FixedSchedule(per_round), treatments=names,
                seed=seed, progress=progress, store=store_dir,
                fit_config=GPUBCFConfig(**QUICK_FIT) if quick else None,
                analysis_options={"n_bootstrap": QUICK_BOOTSTRAP} if quick else None)
        else:
            ExperimentStore.open(store_dir)  # a clear StoreError for a foreign folder
            exp = SequentialExperiment.resume(store_dir, generator=generator, progress=progress)
        latest = exp.advance()
    for table in _round_tables(latest):
        console.print(table)
    plan = exp.next_recommendation
    plan_files: dict[str, str] = {}
    if plan is not None:
        with _clean_errors(ValueError):
            plan_files["plan.json"] = json.dumps(export_policy_rules(plan), indent=2)
            plan_files["plan.sql"] = str(export_policy_rules(plan, format="sql")) + "\n"
        console.print(escape(plan.prose_summary))
    _print_files(_experiment_outputs(exp, store_dir, {"command": "pytyche run", "data": data},
                                     plan_files=plan_files))


@app.command()
def status(
    store: str = typer.Option(..., help="Experiment store folder."),
) -> None:
    """Show what a store holds: rounds, the latest cells and decisions, the next plan."""
    from pytyche.experiment import ExperimentStore

    with _clean_errors():
        st = ExperimentStore.open(store)
        config = st.config
        n = st.n_rounds
        console.print(escape(f"Store {store}: {n} committed round(s); treatments "
                             f"{', '.join(config.get('treatments') or [])}."))
        if n == 0:
            return
        rounds = Table(title="Rounds")
        for col in ("round", "visitors", "summary"):
            rounds.add_column(col, overflow="fold")
        last = None
        for r in range(n):
            last = st.read_round(r)
            rounds.add_row(str(r), f"{last.observed.n_visitors:,}",
                           escape(str(last.summary.get("line", ""))))
        console.print(rounds)
    if last is not None:
        plan = last.next_plan
        table = Table(title="Plan for the next round")
        for col in ("cell", "weight", "policy"):
            table.add_column(col, overflow="fold")
        for c in plan.cells:
            table.add_row(escape(c.id), f"{c.weight:.0%}", escape(c.policy.describe()))
        console.print(table)
        if plan.prose_summary:
            console.print(escape(plan.prose_summary))


# ---- calibrate ---------------------------------------------------------------------------


@app.command()
def calibrate(
    sweep: str = typer.Option(..., help="Sweep file (JSON Lines); an existing one is resumed."),
    artifact: str = typer.Option(None, help="Where to write the fitted calibration JSON."),
    name: str = typer.Option(None, help="Name stored in the artifact."),
    template: str = typer.Option("clustered_realistic", help="Scenario template to simulate."),
    metric: str = typer.Option("revenue_per_visitor", help="Metric id."),
    k: int = typer.Option(3, "--k", help="Number of treatments, control included."),
    sizes: str = typer.Option("1000,3000,10000", help="Comma-separated visitor counts."),
    seeds: int = typer.Option(100, help="Seeds 0..N-1 per size."),
    pooling: str = typer.Option("joint", help="Hurdle pooling: joint or independent."),
    workers: int = typer.Option(None, help="Worker processes (default 2; 0 = in process)."),
    backend: str = typer.Option("process", help="process or ray (needs pytyche[distributed])."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
) -> None:
    """Measure interval coverage on simulated experiments and fit a calibration to it."""
    from pytyche.calibrate.workflow import run_calibrate

    with _clean_errors():
        size_list = [int(v) for v in (_split(sizes) or [])]
        fitted = run_calibrate(sweep=sweep, artifact=artifact, name=name, template=template,
                               metric=metric, K=k, sizes=size_list, seeds=seeds,
                               pooling=pooling, workers=workers, backend=backend,  # type: ignore[arg-type]
                               progress=progress)
    table = Table(title=f"Calibration {fitted.name}: raw level used per nominal level")
    table.add_column("nominal")
    table.add_column("raw level")
    for nominal, raw in fitted.describe().items():
        table.add_row(f"{nominal:.0%}", f"{raw:.3f}")
    console.print(table)
    if artifact:
        _print_files({"artifact": Path(artifact)})


def main() -> None:
    """Entry point of the ``pytyche`` script."""
    try:
        app()
    except PytycheError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}")
        sys.exit(2)
