"""Build the HTML report of one analysis or of a sequential experiment."""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytyche.report._html import (
    badge,
    fmt,
    inline_figure,
    kv_table,
    page,
    section,
    table,
)

__all__ = ["analysis_summary", "posterior_diagnostics", "render_report", "write_report"]

_CLAIM_COLORS = {"calibrated": "#009E73", "uncalibrated": "#E69F00",
                 "insufficient_data": "#D55E00"}
#: R-hat above this is flagged as "chains have not mixed".
RHAT_WARN = 1.05


def _decision_badge(decision: Any) -> str:
    from pytyche.viz import DECISION_COLORS

    value = getattr(decision, "value", str(decision))
    return badge(value, DECISION_COLORS.get(value, "#555555"))


def _short(text: str) -> str:
    from pytyche.viz import short_numbers

    return short_numbers(text)


def posterior_diagnostics(posterior: Any) -> dict[str, Any] | None:
    """MCMC diagnostics of a posterior (R-hat, ESS), wherever the fit keeps them.

    Looks at ``posterior.diagnostics`` (a mapping, or a method returning one) and at
    ``posterior.result.diagnostics`` (array-level fits); None when neither exists.
    """
    for owner in (posterior, getattr(posterior, "result", None)):
        diag = getattr(owner, "diagnostics", None)
        if callable(diag):
            diag = diag()
        if isinstance(diag, Mapping) and diag:
            return dict(diag)
    return None


def _diagnostics_html(posterior: Any, treatments: tuple[str, ...]) -> str:
    diag = posterior_diagnostics(posterior)
    if diag is None:
        return ("<p>This posterior reports no MCMC diagnostics (R-hat, effective sample size); "
                "they are available once fits come from <code>pytyche.bcf</code>.</p>")
    rows: list[tuple[str, str, str, str]] = []

    def flag(rhat: Any) -> str:
        try:
            return "check: chains have not mixed" if float(rhat) > RHAT_WARN else "ok"
        except (TypeError, ValueError):
            return ""

    if "rhat_sigma" in diag:
        rows.append(("residual scale σ", fmt(diag["rhat_sigma"]), _ess(diag.get("ess_sigma")),
                     flag(diag["rhat_sigma"])))
    rhats = list(diag.get("rhat_mean_cate", []) or [])
    esses = list(diag.get("ess_mean_cate", []) or [])
    for j, rhat in enumerate(rhats):
        name = treatments[j + 1] if j + 1 < len(treatments) else f"arm {j + 1}"
        ess = esses[j] if j < len(esses) else None
        rows.append((f"mean effect of {name}", fmt(rhat), _ess(ess), flag(rhat)))
    known = {"rhat_sigma", "ess_sigma", "rhat_mean_cate", "ess_mean_cate"}
    extra = {k: v for k, v in diag.items() if k not in known}
    out = table(["quantity", "R-hat", "effective sample size", "status"], rows,
                numeric=(1, 2))
    if extra:
        out += kv_table(extra)
    return out + (f"<p>R-hat near 1 means the chains agree; above {RHAT_WARN} the draws are "
                  "not yet trustworthy. An effective sample size of a few hundred is enough "
                  "for 80% intervals.</p>")


def _ess(value: Any) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(x) else f"{x:,.0f}"


def _effects_html(analysis: Any) -> str:
    """The leaderboard: per treatment overall, then per segment, with the gate that fired."""
    from pytyche.analysis import INTERVAL_NOTES, leaderboard

    board = leaderboard(analysis)
    if board.empty:
        return "<p>No comparisons.</p>"
    level = f"{analysis.level:.0%}"
    design = bool((board["basis"] == "design").any())
    rows = []
    for r in board.itertuples(index=False):
        model = (f"{fmt(r.model_effect)} [{fmt(r.model_low)}, {fmt(r.model_high)}]"
                 if r.basis == "design" else "")
        rows.append((_short(r.scope), r.treatment, _decision_badge(r.decision), r.gate,
                     fmt(r.effect), f"[{fmt(r.low)}, {fmt(r.high)}]",
                     f"{r.relative_effect:+.1%}" if math.isfinite(r.relative_effect) else "n/a",
                     f"{r.p_best:.0%}", f"{r.p_positive:.0%}", f"{r.p_harmful:.0%}", model,
                     r.evidence))
    control = analysis.comparisons[0].control
    out = table(["scope", "treatment", "decision", "gate", f"effect vs {control}",
                 f"{level} decision interval", "relative", "P(best)", "P(>0)", "P(harm)",
                 "model (BCF posterior)", "evidence"], rows, numeric=(4, 5, 6, 7, 8, 9),
                raw=(2,))
    notes = sorted({INTERVAL_NOTES.get(m, m) for m in board["method"]})
    out += "<p>" + html.escape(f"The {level} decision interval is " + "; ".join(notes) + ".")
    if design:
        out += html.escape(
            " P(>0) and P(harm) are simultaneous over every treatment and direction "
            f"({int(board['n_claims'].iloc[0])} claims overall), so SHIP at P(>0) > 95% has a "
            "family-wise false-SHIP rate of at most 5%. Segments are found on one half of the "
            "visitors and measured on the other. The model column is the BCF posterior: it "
            "finds where effects live and drives the traffic split, but decisions do not read "
            "it.")
    return out + "</p>"


