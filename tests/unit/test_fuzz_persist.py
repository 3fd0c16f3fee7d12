"""Damaged saved posteriors: every corruption is a StoreError naming the file (or, for a folder
that is no posterior at all, a FileNotFoundError), never a raw traceback or a wrong answer.

The posterior is built without the sampler (``_posterior_helpers``): persistence only needs
arrays of the right shapes. Corruptions come in three groups: raw damage to each file (bytes
cut, flipped, appended, the file removed or replaced by a folder or a device link), edits of
the manifest, and edits made *consistently* (checksums recomputed) so that the deeper checks
(label order, draw shapes, metadata) are what must catch them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fuzz_helpers import is_clean
from _posterior_helpers import fake_posterior

import pytyche as pt
from pytyche.errors import StoreError

FILES = ("manifest.json", "meta.json", "observed.parquet", "draws.npz", "forest_0.npz")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, object]:
    post = fake_posterior()
    return post.save(tmp_path_factory.mktemp("posterior") / "post"), post


# ---- raw damage --------------------------------------------------------------------------


def _truncate(fraction: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
    return damage


def _flip(where: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        i = min(len(data) - 1, int(len(data) * where))
        data[i] ^= 0x55
        path.write_bytes(bytes(data))
    return damage


def _append(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"garbage")


def _remove(path: Path) -> None:
    path.unlink()


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


RAW = {"cut0": _truncate(0.0), "cut-half": _truncate(0.5), "cut-last": _truncate(0.999),
       "flip-start": _flip(0.0), "flip-middle": _flip(0.5), "flip-end": _flip(0.9999),
       "append": _append, "remove": _remove, "folder": _folder, "dev-zero": _dev_zero,
       "empty": _empty}
RAW_CASES = [(f, k) for f in FILES for k in RAW]


# ---- manifest edits (checksums of the data untouched) -----------------------------------


def _edit_json(name: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / name
        doc = json.loads(path.read_text())
        out = edit(doc)
        path.write_text(json.dumps(doc if out is None else out))
    return damage


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _set(key, value):
    def edit(doc):
        doc[key] = value
    return edit


def _file_entry(name, key, value):
    def edit(doc):
        doc["files"][name][key] = value
    return edit


MANIFEST_EDITS: dict[str, Callable[[Path], None]] = {
    "version-1": _edit_json("manifest.json", _set("version", 1)),
    "version-str": _edit_json("manifest.json", _set("version", "2")),
    "format-foreign": _edit_json("manifest.json", _set("format", "other")),
    "files-list": _edit_json("manifest.json", _set("files", [])),
    "files-empty": _edit_json("manifest.json", _set("files", {})),
    "arrays-none": _edit_json("manifest.json", _set("arrays", None)),
    "arrays-bad-shape": _edit_json("manifest.json", lambda d: d["arrays"]["sev"].update(
        shape=[-1])),
    "arrays-shape-changed": _edit_json("manifest.json", lambda d: d["arrays"]["sev"].update(
        shape=[3, 3])),
    "arrays-dtype": _edit_json("manifest.json", lambda d: d["arrays"]["sev"].update(
        dtype="object")),
    "arrays-missing-key": _edit_json("manifest.json", lambda d: d["arrays"].pop("sev")),
    "treatments-reversed": _edit_json("manifest.json", lambda d: d["treatments"].reverse()),
    "treatments-dup": _edit_json("manifest.json", _set("treatments", ["a", "a", "b"])),
    "counts-shifted": _edit_json("manifest.json", lambda d: d.update(visitors_per_treatment=[
        d["visitors_per_treatment"][0] + 1, d["visitors_per_treatment"][1] - 1,
        d["visitors_per_treatment"][2]])),
    "counts-zero": _edit_json("manifest.json", lambda d: d["visitors_per_treatment"].__setitem__(
        0, 0)),
    "sha-wrong": _edit_json("manifest.json", _file_entry("draws.npz", "sha256", "0" * 64)),
    "bytes-wrong": _edit_json("manifest.json", _file_entry("observed.parquet", "bytes", 1)),
    "bytes-negative": _edit_json("manifest.json", _file_entry("meta.json", "bytes", -5)),
    "bytes-huge": _edit_json("manifest.json", _file_entry("draws.npz", "bytes", 2**62)),
    "path-traversal": _edit_json("manifest.json", lambda d: d["files"].__setitem__(
        "../x", {"sha256": "0" * 64, "bytes": 1})),
    "extra-listed": _edit_json("manifest.json", lambda d: d["files"].__setitem__(
        "other.bin", {"sha256": "0" * 64, "bytes": 1})),
    "not-object": _edit_json("manifest.json", lambda d: [d]),
    "null": _edit_json("manifest.json", lambda d: 0),
}


def _text(name: str, text: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / name).write_text(text)
    return damage


MANIFEST_EDITS.update({
    "deep-nesting": _text("manifest.json", _nested(100_000)),
    "not-json": _text("manifest.json", "{not json"),
    "nan-json": _text("manifest.json", "NaN"),
    "binary": lambda folder: (folder / "manifest.json").write_bytes(b"\xff\xfe\x00"),
})


# ---- consistent edits: the file changes and the manifest is updated to match ---------------


def _rehash(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _meta(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        edit(meta)
        (folder / "meta.json").write_text(json.dumps(meta))
        _rehash(folder, "meta.json")
    return damage


def _table(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        table = pd.read_parquet(folder / "observed.parquet")
        edit(table).to_parquet(folder / "observed.parquet", index=False)
        _rehash(folder, "observed.parquet")
    return damage


def _draws(edit: Callable[[dict], None], *, declare: bool = False) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        with np.load(folder / "draws.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        edit(arrays)
        np.savez_compressed(folder / "draws.npz", **arrays)
        _rehash(folder, "draws.npz")
        if declare:
            manifest = json.loads((folder / "manifest.json").read_text())
            manifest["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                                  for k, v in arrays.items()}
            (folder / "manifest.json").write_text(json.dumps(manifest))
    return damage


def _swap_labels(table: pd.DataFrame) -> pd.DataFrame:
    labels = table["__treatment__"].map({"control": "a", "a": "control"}).fillna(
        table["__treatment__"])
    return table.assign(__treatment__=labels)


def _with_meta_and_manifest_treatments(folder: Path) -> None:
    _meta(lambda m: m["treatments"].reverse())(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["treatments"].reverse()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _forest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        with np.load(folder / "forest_0.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        edit(arrays)
        np.savez_compressed(folder / "forest_0.npz", **arrays)
        _rehash(folder, "forest_0.npz")
    return damage


def _forest_header(folder: Path) -> None:
    def edit(arrays):
        arrays["header"] = np.frombuffer(b"{broken", np.uint8)
    _forest(edit)(folder)


CONSISTENT: dict[str, Callable[[Path], None]] = {
    "meta-treatments-reversed": _meta(lambda m: m["treatments"].reverse()),
    "all-treatments-reversed": _with_meta_and_manifest_treatments,
    "meta-n": _meta(lambda m: m.update(n=m["n"] + 1)),
    "meta-num-arms": _meta(lambda m: m.update(num_arms=2)),
    "meta-n-forests": _meta(lambda m: m.update(n_forests=99)),
    "meta-n-forests-2": _meta(lambda m: m.update(n_forests=2)),
    "meta-family": _meta(lambda m: m.update(family="poisson")),
    "meta-family-binary": _meta(lambda m: m.update(family="binary")),
    "meta-format": _meta(lambda m: m.update(format=1)),
    "meta-config-typo": _meta(lambda m: m["config"].update(num_tres=3)),
    "meta-config-bad": _meta(lambda m: m["config"].update(num_trees_mu=-1)),
    "meta-config-list": _meta(lambda m: m.update(config=[1])),
    "meta-schema-reserved": _meta(lambda m: m["schema"].update(features=["outcome"])),
    "meta-schema-kind": _meta(lambda m: m["schema"]["kinds"].update(age="weird")),
    "meta-schema-missing-col": _meta(lambda m: m["schema"].update(
        features=["age", "device", "income"], kinds={**m["schema"]["kinds"],
                                                     "income": "continuous"})),
    "meta-schema-levels": _meta(lambda m: m["schema"]["categories"].update(device=["tv"])),
    "meta-metric": _meta(lambda m: m.update(metric="clicks")),
    "meta-calibration": _meta(lambda m: m.update(calibration={"x": 1})),
    "meta-pooling": _meta(lambda m: m.update(pooling="shared")),
    "meta-seed": _meta(lambda m: m.update(seed="zero")),
    "meta-experiment-id": _meta(lambda m: m.update(experiment_id=None)),
    "meta-deep": lambda folder: (_text("meta.json", _nested(50_000))(folder),
                                 _rehash(folder, "meta.json")),
    "table-labels-swapped": _table(_swap_labels),
    "table-rows-shuffled": _table(lambda t: t.sample(frac=1.0, random_state=0)),
    "table-row-dropped": _table(lambda t: t.iloc[1:]),
    "table-no-treatment": _table(lambda t: t.drop(columns="__treatment__")),
    "table-no-outcome": _table(lambda t: t.drop(columns="outcome")),
    "table-nan-outcome": _table(lambda t: t.assign(outcome=np.nan)),
    "table-feature-dropped": _table(lambda t: t.drop(columns="age")),
    "table-unknown-level": _table(lambda t: t.assign(device="tv")),
    "draws-nan": _draws(lambda a: a["rpv_cate"].__setitem__((0, 0, 0), np.nan)),
    "draws-inf": _draws(lambda a: a["sigma"].__setitem__(0, np.inf)),
    "draws-fewer-visitors": _draws(lambda a: a.update({k: v[1:] for k, v in a.items()
                                                       if k != "sigma"})),
    "draws-fewer-visitors-declared": _draws(lambda a: a.update(
        {k: v[1:] for k, v in a.items() if k != "sigma"}), declare=True),
    "draws-arms-dropped-declared": _draws(lambda a: a.update(
        rpv_cate=a["rpv_cate"][:, :, :1]), declare=True),
    "draws-key-missing": _draws(lambda a: a.pop("p")),
    "draws-extra-key": _draws(lambda a: a.update(extra=np.zeros(2))),
    "draws-int": _draws(lambda a: a.update(sev=a["sev"].astype(np.int32)), declare=True),
    "draws-legacy-mu-nan": _draws(lambda a: a.update(
        mu=np.full(a["rpv_cate"].shape[:2], np.nan, np.float32)),
        declare=True),
    "draws-legacy-mu-shape": _draws(lambda a: a.update(mu=np.zeros(3, np.float32)),
                                    declare=True),
    "draws-object": _draws(lambda a: a.update(sigma=np.array(["x"] * len(a["sigma"]))),
                           declare=True),
    "forest-arms": _forest(lambda a: a.update(arm_shares=np.ones(2) / 2)),
    "forest-draws": _forest(lambda a: a.update(mu_var=a["mu_var"][:1])),
    "forest-missing-array": _forest(lambda a: a.pop("tau_leaf")),
    "forest-header": _forest_header,
}

DAMAGES = (
    [(f"{name}:{kind}", (lambda folder, name=name, kind=kind: RAW[kind](folder / name)))
     for name, kind in RAW_CASES]
    + [(f"manifest:{k}", v) for k, v in MANIFEST_EDITS.items()]
    + [(f"consistent:{k}", v) for k, v in CONSISTENT.items()]
)


@pytest.mark.parametrize("damage", [d[1] for d in DAMAGES], ids=[d[0] for d in DAMAGES])
def test_damaged_posterior_is_a_store_error(saved, tmp_path, damage):
    """A damaged posterior is refused with a StoreError that names the folder and a file."""
    source, _ = saved
    folder = tmp_path / "copy"
    shutil.copytree(source, folder, symlinks=True)
    damage(folder)
    try:
        pt.load_result(folder)
    except StoreError as err:
        assert str(folder) in str(err)
        assert any(name in str(err) for name in (*FILES, "forest_"))
        return
    except Exception as err:
        assert is_clean(err), f"crash: {type(err).__name__}: {err}"
        pytest.fail(f"not a StoreError: {type(err).__name__}: {err}")
    pytest.fail("damaged posterior accepted")


def test_untouched_copy_loads(saved, tmp_path):
    """A copied folder loads back with the same labels and draws."""
    source, post = saved
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    again = pt.load_result(folder)
    assert again.treatments == post.treatments
    np.testing.assert_array_equal(again.rpv_cate_samples, post.rpv_cate_samples)


def test_older_save_with_control_level_loads(saved, tmp_path):
    """Hurdle saves written before control's level was derived hold it as ``mu``: they load,
    the array checked like the others and dropped (the level is p_0 · sev_0 again)."""
    source, post = saved
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    level = post.p_samples[:, :, 0].astype(np.float32) * post.sev_samples[:, :, 0]
    _draws(lambda a: a.update(mu=level), declare=True)(folder)
    again = pt.load_result(folder)
    assert "mu" not in again.fit.draws
    np.testing.assert_array_equal(again.level_samples()[:, :, 0], level)


def test_unlisted_extra_file_is_ignored(saved, tmp_path):
    """A stray file the manifest does not list (a note, .DS_Store) does not block loading."""
    source, post = saved
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    assert pt.load_result(folder).treatments == post.treatments


@pytest.mark.parametrize("what", ["missing", "empty", "file"])
def test_not_a_posterior(tmp_path, what):
    """A folder that holds no posterior at all is a FileNotFoundError naming meta.json."""
    target = tmp_path / "x"
    if what == "empty":
        target.mkdir()
    elif what == "file":
        target.write_text("hi")
    with pytest.raises(FileNotFoundError, match=r"meta\.json"):
        pt.load_result(target)


def test_unfinished_save_without_manifest(saved, tmp_path):
    """A folder whose manifest was never written is refused: the save did not finish."""
    source, _ = saved
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(StoreError, match=r"manifest\.json.*missing"):
        pt.load_result(folder)


def test_features_with_internal_names_never_reach_save():
    """A feature named like the internal __treatment__ column is refused at load time."""
    frame = pd.DataFrame({"arm": ["control", "a"] * 20, "y": np.arange(40.0),
                          "__treatment__": np.arange(40.0)})
    with pytest.raises(pt.SchemaViolation, match="__treatment__"):
        pt.from_dataframe(frame, treatment="arm", outcome="y")


def test_mixed_visitor_ids_never_reach_save():
    """Mixed int/str visitor ids are refused at load time, not when saving after the fit."""
    frame = pd.DataFrame({"arm": ["control", "a"] * 20, "y": np.arange(40.0),
                          "visitor_id": [i if i % 2 else str(i) for i in range(40)]})
    with pytest.raises(pt.SchemaViolation, match="mixes value types"):
        pt.from_dataframe(frame, treatment="arm", outcome="y")


def test_save_writes_manifest_last_and_complete(saved):
    """The manifest lists every other file with its size and checksum."""
    source, _ = saved
    manifest = json.loads((source / "manifest.json").read_text())
    on_disk = {p.name for p in source.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        data = (source / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_corruption_count():
    """At least the 60 posterior corruptions the issue asks for."""
    assert len(DAMAGES) >= 60, len(DAMAGES)
