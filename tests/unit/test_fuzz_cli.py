"""``pytyche analyze`` on hostile input: one error line and exit status 2, never a traceback;
--out checked before the fit; outputs appear all together or not at all.

The fit and the analysis are replaced by stand-ins (no sampler runs): these tests are about
input handling and output writing.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from _fuzz_helpers import base_frame
from typer.testing import CliRunner

import pytyche.analysis
import pytyche.cli as cli
import pytyche.report
from pytyche.errors import PytycheError


class _Stop(PytycheError):
    """Raised by the stand-in fit: loading succeeded."""


@pytest.fixture
def fit_calls(monkeypatch) -> list:
    calls: list = []

    def fake_fit(observed, **kwargs):
        calls.append(observed)
        raise _Stop("fit reached")

    monkeypatch.setattr(cli, "fit_observed", fake_fit)
    return calls


def _csv(tmp_path: Path, frame=None, name: str = "v.csv") -> Path:
    path = tmp_path / name
    (base_frame(n=40) if frame is None else frame).to_csv(path, index=False)
    return path


def _invoke(*args: str):
    return CliRunner().invoke(cli.app, ["analyze", *args, "--no-progress"])


def _clean_exit(result) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception)


ARGS = [
    ("sql-empty", ["--sql", "", "--treatment", "arm", "--outcome", "y"], "--sql is empty"),
    ("sql-blank", ["--sql", "   ", "--treatment", "arm", "--outcome", "y"], "--sql is empty"),
    ("sql-copy", ["--sql", "COPY (SELECT 1) TO 'x.csv'", "--treatment", "arm", "--outcome", "y"],
     "COPY"),
    ("no-data", ["--treatment", "arm", "--outcome", "y"], "give a DATA file"),
    ("data-empty", ["", "--treatment", "arm", "--outcome", "y"], "give a DATA file"),
    ("unknown-ext", ["{tmp}/v.xlsx", "--treatment", "arm", "--outcome", "y"],
     "cannot tell the format"),
    ("missing-file", ["{tmp}/nope.csv", "--treatment", "arm", "--outcome", "y"], "not found"),
    ("outcome-markup", ["{csv}", "--treatment", "arm", "--outcome", "[bold]y[/]"], "not found"),
    ("outcome-close-tag", ["{csv}", "--treatment", "arm", "--outcome", "[/x]"], "not found"),
    ("treatment-markup", ["{csv}", "--treatment", "[/]", "--outcome", "y"], "not found"),
    ("control-markup", ["{csv}", "--treatment", "arm", "--outcome", "y", "--control", "[/b]"],
     "does not exist"),
    ("features-markup", ["{csv}", "--treatment", "arm", "--outcome", "y", "--features", "[x]"],
     "not found"),
    ("metric-bad", ["{csv}", "--treatment", "arm", "--outcome", "y", "--metric", "[m]"],
     "conversion_rate"),
    ("dir-as-csv", ["{tmp}/folder.csv", "--treatment", "arm", "--outcome", "y"], "is a folder"),
    ("no-such-user", ["~nosuchuser_pt/v.csv", "--treatment", "arm", "--outcome", "y"],
     "cannot expand"),
    ("bad-gzip", ["{tmp}/bad.csv.gz", "--treatment", "arm", "--outcome", "y"], "damaged"),
    ("out-empty", ["{csv}", "--treatment", "arm", "--outcome", "y", "--out", ""],
     "--out is empty"),
    ("out-file", ["{csv}", "--treatment", "arm", "--outcome", "y", "--out", "{csv}"],
     "is a file"),
    ("out-inside-file", ["{csv}", "--treatment", "arm", "--outcome", "y", "--out",
                         "{csv}/sub"], "inside the file"),
    ("out-markup-file", ["{csv}", "--treatment", "arm", "--outcome", "y", "--out",
                         "{tmp}/[o].csv"], "is a file"),
    ("small-arm", ["{tmp}/small.csv", "--treatment", "arm", "--outcome", "y"],
     "fewer than 10 visitors"),
]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in ARGS], ids=[c[0] for c in ARGS])
def test_bad_input_is_one_clean_line(tmp_path, fit_calls, args, message):
    """Each bad input ends in 'error: ...' with exit status 2, before any fit."""
    csv = _csv(tmp_path)
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "bad.csv.gz").write_text("arm,y\n")
    (tmp_path / "v.xlsx").write_text("x")
    _csv(tmp_path, name="[o].csv")
    small = base_frame(n=40)
    small.loc[:5, "arm"] = "tiny"
    _csv(tmp_path, small, name="small.csv")
    result = _invoke(*[a.format(tmp=tmp_path, csv=csv) for a in args])
    _clean_exit(result)
    text = " ".join(result.output.split())
    assert "error:" in text and message in text
    assert fit_calls == []


@pytest.mark.parametrize("label", ["[new]", "[bold]", "[/]", "[/bold]", "a[b]c", "\\[x]"])
def test_markup_labels_reach_the_fit_and_print_verbatim(tmp_path, fit_calls, label):
    """A treatment label with brackets is loaded and printed as written."""
    frame = base_frame(n=40)
    frame.loc[frame.arm == "B", "arm"] = label
    result = _invoke(str(_csv(tmp_path, frame)), "--treatment", "arm", "--outcome", "y")
    _clean_exit(result)
    assert len(fit_calls) == 1 and label in fit_calls[0].treatments
    assert label in result.output


def test_markup_column_names_print_verbatim(tmp_path, fit_calls):
    """Column names with brackets load and appear in messages as written."""
    frame = base_frame(n=40).rename(columns={"y": "[rev]", "arm": "[/arm]"})
    result = _invoke(str(_csv(tmp_path, frame)), "--treatment", "[/arm]", "--outcome", "[rev]")
    _clean_exit(result)
    assert len(fit_calls) == 1


def test_file_named_like_sql_is_read_as_a_file(tmp_path, fit_calls, monkeypatch):
    """An existing file called 'from 2024.csv' is a file, not a query."""
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path, name="from 2024.csv")
    result = _invoke("from 2024.csv", "--treatment", "arm", "--outcome", "y")
    _clean_exit(result)
    assert len(fit_calls) == 1


def test_tsv_is_read_with_tabs(tmp_path, fit_calls):
    """A .tsv file is parsed with tabs."""
    path = tmp_path / "v.tsv"
    base_frame(n=40).to_csv(path, sep="\t", index=False)
    _clean_exit(_invoke(str(path), "--treatment", "arm", "--outcome", "y"))
    assert len(fit_calls) == 1


@pytest.mark.parametrize("label", ["[new]", "[bold]", "[/]", "a[b]c", "\\[x]", "[red]B[/red]"])
def test_markup_labels_print_verbatim_in_result_tables(label):
    """The leaderboard and segment tables of a real analysis show bracketed labels as written
    (lowercase ``[new]`` would otherwise be swallowed as a rich style tag)."""
    from _analysis_helpers import planted_boundary
    from rich.console import Console

    analysis = pytyche.analysis.analyze(planted_boundary(n=400, treatments=("control", label,
                                                                             "C")),
                                        n_bootstrap=0, decisions="model")
    console = Console(record=True, width=240)
    console.print(cli._effects_table(analysis))
    console.print(cli._segments_table(analysis))
    text = console.export_text()
    assert text.count(label) >= 2, text


def test_out_not_writable_is_refused_before_the_fit(tmp_path, fit_calls, monkeypatch):
    """--out in a folder the user cannot write is refused before loading or fitting
    (simulated through os.access: the tests may run as root)."""
    import os

    csv = _csv(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode, **kw: False if Path(p) == locked
                        else real_access(p, mode, **kw))
    result = _invoke(str(csv), "--treatment", "arm", "--outcome", "y", "--out",
                     str(locked / "out"))
    _clean_exit(result)
    assert "permission denied" in " ".join(result.output.split())
    assert fit_calls == []


# ---- outputs -------------------------------------------------------------------------------


@pytest.fixture
def fake_pipeline(monkeypatch):
    """Stand-ins for fit, analysis and report: the analysis has `policy` and `fail_at`."""
    state = types.SimpleNamespace(fail_at=None, policy=False)

    def fake_fit(observed, **kwargs):
        return types.SimpleNamespace(observed=observed)

    def fake_analyze(posterior, **kwargs):
        return types.SimpleNamespace(level=0.8, comparisons=[], segments=[],
                                     policy_tree=object() if state.policy else None)

    def fake_report(analysis, path, settings=None):
        path = Path(path)
        path.write_text("<html>new</html>")
        return path

    def fake_summary(analysis):
        if state.fail_at == "summary":
            raise RuntimeError("boom after the fit")
        return {"ok": True}

    monkeypatch.setattr(cli, "fit_observed", fake_fit)
    monkeypatch.setattr(pytyche.analysis, "analyze", fake_analyze)
    monkeypatch.setattr(pytyche.analysis, "policy_to_json", lambda tree: "{}")
    monkeypatch.setattr(pytyche.analysis, "policy_to_sql", lambda tree: "CASE END")
    monkeypatch.setattr(pytyche.report, "write_report", fake_report)
    monkeypatch.setattr(pytyche.report, "analysis_summary", fake_summary)
    monkeypatch.setattr(cli, "_effects_table", lambda a, *r: "effects")
    monkeypatch.setattr(cli, "_segments_table", lambda a: "segments")
    return state


def test_outputs_appear_together(tmp_path, fake_pipeline):
    """A successful run leaves report, policy files and summary in --out, no staging left."""
    fake_pipeline.policy = True
    out = tmp_path / "out"
    result = _invoke(str(_csv(tmp_path)), "--treatment", "arm", "--outcome", "y", "--out",
                     str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["policy.json", "policy.sql",
                                                     "report.html", "summary.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_failure_after_fit_leaves_nothing(tmp_path, fake_pipeline):
    """An error while writing outputs leaves --out absent (and no staging folder)."""
    fake_pipeline.fail_at = "summary"
    out = tmp_path / "out"
    result = _invoke(str(_csv(tmp_path)), "--treatment", "arm", "--outcome", "y", "--out",
                     str(out))
    assert result.exit_code != 0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_failure_after_fit_keeps_earlier_outputs_intact(tmp_path, fake_pipeline):
    """When a later run fails, the earlier run's files stay exactly as they were."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old")
    fake_pipeline.fail_at = "summary"
    _invoke(str(_csv(tmp_path)), "--treatment", "arm", "--outcome", "y", "--out", str(out))
    assert (out / "report.html").read_text() == "old"


def test_stale_outputs_of_an_earlier_run_are_removed(tmp_path, fake_pipeline):
    """A rerun without a policy tree removes the earlier policy files; other files stay."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("report.html", "policy.json", "policy.sql", "notes.txt"):
        (out / name).write_text("old")
    result = _invoke(str(_csv(tmp_path)), "--treatment", "arm", "--outcome", "y", "--out",
                     str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html",
                                                     "summary.json"]
    assert (out / "report.html").read_text() == "<html>new</html>"


def test_case_count():
    """The CLI table has at least 20 hostile invocations."""
    assert len(ARGS) >= 20