def _segments_html(analysis: Any) -> str:
    segs = list(analysis.segments)
    if not segs:
        return "<p>No segments were found.</p>"
    rows = []
    for s in segs:
        stab = "n/a" if math.isnan(s.stability_score) else f"{s.stability_score:.2f}"
        rows.append((f"S{s.id}", _short(s.rule.describe()), f"{s.population_share:.0%}",
                     fmt(s.n_visitors), s.best_treatment or "n/a", fmt(s.gate_estimate),
                     f"[{fmt(s.gate_ci[0])}, {fmt(s.gate_ci[1])}]", stab))
    out = table(["segment", "who (rule)", "share", "visitors", "best treatment",
                 "effect of best vs control", f"{analysis.level:.0%} interval", "stability"],
                rows, numeric=(2, 3, 5, 6, 7))
    out += ("<p>Stability is the share of bootstrap policy trees that reproduce the segment; "
            "act on segments at 0.80 or above.</p>")
    return out


def _data_html(analysis: Any) -> str:
    observed = analysis.posterior.observed
    rows = [(v.name, fmt(v.n_visitors), fmt(v.n_conversions),
             fmt(v.total_revenue / v.n_visitors if v.n_visitors else float("nan")))
            for v in observed.variants]
    claim = analysis.claim_level.value
    return (f"<p>Metric <b>{html.escape(observed.metric)}</b>; claim level "
            f"{badge(claim, _CLAIM_COLORS.get(claim, '#555'))}. "
            + _claim_text(claim) + "</p>"
            + table(["treatment", "visitors", "converters", "mean outcome"], rows,
                    numeric=(1, 2, 3)))


def _claim_text(claim: str) -> str:
    return {
        "calibrated": ("Model-based intervals were corrected with a coverage calibration for "
                       "this regime; design-based decision intervals need none."),
        "uncalibrated": ("Model-based intervals are raw posterior intervals; BART posteriors "
                         "tend to be too narrow, so read them as optimistic. Design-based "
                         "decision intervals do not depend on the model and need no "
                         "calibration."),
        "insufficient_data": ("Some arm has too few visitors or converters: treat every "
                              "decision as 'keep collecting'."),
    }.get(claim, "")


def _analysis_body(analysis: Any, *, heading_level: int = 2) -> str:
    from pytyche import viz

    h = heading_level
    parts = [
        section("Leaderboard", _effects_html(analysis),
                inline_figure(lambda: viz.plot_leaderboard(analysis),
                              "Effect of each treatment versus control and P(best)"),
                level=h),
        section("Data", _data_html(analysis), level=h),
    ]
    if analysis.posterior.has_decomposition():
        parts.append(section("Conversion versus basket size", inline_figure(
            lambda: viz.plot_decomposition(analysis),
            "Revenue effect split into the conversion part and the basket-size part"),
            level=h))
    seg_plots = inline_figure(lambda: viz.plot_segment_intervals(analysis, level=analysis.level),
                              "Segment effects (best treatment versus control)")
    if analysis.policy_tree is not None:
        seg_plots += inline_figure(lambda: viz.plot_policy_tree(analysis),
                                   "Policy tree with the Thompson allocation per segment")
    parts.append(section("Segments", _segments_html(analysis), seg_plots, level=h))
    parts.append(section("Diagnostics", _diagnostics_html(
        analysis.posterior, tuple(analysis.posterior.treatments)), level=h))
    return "".join(parts)


