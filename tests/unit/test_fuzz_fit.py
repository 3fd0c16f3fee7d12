"""Data that reach the fit entry: every problem is named in the user's terms (column,
treatment, visitor id, row) before the engine sees arrays, never as "X row 35, column 0" or
"arm 1", and never as a fit on values the model cannot represent.

Two ways data get past loading: an ObservedExperimentData built by hand from slices of the
user's frame (``VariantData.from_visitors``; the slices keep the user's row labels), and a
loaded data set whose visitor frames were edited afterwards. Each hand-written case calls the
public fit itself (``pt.fit``, ``fit_*_bcf``, ``fit_for_metric``) or ``check_fittable``; an
error case raises before the sampler starts (a wrongly accepted case would run a two-tree fit
and fail its assertion). The hypothesis property checks that the fit-entry check is at least
as strict as the engine's own array checks, so no engine-terms message can reach a user.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _fuzz_helpers import base_frame, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytyche as pt
from pytyche.bcf import (
    GPUBCFConfig,
    fit_binary_bcf,
    fit_continuous_bcf,
    fit_for_metric,
    fit_hurdle_bcf,
)
from pytyche.bcf._preprocess import validate_inputs
from pytyche.contracts import ObservedExperimentData, VariantData
from pytyche.data import check_fittable, feature_matrix, from_dataframe
from pytyche.errors import SchemaViolation

#: A two-tree, two-draw sampler: only a wrongly accepted case ever runs it.
TINY = {"num_burnin": 2, "num_samples": 2, "num_trees_mu": 2, "num_trees_tau": 2,
        "progress": False}
N = 40


def _frame(n: int = N, arms: tuple[str, ...] = ("control", "B")) -> pd.DataFrame:
    df = base_frame(n=n)
    df["arm"] = np.array(arms)[np.arange(n) % len(arms)]
    df["vid"] = [f"v{i}" for i in range(n)]
    return df


def hand_built(df: pd.DataFrame, *, metric: str = "continuous",
               arms: tuple[str, ...] | None = None) -> ObservedExperimentData:
    """The user's own construction: one slice of their frame per treatment (index kept)."""
    names = arms or tuple(dict.fromkeys(df["arm"]))
    variants = tuple(
        VariantData.from_visitors(name, df[df["arm"] == name].drop(columns="arm").rename(
            columns={"y": "outcome", "vid": "visitor_id"}))
        for name in names
    )
    return ObservedExperimentData(experiment_id="fuzz", metric=metric, variants=variants)


def loaded(df: pd.DataFrame | None = None, **kwargs: Any) -> ObservedExperimentData:
    df = _frame() if df is None else df
    return from_dataframe(df, treatment="arm", outcome="y", control="control",
                          visitor_id="vid", **kwargs)


def edit(observed: ObservedExperimentData, arm: str, row: int, column: str,
         value: Any) -> ObservedExperimentData:
    """Change one value of a treatment's visitor frame in place (``row`` is a position)."""
    frame = observed.variants[observed.treatments.index(arm)].visitors
    if not (isinstance(value, float) and pd.api.types.is_float_dtype(frame[column])):
        frame[column] = frame[column].astype(object)
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return observed


def _built(mutate: Callable[[pd.DataFrame], Any] | None = None, **kw: Any):
    def build() -> ObservedExperimentData:
        df = _frame()
        if mutate is not None:
            out = mutate(df)
            df = out if isinstance(out, pd.DataFrame) else df
        return hand_built(df, **kw)
    return build


def _set(row: int, column: str, value: Any) -> Callable[[pd.DataFrame], None]:
    def mutate(df: pd.DataFrame) -> None:
        if isinstance(value, str) or value is None:
            df[column] = df[column].astype(object)
        df.loc[row, column] = value
    return mutate


def _edited(arm: str, row: int, column: str, value: Any, **kw: Any):
    return lambda: edit(loaded(**kw), arm, row, column, value)


def _all(column: str, values: Callable[[pd.DataFrame], Any]):
    def mutate(df: pd.DataFrame) -> None:
        df[column] = values(df)
    return mutate


