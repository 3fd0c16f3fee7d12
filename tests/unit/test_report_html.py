"""pytyche.report: the HTML report of an analysis and of a sequential experiment."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from test_viz_plots import fake_history, hurdle_analysis

from pytyche.report import analysis_summary, render_report, write_report


@pytest.fixture(scope="module")
def analysis():
    return hurdle_analysis()


@pytest.fixture(scope="module")
def history():
    return fake_history()


def images(text: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', text)


class TestAnalysisReport:
    def test_self_contained(self, analysis, tmp_path):
        """Every image is an inline PNG; nothing points at the network; no scripts."""
        path = write_report(analysis, tmp_path / "sub" / "report.html")
        text = path.read_text()
        srcs = images(text)
        assert len(srcs) >= 4  # leaderboard, decomposition, segments, tree
        for src in srcs:
            assert src.startswith("data:image/png;base64,")
            assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert not re.search(r"https?://", text)
        assert "<script" not in text

    def test_content(self, analysis):
        """Decisions with evidence, rules in words, diagnostics and settings are all there."""
        text = render_report(analysis, settings={"source": "unit <test>"})
        for c in analysis.comparisons:
            assert html.escape(c.recommendation.rationale) in text
        assert "device is mobile" in text
        assert "R-hat" in text and "mean effect of promo" in text
        assert "unit &lt;test&gt;" in text  # escaped

    def test_summary_is_json(self, analysis):
        """The machine-readable summary is plain JSON with one entry per comparison."""
        summary = json.loads(json.dumps(analysis_summary(analysis)))
        assert len(summary["comparisons"]) == len(analysis.comparisons)
        assert summary["decisions"].keys() == analysis.recommendations.keys()
        assert summary["diagnostics"]["rhat_sigma"] == pytest.approx(1.004)


class TestExperimentReport:
    def test_rounds_and_plan(self, history):
        """One section per round, truth comparison in sim mode, the next plan, no http."""
        text = render_report(history)
        for r in range(3):
            assert f"<h2>Round {r}</h2>" in text
        assert "Against the simulated truth" in text and "Plan for the next round" in text
        assert "Settings used" in text
        assert all(s.startswith("data:image/png;base64,") for s in images(text))
        assert not re.search(r"https?://", text)

    def test_empty_history_refused(self):
        """An experiment without rounds has nothing to report."""
        with pytest.raises(ValueError, match="no completed rounds"):
            render_report([])