def _settings_dict(source: Any, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    store = getattr(source, "store", None)
    if store is not None and getattr(store, "config", None):
        out.update({k: v for k, v in store.config.items() if v is not None})
    elif isinstance(getattr(source, "treatments", None), list | tuple):
        out["treatments"] = list(source.treatments)
    posterior = getattr(source, "posterior", None)
    config = getattr(posterior, "config", None)
    if hasattr(config, "to_dict"):
        out["fit config"] = config.to_dict()
    if settings:
        out.update(settings)
    return out


def _experiment_body(exp: Any) -> str:
    from pytyche import viz

    experiments = list(getattr(exp, "history", exp))
    parts = []
    summary = getattr(exp, "summary", None)
    if isinstance(summary, str):
        parts.append(section("Summary", f'<div class="prose">{html.escape(summary)}</div>'))
    parts.append(section(
        "Over the rounds",
        inline_figure(lambda: viz.plot_allocation_over_rounds(exp),
                      "Share of each round's visitors per treatment"),
        inline_figure(lambda: viz.plot_rpv_by_cell(exp),
                      "Mean outcome per visitor by cell"),
    ))
    if (regret := _regret_html(exp)):
        parts.append(section("Regret against a fixed uniform split", regret))
    for e in experiments:
        parts.append(section(f"Round {e.round_idx}", _round_html(e)))
    latest = next((e for e in reversed(experiments) if e.analysis is not None), None)
    if latest is not None:
        parts.append(section(f"Analysis of round {latest.round_idx} (cumulative data)",
                             _analysis_body(latest.analysis, heading_level=3)))
    plan = experiments[-1].next_recommendation
    if plan is not None:
        parts.append(section("Plan for the next round", _plan_html(plan)))
    return "".join(parts)


def _regret_html(exp: Any) -> str:
    """Per-round and cumulative regret of the loop against a uniform split (sim mode only).

    Empty when the source is not a sequential experiment or any round lacks the truth.
    """
    rounds = getattr(exp, "rounds", None)
    treatments = getattr(exp, "treatments", None)
    if not rounds or treatments is None or any(
            getattr(r, "truth", None) is None or r.truth.potential_outcomes is None
            for r in rounds):
        return ""
    from pytyche.analysis import loop_regret

    rows, loop_total, uniform_total, n_total = [], 0.0, 0.0, 0
    for r in loop_regret(rounds, treatments):
        loop_total += r.regret
        uniform_total += r.uniform_regret
        n_total += r.n_visitors
        rows.append((r.round_idx, fmt(r.n_visitors), fmt(r.regret / r.n_visitors),
                     fmt(r.uniform_regret / r.n_visitors), fmt(loop_total),
                     fmt(uniform_total),
                     fmt(loop_total / uniform_total) if uniform_total > 0 else "n/a"))
    note = ("<p>Regret: the mean outcome lost against each visitor's truly best arm under the "
            "allocation the round shipped, and under a fixed 1/K split of the same visitors; "
            f"cumulative over {fmt(n_total)} visitors.</p>")
    return note + table(["round", "visitors", "regret per visitor", "uniform regret per visitor",
                         "cumulative regret", "cumulative uniform regret", "ratio"],
                        rows, numeric=(1, 2, 3, 4, 5, 6))


def _round_html(e: Any) -> str:
    from pytyche import viz

    rows = [(c.id, f"{c.weight:.0%}", c.policy.describe()) for c in e.cells_shipped]
    out = table(["cell", "weight", "policy"], rows, numeric=(1,))
    obs = [(o.id, fmt(o.n_visitors), fmt(o.observed_rpv),
            f"[{fmt(o.observed_rpv_ci[0])}, {fmt(o.observed_rpv_ci[1])}]",
            fmt(o.lift_vs_control), f"[{fmt(o.lift_vs_control_ci[0])}, "
            f"{fmt(o.lift_vs_control_ci[1])}]") for o in e.cell_observations]
    out += table(["cell", "visitors", "mean outcome", "80% interval", "lift vs control",
                  "80% interval"], obs, numeric=(1, 2, 3, 4, 5))
    out += inline_figure(lambda: viz.plot_cells(e.cells_shipped), f"Cells of round {e.round_idx}")
    if e.analysis is not None:
        rows = [(t, _decision_badge(s.decision), s.rationale)
                for t, s in e.analysis.recommendations.items()]
        out += section("Decisions", table(["treatment", "decision", "evidence"], rows, raw=(1,)),
                       level=3)
    tc = e.truth_comparison
    if tc is not None:
        names = ("cate_rmse", "policy_accuracy", "oracle_gap_rpv", "rpv_policy", "rpv_uniform",
                 "rpv_oracle")
        values = [(n, fmt(tc[n] if isinstance(tc, Mapping) else getattr(tc, n, None)))
                  for n in names]
        out += section("Against the simulated truth", table(["metric", "value"], values,
                                                            numeric=(1,)), level=3)
    return out


def _plan_html(plan: Any) -> str:
    rows = [(c.id, f"{c.weight:.0%}", c.policy.describe()) for c in plan.cells]
    out = table(["cell", "weight", "policy"], rows, numeric=(1,))
    if plan.dropped_treatments:
        out += f"<p>Dropped: {html.escape(', '.join(plan.dropped_treatments))}.</p>"
    if plan.prose_summary:
        out += f'<div class="prose">{html.escape(plan.prose_summary)}</div>'
    return out


def render_report(source: Any, *, settings: Mapping[str, Any] | None = None,
                  title: str | None = None) -> str:
    """The report as an HTML string; see :func:`write_report`."""
    is_analysis = hasattr(source, "comparisons") and hasattr(source, "posterior")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if is_analysis:
        body = _analysis_body(source)
        n = source.posterior.observed.n_visitors
        subtitle = f"Single analysis of {n:,} visitors · generated {stamp}"
        default_title = "pytyche analysis report"
    else:
        experiments = list(getattr(source, "history", source))
        if not experiments:
            msg = "the experiment has no completed rounds to report; run a round first"
            raise ValueError(msg)
        body = _experiment_body(source)
        subtitle = f"Sequential experiment, {len(experiments)} round(s) · generated {stamp}"
        default_title = "pytyche experiment report"
    cfg = _settings_dict(source, settings)
    if cfg:
        body += section("Settings used", kv_table(cfg))
    return page(title or default_title, subtitle, body)


def write_report(source: Any, path: str | Path, *, settings: Mapping[str, Any] | None = None,
                 title: str | None = None) -> Path:
    """Write a self-contained HTML report of an analysis or a sequential experiment.

    Parameters
    ----------
    source : AnalysisResult, SequentialExperiment or sequence of Experiment
        A single analysis, or a sequential experiment (its completed rounds).
    path : str or path
        The HTML file to write (parent folders are created).
    settings : mapping, optional
        Extra settings to list in the "Settings used" section (command-line options, data
        source...); a sequential experiment's stored configuration is listed as well.
    title : str, optional
        Page title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    The file embeds its plots as base64 PNGs and its CSS inline; it loads nothing from the
    network and runs no scripts, so it can be mailed or archived as is.
    """
    text = render_report(source, settings=settings, title=title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def analysis_summary(analysis: Any) -> dict[str, Any]:
    """A JSON-ready summary of an analysis: effects, decisions with evidence, segments."""
    observed = analysis.posterior.observed
    return {
        "metric": observed.metric,
        "treatments": list(observed.treatments),
        "control": observed.control,
        "n_visitors": {v.name: v.n_visitors for v in observed.variants},
        "claim_level": analysis.claim_level.value,
        "level": analysis.level,
        "comparisons": [
            {"treatment": c.treatment, "segment_id": c.segment_id, "effect": c.effect,
             "effect_ci": list(c.effect_ci), "relative_effect": _num(c.relative_effect),
             "p_best": c.p_best, "decision": c.recommendation.decision.value,
             "expected_loss": c.recommendation.expected_loss,
             "p_positive": c.recommendation.p_positive, "p_better": c.recommendation.p_better,
             "p_harmful": c.recommendation.p_harmful,
             "rationale": c.recommendation.rationale}
            for c in analysis.comparisons
        ],
        "decisions": {t: r.decision.value for t, r in analysis.recommendations.items()},
        "segments": [
            {"id": s.id, "rule": s.rule.describe(), "population_share": s.population_share,
             "n_visitors": s.n_visitors, "gate_estimate": s.gate_estimate,
             "gate_ci": list(s.gate_ci), "stability_score": _num(s.stability_score),
             "best_treatment": s.best_treatment,
             "arm_best_probabilities": dict(s.arm_best_probabilities)}
            for s in analysis.segments
        ],
        "diagnostics": posterior_diagnostics(analysis.posterior),
    }


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
