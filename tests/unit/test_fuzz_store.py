"""Damaged experiment stores: opening, reading every round and ``pytyche status`` end in a
StoreError (exit status 2 on the command line), never a traceback or an endless read.

The store is committed directly through :class:`ExperimentStore` (no fit): one round of a
cold-start plan with a small observed data set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _fuzz_helpers import base_frame, is_clean
from typer.testing import CliRunner

from pytyche.cli import app
from pytyche.data import from_dataframe
from pytyche.errors import StoreError
from pytyche.experiment import ExperimentStore, cold_start_plan

T = ["control", "B"]
ROUND = "round_000"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store") / "s"
    st = ExperimentStore.create(root, {"treatments": T, "seed": 0})
    observed = from_dataframe(base_frame(), treatment="arm", outcome="y", control="control")
    plan = cold_start_plan(T)
    st.commit_round(0, plan=plan, observed=observed, truth=None, next_plan=plan,
                    cell_observations=[], truth_comparison=None,
                    posterior_summary={"cate_mean": np.zeros((observed.n_visitors, 1))},
                    summary={"line": "round 0 [done]"})
    return root


def _read_everything(root: Path) -> None:
    st = ExperimentStore.open(root)
    _ = st.config, st.experiment_id
    for r in range(st.n_rounds):
        st.read_round(r)
        st.read_posterior_summary(r)


def _manifest(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        doc = json.loads((root / "manifest.json").read_text())
        out = edit(doc)
        (root / "manifest.json").write_text(json.dumps(doc if out is None else out))
    return damage


def _set(key, value):
    return _manifest(lambda d: d.__setitem__(key, value))


def _round(key, value):
    return _manifest(lambda d: d["rounds"][0].__setitem__(key, value))


def _raw(name: str, action: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / name
        if action == "remove":
            path.unlink()
        elif action == "empty":
            path.write_bytes(b"")
        elif action == "cut":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif action == "flip":
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x55
            path.write_bytes(bytes(data))
        elif action == "dev-zero":
            path.unlink()
            path.symlink_to("/dev/zero")
        elif action == "folder":
            path.unlink()
            path.mkdir()
    return damage


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


def _consistent_round_json(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    """Edit round.json and record its new checksum, so the structure checks must catch it."""
    def damage(root: Path) -> None:
        path = root / ROUND / "round.json"
        doc = json.loads(path.read_text())
        out = edit(doc)
        data = json.dumps(doc if out is None else out).encode()
        path.write_bytes(data)
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["rounds"][0]["files"]["round.json"] = hashlib.sha256(data).hexdigest()
        (root / "manifest.json").write_text(json.dumps(manifest))
    return damage


def _consistent_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / ROUND / name).write_bytes(data)
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["rounds"][0]["files"][name] = hashlib.sha256(data).hexdigest()
        (root / "manifest.json").write_text(json.dumps(manifest))
    return damage


DAMAGES: dict[str, Callable[[Path], None]] = {
    "rounds-int-list": _set("rounds", [0]),
    "rounds-none": _set("rounds", None),
    "rounds-dict": _set("rounds", {"0": {}}),
    "rounds-out-of-order": _manifest(lambda d: d["rounds"][0].__setitem__("idx", 1)),
    "rounds-idx-bool": _manifest(lambda d: d["rounds"][0].__setitem__("idx", False)),
    "rounds-idx-str": _round("idx", "0"),
    "rounds-dir-traversal": _round("dir", "../elsewhere"),
    "rounds-dir-absolute": _round("dir", "/etc"),
    "rounds-dir-none": _round("dir", None),
    "rounds-dir-missing": _round("dir", "round_007"),
    "rounds-files-list": _round("files", []),
    "rounds-files-empty": _round("files", {}),
    "rounds-files-bad-digest": _manifest(lambda d: d["rounds"][0]["files"].__setitem__(
        "round.json", "xyz")),
    "rounds-files-wrong-digest": _manifest(lambda d: d["rounds"][0]["files"].__setitem__(
        "round.json", "0" * 64)),
    "rounds-files-traversal": _manifest(lambda d: d["rounds"][0]["files"].__setitem__(
        "../manifest.json", "0" * 64)),
    "rounds-data-unlisted": _manifest(lambda d: d["rounds"][0]["files"].pop("data_0.parquet")),
    "rounds-posterior-unlisted": _manifest(lambda d: d["rounds"][0]["files"].pop(
        "posterior.npz")),
    "config-missing": _manifest(lambda d: d.pop("config")),
    "config-list": _set("config", [1, 2]),
    "config-treatments-str": _manifest(lambda d: d["config"].__setitem__("treatments", "ab")),
    "config-treatments-ints": _manifest(lambda d: d["config"].__setitem__("treatments", [1, 2])),
    "experiment-id-int": _set("experiment_id", 5),
    "format-foreign": _set("format", "other"),
    "version-2": _set("version", 2),
    "manifest-list": _manifest(lambda d: [d]),
    "manifest-null": _manifest(lambda d: 0),
    "manifest-deep": _text("manifest.json", "[" * 100_000 + "]" * 100_000),
    "manifest-deep-object": _text("manifest.json", '{"a":' * 50_000 + "1" + "}" * 50_000),
    "manifest-not-json": _text("manifest.json", "{oops"),
    "manifest-empty": _raw("manifest.json", "empty"),
    "manifest-dev-zero": _raw("manifest.json", "dev-zero"),
    "manifest-folder": _raw("manifest.json", "folder"),
    "manifest-removed": _raw("manifest.json", "remove"),
    "manifest-binary": lambda root: (root / "manifest.json").write_bytes(b"\xff\x00\xfe"),
    **{f"{name}-{action}": _raw(f"{ROUND}/{name}", action)
       for name in ("round.json", "data_0.parquet", "data_1.parquet", "posterior.npz")
       for action in ("remove", "empty", "cut", "flip", "dev-zero", "folder")},
    "round-dir-removed": lambda root: shutil.rmtree(root / ROUND),
    "round-json-list": _consistent_round_json(lambda d: [d]),
    "round-json-deep": _consistent_bytes("round.json", b"[" * 100_000 + b"]" * 100_000),
    "round-json-no-variants": _consistent_round_json(lambda d: d.pop("variants")),
    "round-json-variants-str": _consistent_round_json(lambda d: d.__setitem__("variants", "x")),
    "round-json-variants-extra": _consistent_round_json(lambda d: d["variants"].append("C")),
    "round-json-plan-broken": _consistent_round_json(lambda d: d.__setitem__("plan", {"x": 1})),
    "round-json-plan-null": _consistent_round_json(lambda d: d.__setitem__("plan", None)),
    "round-json-metric": _consistent_round_json(lambda d: d.__setitem__("metric", "clicks")),
    "round-json-schema": _consistent_round_json(lambda d: d.__setitem__("schema", {"a": 1})),
    "round-json-cells": _consistent_round_json(lambda d: d.__setitem__("cell_observations",
                                                                         [{"id": 1}])),
    "round-json-summary-list": _consistent_round_json(lambda d: d.__setitem__("summary",
                                                                                [1, 2, 3])),
    "round-json-truth": _consistent_round_json(lambda d: d.__setitem__("truth", {"effect": 1})),
    "round-json-experiment": _consistent_round_json(lambda d: d.__setitem__("experiment_id",
                                                                              None)),
    "data-not-parquet": _consistent_bytes("data_0.parquet", b"PAR1 not really"),
    "posterior-not-npz": _consistent_bytes("posterior.npz", b"PK\x03\x04 nope"),
    "posterior-pickle": _consistent_bytes(
        "posterior.npz", __import__("pickle").dumps({"cate_mean": [1]})),
}


@pytest.mark.parametrize("damage", list(DAMAGES.values()), ids=list(DAMAGES))
def test_damaged_store_is_a_store_error(store, tmp_path, damage):
    """Opening or reading a damaged store raises StoreError (and nothing else)."""
    root = tmp_path / "s"
    shutil.copytree(store, root, symlinks=True)
    damage(root)
    try:
        _read_everything(root)
    except StoreError as err:
        assert str(err).strip()
        return
    except Exception as err:  # classified: a clean non-store error still fails the test
        assert is_clean(err), f"crash: {type(err).__name__}: {err}"
        pytest.fail(f"not a StoreError: {type(err).__name__}: {err}")
    pytest.fail("damaged store read without error")


STATUS_CASES = ["rounds-int-list", "config-missing", "manifest-deep", "manifest-dev-zero",
                "round.json-dev-zero", "round-json-summary-list", "config-treatments-ints",
                "data_0.parquet-flip"]


@pytest.mark.parametrize("name", STATUS_CASES)
def test_status_on_damaged_store_exits_2(store, tmp_path, name):
    """``pytyche status`` prints one error line and exits 2 on a damaged store."""
    root = tmp_path / "s"
    shutil.copytree(store, root, symlinks=True)
    DAMAGES[name](root)
    result = CliRunner().invoke(app, ["status", "--store", str(root)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_status_on_intact_store_escapes_markup(store):
    """The intact store reads back; a summary line with [brackets] is printed as text."""
    result = CliRunner().invoke(app, ["status", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "round 0 [done]" in result.output


def test_corruption_count():
    """At least the 40 store corruptions the issue asks for."""
    assert len(DAMAGES) >= 40, len(DAMAGES)
