"""Self-contained HTML reports of an analysis or a sequential experiment.

``write_report(analysis_or_experiment, "report.html")`` writes one file with the plots inlined
as PNGs, the effect and decision tables, the segments in plain words, MCMC diagnostics and the
settings used. Nothing in it reaches the network. matplotlib loads only when a report is built.
"""

from pytyche.report._build import (
    analysis_summary,
    posterior_diagnostics,
    render_report,
    write_report,
)

__all__ = ["analysis_summary", "posterior_diagnostics", "render_report", "write_report"]
