"""Real-data rounds of the sequential loop (``real_data_generator``, what ``pytyche run``
reads): each malformed round file, query or frame is a clean error naming the problem, or a
round loaded as the loaders would load the same data, never a traceback.

The round follows a cold-start plan (Control cell: control only; Explore cell: uniform), as an
operator's platform would log it (``export_assignment``); each case damages that log.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _fuzz_helpers import run

from pytyche.experiment import cold_start_plan, export_assignment, real_data_generator

T = ["control", "a", "b"]
PLAN = cold_start_plan(T)
ACCEPT = "accept"


def platform_round(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visitors = pd.DataFrame({"x": rng.normal(size=n).round(4),
                             "device": rng.choice(["m", "d"], n)})
    out = export_assignment(PLAN, visitors, seed=seed)
    out["revenue"] = np.where(rng.random(n) < 0.4, rng.gamma(2.0, 10.0, n).round(2), 0.0)
    return out


def _at(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if not isinstance(value, float):
            df[column] = df[column].astype(object)
        df.loc[row, column] = value
        return df
    return mutate


def _with(**columns: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df.assign(**{k: v(df) if callable(v) else v for k, v in columns.items()})


def _pad_arm(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["treatment"] = df["treatment"].astype(object)
    df.loc[df.index[:5], "treatment"] = " " + df.loc[df.index[:5], "treatment"] + " "
    return df


def _csv(text: str) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        (folder / "round_0.csv").write_text(text)
        return str(folder / "round_{round}.csv")
    return write


def _frame_as(suffix: str, mutate: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d,
              **to: Any) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        df = mutate(platform_round())
        path = folder / f"round_0{suffix}"
        if suffix.startswith(".parquet"):
            df.to_parquet(path, index=False, **to)
        else:
            df.to_csv(path, index=to.pop("index", False), sep="\t" if ".tsv" in suffix else ",",
                      **to)
        return str(folder / f"round_{{round}}{suffix}")
    return write


def _raw(name: str, content: bytes) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        (folder / name).write_bytes(content)
        return str(folder / name.replace("0", "{round}", 1))
    return write


def _header_repeat(column: str) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        df = platform_round()
        text = df.to_csv(index=False).splitlines()
        lines = [f"{text[0]},{column}"] + [
            f"{line},{value}" for line, value in zip(text[1:], df[column], strict=True)]
        (folder / "round_0.csv").write_text("\n".join(lines) + "\n")
        return str(folder / "round_{round}.csv")
    return write


def _query(sql: str) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        platform_round().to_csv(folder / "r.csv", index=False)
        return sql.format(path=folder / "r.csv", out=folder / "leak.csv")
    return write


ROUNDS: list[tuple[str, Callable[[Path], str], dict, str]] = [
    ("csv-ok", _frame_as(".csv"), {}, ACCEPT),
    ("tsv-ok", _frame_as(".tsv"), {}, ACCEPT),
    ("csv-gz-ok", _frame_as(".csv.gz"), {}, ACCEPT),
    ("parquet-ok", _frame_as(".parquet"), {}, ACCEPT),
    ("sql-ok", _query("SELECT * FROM '{path}'"), {}, ACCEPT),
    ("padded-labels", _frame_as(".csv", _pad_arm), {}, ACCEPT),
    ("case-label", _frame_as(".csv", _at("treatment", 3, "A")), {}, r"'A'"),
    ("missing-treatment", _frame_as(".parquet", _at("treatment", 3, None)), {},
     r"missing|'None'|nan"),
    ("unknown-treatment", _frame_as(".csv", _at("treatment", 3, "zz")), {},
     r"rows 3 received treatments \['zz'\] outside the plan"),
    ("unknown-cell", _frame_as(".csv", _at("cell", 4, "rogue")), {}, r"rows 4 .*'rogue'"),
    ("no-cell-column", _frame_as(".csv", lambda d: d.drop(columns="cell")), {},
     r"lacks column\(s\) \['cell'\]"),
    ("no-outcome", _frame_as(".csv", lambda d: d.drop(columns="revenue")), {},
     r"\['revenue'\] not found"),
    ("outcome-nan", _frame_as(".csv", _at("revenue", 6, float("nan"))), {},
     r"'revenue' has 1 missing.*row 6"),
    ("outcome-text", _frame_as(".parquet", lambda d: _at("revenue", 6, "n/a")(d).assign(
        revenue=lambda f: f.revenue.astype(str))), {}, r"'revenue' is not numeric \(dtype str"),
    ("outcome-na-text-csv", _frame_as(".csv", _at("revenue", 6, "n/a")), {},
     r"1 missing \(NaN\).*row 6"),
    ("outcome-huge", _frame_as(".csv", _at("revenue", 6, 1e19)), {}, r"beyond ±1e\+15.*row 6"),
    ("outcome-negative", _frame_as(".csv", _at("revenue", 6, -5.0)),
     {"metric": "revenue_per_visitor"}, r"negative"),
    ("outcome-constant", _frame_as(".csv", _with(revenue=0.0)), {}, r"is 0.0 for all|for all"),
    ("feature-inf", _frame_as(".csv", _at("x", 2, float("inf"))), {}, r"'x' has 1 infinite"),
    ("feature-internal", _frame_as(".csv", _with(__treatment__=1)), {}, r"__treatment__"),
    ("feature-dates", _frame_as(".csv", _with(day=lambda d: [
        f"2024-02-{1 + i % 28:02d}" for i in range(len(d))])), {}, r"'day' holds dates"),
    ("index-saved", _frame_as(".csv", index=True), {}, r"without a name|row index"),
    ("dup-outcome-header", _header_repeat("revenue"), {}, r"\['revenue'\] more than once"),
    ("dup-treatment-header", _header_repeat("treatment"), {},
     r"\['treatment'\] more than once"),
    ("file-missing", lambda folder: str(folder / "none_{round}.csv"), {}, r"does not exist"),
    ("folder-as-file", lambda folder: (folder / "round_0.csv").mkdir() or str(
        folder / "round_{round}.csv"), {}, r"is a folder"),
    ("empty-file", _csv(""), {}, r"cannot parse"),
    ("header-only", _csv("x,device,cell,treatment,revenue\n"), {}, r"no rows"),
    ("gz-not-gzip", _raw("round_0.csv.gz", b"x,cell\n1,control\n"), {}, r"damaged"),
    ("gz-truncated", _raw("round_0.csv.gz", gzip.compress(
        platform_round().to_csv(index=False).encode())[:60]), {}, r"damaged"),
    ("parquet-garbage", _raw("round_0.parquet", b"PAR1 not really"), {}, r"as Parquet"),
    ("sql-copy", _query("COPY (SELECT * FROM '{path}') TO '{out}'"), {},
     r"COPY statement|does not exist"),
    ("sql-with-copy", _query("WITH v AS (SELECT 1) COPY (SELECT * FROM '{path}') TO '{out}'"),
     {}, r"COPY|could not run|statement"),
    ("parquet-empty-folder", lambda folder: (folder / "round_0.parquet").mkdir() or str(
        folder / "round_{round}.parquet"), {}, r"holds no Parquet files"),
    ("sql-two-statements", _query("SELECT * FROM '{path}'; SELECT 1"), {}, r"2 statements"),
    ("sql-no-rows", _query("SELECT * FROM '{path}' WHERE cell = 'none'"), {}, r"no rows"),
    ("visitor-id-repeated", _frame_as(".csv", _with(vid="same")), {"visitor_id": "vid"},
     r"repeated ids"),
    ("visitor-id-ok", _frame_as(".csv", _with(vid=lambda d: [f"v{i}" for i in range(len(d))])),
     {"visitor_id": "vid"}, ACCEPT),
]


@pytest.mark.parametrize(("write", "kwargs", "expected"), [c[1:] for c in ROUNDS],
                         ids=[c[0] for c in ROUNDS])
def test_round_case(tmp_path, write, kwargs, expected):
    """A round's data loads under the plan, or is refused with a message naming the fault."""
    source = write(tmp_path)
    generate = real_data_generator(source, treatment="treatment", outcome="revenue", **kwargs)
    kind, value = run(lambda: generate(0, PLAN))
    if expected == ACCEPT:
        assert kind == "accept", f"refused: {value}"
        observed, truth = value
        assert truth is None and observed.treatments == tuple(T)
        assert observed.n_visitors == len(platform_round())
    else:
        assert kind == "error", f"accepted, expected an error matching {expected!r}"
        assert re.search(expected, str(value)), str(value)
    assert not (tmp_path / "leak.csv").exists()


def test_case_count():
    """At least 30 round cases."""
    assert len(ROUNDS) >= 30