def _revenue(df: pd.DataFrame) -> None:
    df["y"] = np.where(np.arange(len(df)) % 3 == 0, 5.0 + np.arange(len(df)), 0.0)


def _binary(df: pd.DataFrame) -> None:
    df["y"] = (np.arange(len(df)) // 2 % 2).astype(float)


def _many_arms(k: int, n_each: int = 10):
    def build() -> ObservedExperimentData:
        return hand_built(_frame(n=k * n_each, arms=tuple(f"t{i}" for i in range(k))))
    return build


def _no_features() -> ObservedExperimentData:
    return from_dataframe(_frame(), treatment="arm", outcome="y", control="control",
                          features=[])


def _missing_column() -> ObservedExperimentData:
    df = _frame()
    variants = (
        VariantData.from_visitors("control", df[df.arm == "control"][["y", "x"]].rename(
            columns={"y": "outcome"})),
        VariantData.from_visitors("B", df[df.arm == "B"][["y"]].rename(
            columns={"y": "outcome"})),
    )
    return ObservedExperimentData(experiment_id="fuzz", metric="continuous", variants=variants)


def _braces() -> ObservedExperimentData:
    df = _frame().rename(columns={"y": "{y}", "x": "{0}"})
    observed = from_dataframe(df, treatment="arm", outcome="{y}", control="control")
    return edit(observed, "B", 2, "{0}", np.inf)


def _markup_arm() -> ObservedExperimentData:
    df = _frame(arms=("control", "[new]"))
    return edit(loaded(df), "[new]", 4, "x", np.nan)


# (id, data builder, fit, expected: a regex of the SchemaViolation / TypeError, or "accept")
FITS = {"fit": pt.fit, "continuous": fit_continuous_bcf, "binary": fit_binary_bcf,
        "hurdle": fit_hurdle_bcf, "metric": fit_for_metric}
ACCEPT = "accept"
_B31 = r"treatment 'B', visitor_id 'v31', row 31 \(the index label of its visitor frame\)"
_B3 = r"treatment 'B', vid 'v7', row 3 of that treatment's visitors \(0-based\)"

CASES: list[tuple[str, Callable[[], Any], str, dict, str]] = [
    # hand-built from slices of the user's frame: the user's own row labels are named
    ("built-x-nan", _built(_set(31, "x", np.nan)), "fit", {},
     r"feature 'x' has 1 missing value\(s\); the first is nan at " + _B31),
    ("built-x-inf", _built(_set(31, "x", np.inf)), "continuous", {},
     r"feature 'x' has 1 infinite value\(s\); the first is inf at " + _B31),
    ("built-x-neg-inf", _built(_set(31, "x", -np.inf)), "continuous", {}, r"infinite.*" + _B31),
    ("built-x-beyond-f32", _built(_set(31, "x", 1e39)), "continuous", {},
     r"'x' has 1 value\(s\) beyond float32's range.*" + _B31),
    ("built-x-text", _built(_set(31, "x", "n/a")), "continuous", {},
     r"feature 'x' mixes value types \['number', 'text'\]: 1 value\(s\) are not number; "
     r"the first is 'n/a' at " + _B31),
    ("built-g-null", _built(_set(31, "g", None)), "fit", {},
     r"feature 'g' has 1 missing value\(s\).*" + _B31),
    ("built-y-nan", _built(_set(31, "y", np.nan)), "fit", {},
     r"outcome 'outcome' has 1 missing value\(s\).*" + _B31),
    ("built-y-inf", _built(_set(31, "y", np.inf)), "continuous", {},
     r"outcome 'outcome' has 1 infinite value\(s\).*" + _B31),
    ("built-y-1e19", _built(_set(31, "y", 1e19)), "continuous", {},
     r"beyond ±1e\+15; the first is 1e\+19 at " + _B31),
    ("built-y-3e38", _built(_set(31, "y", 3e38)), "fit", {}, r"beyond ±1e\+15.*" + _B31),
    ("built-y-neg-1e16", _built(_set(31, "y", -1e16)), "metric", {}, r"beyond ±1e\+15"),
    ("built-y-id-like", _built(_all("y", lambda df: 10**17 + np.arange(len(df)))), "fit", {},
     r"40 value\(s\) beyond ±1e\+15.*treatment 'control'"),
    ("built-y-constant", _built(_all("y", lambda df: 5.0)), "continuous", {},
     r"is 5.0 for all 40 visitors"),
    ("built-y-f32-flat", _built(_all("y", lambda df: 1e9 + np.arange(len(df)) * 1e-6)),
     "continuous", {}, r"below float32 resolution"),
    ("built-binary-on-continuous", _built(), "binary", {},
     r"binary\) fit needs outcome 'outcome' to be 0 or 1, but 40.*treatment 'control'"),
    ("built-binary-a-two", _built(lambda df: (_binary(df), _set(31, "y", 2.0)(df))),
     "binary", {}, r"0 or 1, but 1 value.*the first is 2.0 at " + _B31),
    ("built-hurdle-negative", _built(lambda df: (_revenue(df), _set(31, "y", -3.0)(df))),
     "hurdle", {}, r">= 0, but 1 value\(s\) are negative; the first is -3.0 at " + _B31),
    ("built-hurdle-all-positive", _built(_all("y", lambda df: 1.0 + np.arange(len(df)))),
     "hurdle", {}, r"positive for every visitor"),
    ("built-hurdle-all-zero", _built(_all("y", lambda df: 0.0)), "hurdle", {},
     r"is 0.0 for all 40"),
    ("built-hurdle-one-converter",
     _built(lambda df: df.assign(y=np.where(np.arange(len(df)) == 1, 4.0, np.where(
         np.arange(len(df)) % 2 == 0, 3.0, 0.0)))), "hurdle", {},
     r"treatment\(s\) 'B' \(1\) have fewer than 2 visitors with a positive outcome"),
    ("built-small-arm", _built(lambda df: df.iloc[:14]), "continuous", {},
     r"'control' \(7\), 'B' \(7\) have fewer than 10 visitors"),
    ("built-min-leaf", _built(), "continuous", {"min_samples_leaf": 15},
     r"'control' \(20\), 'B' \(20\) have fewer than 30 visitors"),
    ("built-11-arms", _many_arms(11), "fit", {}, r"11 treatments.*2 to 10"),
    ("built-internal-name", _built(_all("__treatment__", lambda df: 1.0)), "fit", {},
     r"feature\(s\) \['__treatment__'\] use the __name__ form"),
    ("built-internal-dunder", _built(_all("__x__", lambda df: 1.0)), "metric", {},
     r"\['__x__'\] use the __name__ form.*rename\(columns=\{'__x__': 'x'\}\)"),
    ("built-index-unnamed", _built(_all("Unnamed: 0", lambda df: np.arange(len(df)))), "fit",
     {}, r"'Unnamed: 0' of the visitor frames looks like a saved row index"),
    ("built-index-pyarrow", _built(_all("__index_level_0__", lambda df: np.arange(len(df)))),
     "fit", {}, r"__index_level_0__"),
    ("built-date-text", _built(_all("day", lambda df: [f"2024-01-{1 + i % 28:02d}"
                                                       for i in range(len(df))])), "fit", {},
     r"'day' of the visitor frames holds dates written as text \(e.g. '2024-01-01'\)"),
    ("built-datetime", _built(_all("t", lambda df: pd.date_range("2024", periods=len(df)))),
     "fit", {}, r"feature 't' has dtype datetime64\[\w+\], which pytyche cannot encode"),
    ("built-timedelta", _built(_all("t", lambda df: pd.to_timedelta(np.arange(len(df)), "s"))),
     "fit", {}, r"dtype timedelta64"),
    ("built-complex", _built(_all("c", lambda df: np.ones(len(df)) * 1j)), "fit", {},
     r"'c' has dtype complex128"),
    ("built-period", _built(_all("p", lambda df: pd.period_range("2024-01", periods=len(df),
                                                                freq="M"))), "fit", {},
     r"'p' has dtype period"),
    ("built-mixed-bool-number", _built(lambda df: df.assign(b=pd.Series(
        [True if i % 2 else 1 for i in range(len(df))], dtype=object))), "fit", {},
     r"'b' mixes value types \['number', 'bool'\]"),
    ("built-missing-column", _missing_column, "fit", {},
     r"feature 'x' is missing from the visitors of treatment\(s\) \['B'\]"),
    # loaded, then a visitor frame edited: the loaded id column and the position are named
    ("edited-x-nan", _edited("B", 3, "x", np.nan), "fit", {},
     r"feature 'x' has 1 missing value\(s\); the first is nan at " + _B3),
    ("edited-x-inf", _edited("B", 3, "x", np.inf), "continuous", {}, r"infinite.*" + _B3),
    ("edited-x-text", _edited("B", 3, "x", "oops"), "continuous", {},
     r"'x' mixes value types \['number', 'text'\].*the first is 'oops' at " + _B3),
    ("edited-x-bytes", _edited("B", 3, "x", b"1"), "continuous", {},
     r"'x' mixes value types \['number', 'bytes'\]"),
    ("edited-x-numeric-text", _edited("B", 3, "x", "1.5"), "continuous", {},
     r"mixes value types"),
    ("edited-g-unseen", _edited("B", 3, "g", "phone"), "fit", {},
     r"'g' has 1 value\(s\) not among its levels \['app', 'tablet', 'web'\]; the first is "
     r"'phone' at " + _B3),
    ("edited-g-null", _edited("B", 3, "g", None), "fit", {}, r"'g' has 1 missing.*" + _B3),
    ("edited-binary-feature", lambda: edit(loaded(_frame().assign(b=np.arange(N) % 2)), "B",
                                           3, "b", 2.0), "fit", {},
     r"binary feature 'b' has 1 value\(s\) other than 0/1.*" + _B3),
    ("edited-y-nan", _edited("B", 3, "outcome", np.nan), "fit", {},
     r"outcome 'y' has 1 missing.*" + _B3),
    ("edited-y-text", _edited("B", 3, "outcome", "abc"), "fit", {},
     r"outcome 'y' has 1 value\(s\) that are not numbers; the first is 'abc' at " + _B3),
    ("edited-y-none", _edited("B", 3, "outcome", None), "continuous", {},
     r"outcome 'y' has 1 missing"),
    ("edited-y-huge", _edited("control", 0, "outcome", 1e20), "metric", {},
     r"outcome 'y' has 1 value\(s\) beyond ±1e\+15; the first is 1e\+20 at treatment "
     r"'control', vid 'v0', row 0"),
    ("edited-propensity", lambda: edit(loaded(_frame().assign(propensity=0.5)), "B", 3,
                                       "propensity", 1.7), "fit", {}, r"propensity"),
    ("no-features", _no_features, "fit", {}, r"no feature columns"),
    ("no-features-metric", _no_features, "metric", {}, r"no feature columns"),
    ("braces-in-names", _braces, "fit", {}, r"feature '\{0\}' has 1 infinite"),
    ("markup-arm", _markup_arm, "fit", {}, r"treatment '\[new\]'"),
    ("not-observed-frame", lambda: _frame(), "fit", {},
     r"expected ObservedExperimentData, got DataFrame"),
    ("not-observed-none", lambda: None, "continuous", {}, r"got NoneType"),
    ("not-observed-dict", lambda: {"a": 1}, "check", {}, r"got dict"),
    ("check-family-unknown", lambda: loaded(), "check", {"family": "poisson"},
     r"family='poisson'"),
    # sensible accepts (checked, not fitted)
    ("accept-loaded", lambda: loaded(), "check", {}, ACCEPT),
    ("accept-built", _built(), "check", {}, ACCEPT),
    ("accept-built-binary", _built(_binary, metric="conversion_rate"), "check", {}, ACCEPT),
    ("accept-built-revenue", _built(_revenue, metric="revenue_per_visitor"), "check", {},
     ACCEPT),
    ("accept-hurdle-as-continuous", _built(_revenue), "check", {"family": "continuous"},
     ACCEPT),
    ("accept-10-arms", _many_arms(10), "check", {}, ACCEPT),
    ("accept-feature-1e30", _built(_set(31, "x", 1e30)), "check", {}, ACCEPT),
    ("accept-bool-outcome", _built(lambda df: df.assign(y=np.arange(len(df)) % 4 < 2),
                                   metric="conversion_rate"), "check", {}, ACCEPT),
    ("accept-y-at-limit", _built(_set(31, "y", 1e15)), "check", {}, ACCEPT),
    ("accept-min-leaf", _built(), "check", {"min_visitors": 20}, ACCEPT),
]


def _call(fit: str, data: Any, kwargs: dict) -> Any:
    if fit == "check":
        return check_fittable(data, **kwargs)
    return FITS[fit](data, **{**TINY, **kwargs})


@pytest.mark.parametrize(("build", "fit", "kwargs", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_fit_entry_case(build, fit, kwargs, expected):
    """Each case is refused by column, treatment and visitor before the sampler, or accepted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = build()
    kind, value = run(lambda: _call(fit, data, kwargs))
    if expected == ACCEPT:
        assert kind == "accept", f"refused: {value}"
        return
    assert kind == "error", f"accepted, expected an error matching {expected!r}"
    assert isinstance(value, SchemaViolation | TypeError | ValueError), repr(value)
    assert re.search(expected, str(value)), str(value)
    assert not re.search(r"\bX has\b|\barm \d\b|\bz must\b|\by has\b", str(value)), str(value)


def test_accepted_hand_built_data_fits():
    """Data built by hand from slices of the user's frame fits (two trees, two draws)."""
    posterior = pt.fit(hand_built(_frame()), seed=0, **TINY)
    assert posterior.observed.treatments == ("control", "B")


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("age", np.inf, r"feature 'age' has 1 infinite value\(s\) .*first at row 3: inf"),
    ("age", -np.inf, r"'age' has 1 infinite.*row 3"),
    ("age", 1e39, r"beyond float32's range \(first at row 3: 1e\+39\)"),
    ("age", np.nan, r"'age' has 1 missing or non-numeric value\(s\) \(first at row 3"),
    ("device", "tv", r"'device': value 'tv' was not seen"),
    ("age", 1e30, ACCEPT),
])
def test_new_visitors_are_named_by_their_row(column, value, expected):
    """Predicting for new visitors names the feature and the row of the new frame, never
    "X has non-finite values" (the posterior is built without the sampler)."""
    from _posterior_helpers import fake_posterior, observed_frame

    new = observed_frame(10)
    if isinstance(value, str):
        new[column] = new[column].astype(object)
    new.loc[3, column] = value
    kind, result = run(lambda: fake_posterior().predict(new))
    if expected == ACCEPT:
        assert kind == "accept" and np.isfinite(result).all(), result
    else:
        assert kind == "error" and isinstance(result, SchemaViolation), repr(result)
        assert re.search(expected, str(result)), str(result)


@pytest.mark.parametrize("value", [1e19, -1e16, 3e38])
def test_array_fits_refuse_outcomes_float32_cannot_standardise(value):
    """The array-level entry also refuses |y| > 1e15, by row (it used to fit on an inf sd)."""
    rng = np.random.default_rng(0)
    X, z, y = rng.normal(size=(40, 2)), np.arange(40) % 2, rng.normal(size=40)
    y[7] = value
    with pytest.raises(SchemaViolation, match=r"y has 1 value\(s\) beyond ±1e\+15 \(first "
                                              r"at row 7"):
        validate_inputs(X, z, y, None, GPUBCFConfig(), family="continuous")


def test_case_count():
    """The fit-entry table holds at least 50 cases, errors and accepts."""
    assert len(CASES) >= 50 and sum(c[4] == ACCEPT for c in CASES) >= 10


# --------------------------------------------------------------------------------------------
# Property: the fit-entry check is at least as strict as the engine's array checks
# --------------------------------------------------------------------------------------------

#: Rules only the fit entry has (the engine would fit these values, wrongly).
_EXTRA_RULES = r"beyond ±1e\+15|for all \d+ visitors|below float32 resolution"
_DAMAGES = ["none", "none", "x-nan", "x-inf", "x-huge", "x-text", "g-unseen", "g-null",
            "y-nan", "y-inf", "y-huge", "y-text", "y-negative", "y-two", "y-constant",
            "arm-small"]


@st.composite
def damaged(draw) -> tuple[ObservedExperimentData, str, str]:
    k = draw(st.integers(2, 4))
    arms = tuple(draw(st.lists(st.sampled_from(["control", "B", "C", "[x]", "v 2", "{y}"]),
                               min_size=k, max_size=k, unique=True)))
    per_arm = draw(st.integers(6, 16))
    family = draw(st.sampled_from(["continuous", "binary", "hurdle"]))
    n = k * per_arm
    df = _frame(n=n, arms=arms)
    if family == "binary":
        df["y"] = (np.arange(n) // k % 2).astype(float)
    elif family == "hurdle":
        df["y"] = np.where(np.arange(n) // k % 3 == 0, 1.0 + np.arange(n), 0.0)
    if draw(st.booleans()):
        observed = hand_built(df, arms=arms)
    else:
        observed = from_dataframe(df, treatment="arm", outcome="y", control=arms[0],
                                  visitor_id="vid")
    damage = draw(st.sampled_from(_DAMAGES))
    arm = draw(st.sampled_from(arms))
    row = draw(st.integers(0, per_arm - 1))
    column, value = {
        "x-nan": ("x", np.nan), "x-inf": ("x", -np.inf), "x-huge": ("x", 1e300),
        "x-text": ("x", "?"), "g-unseen": ("g", "zz"), "g-null": ("g", None),
        "y-nan": ("outcome", np.nan), "y-inf": ("outcome", np.inf),
        "y-huge": ("outcome", 1e19), "y-text": ("outcome", "n/a"),
        "y-negative": ("outcome", -1.0), "y-two": ("outcome", 2.0),
    }.get(damage, (None, None))
    if column is not None:
        edit(observed, arm, row, column, value)
    elif damage == "y-constant":
        for v in observed.variants:
            v.visitors["outcome"] = 1.0
    elif damage == "arm-small":
        v = observed.variants[observed.treatments.index(arm)]
        keep = v.visitors.iloc[: draw(st.integers(1, 9))]
        variants = tuple(VariantData.from_visitors(w.name, keep) if w is v else w
                         for w in observed.variants)
        observed = ObservedExperimentData(experiment_id="fuzz", metric=observed.metric,
                                          variants=variants, schema=observed.schema)
    return observed, family, damage


def _engine_refuses(observed: ObservedExperimentData, family: str) -> bool:
    """Whether the arrays would be refused by the engine's own checks (or fail to encode)."""
    try:
        with np.errstate(over="ignore"):  # a feature beyond float32 overflows to inf
            X = feature_matrix(observed)
        y = observed.outcome()
        validate_inputs(X, observed.treatment_index(), y, observed.propensities(),
                        GPUBCFConfig(), family=family)
    except (SchemaViolation, ValueError, TypeError):
        return True
    return False


@settings(derandomize=True, deadline=None, database=None, max_examples=200,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged())
def test_fit_entry_check_is_stricter_than_the_engine(case):
    """Whatever the engine would refuse, the fit entry refuses first, naming the treatment;
    what only the fit entry refuses is one of its own rules."""
    observed, family, damage = case
    kind, err = run(lambda: check_fittable(observed, family=family))
    engine_refuses = _engine_refuses(observed, family)
    if engine_refuses:
        assert kind == "error", f"{damage}: the engine refuses what the check accepted"
    if kind == "error":
        message = str(err)
        assert isinstance(err, SchemaViolation), repr(err)
        assert not re.search(r"\bX has\b|\barm \d\b|\by has\b", message), message
        if damage not in ("none", "y-constant", "arm-small") and "treatment(s)" not in message:
            assert "treatment '" in message and "row " in message, message
        if not engine_refuses:
            assert re.search(_EXTRA_RULES, message), message
