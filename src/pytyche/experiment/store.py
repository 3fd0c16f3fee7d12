"""Persistence of a sequential experiment, one atomically committed round at a time.

Layout of a store directory::

    manifest.json            format marker, version, experiment config, committed rounds
    round_000/round.json     plan shipped, next plan, cell observations, summaries
    round_000/data_0.parquet one file per variant of the round's own visitors
    round_000/truth.npz      per-visitor truth arrays (sim mode)
    round_000/posterior.npz  per-visitor posterior summaries (CATE means and bounds)

Every file is written to a temporary name, flushed, fsynced and renamed into place; a round's
directory is assembled under a temporary name and renamed whole, and only then does the
manifest (itself replaced atomically) count it. A crash at any moment therefore leaves the
store at its last committed round. The manifest records a SHA-256 of every round file, so a
damaged file is detected when it is read.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytyche._integrity import atomic_write, jsonable, read_regular_file
from pytyche._integrity import fsync_dir as _fsync_dir
from pytyche.contracts import (
    AlignedVisitorArray,
    CalibrationTruth,
    MetricFamily,
    ObservedExperimentData,
    VariantData,
    VisitorSchema,
)
from pytyche.errors import StoreError
from pytyche.experiment.experiment import CellObservation
from pytyche.experiment.recommendation import NextRoundPlan

__all__ = ["STORE_FORMAT", "STORE_VERSION", "ExperimentStore", "StoredRound", "atomic_write"]

#: Format marker written in every manifest.
STORE_FORMAT = "pytyche.experiment-store"
#: Layout version; a store of another version is refused.
STORE_VERSION = 1
_MANIFEST = "manifest.json"
#: Largest manifest or round.json read; larger ones are refused unread.
_MAX_JSON_BYTES = 64 * 2**20
#: Largest round data file read.
_MAX_FILE_BYTES = 64 * 2**30
_ROUND_DIR = re.compile(r"round_\d{3,}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_READ_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
                OSError, EOFError, zipfile.BadZipFile)

_TRUTH_SINGLE = (
    "cate_per_visitor", "conv_cate_per_visitor", "aov_cate_per_visitor", "p0_per_visitor",
    "p1_per_visitor", "m0_per_visitor", "m1_per_visitor", "cluster_ids", "potential_outcomes",
)
_TRUTH_LISTS = ("contrast_cate_per_visitor", "p_per_visitor", "m_per_visitor")


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(jsonable(obj), indent=2, sort_keys=True, allow_nan=True).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buf, index=False)
    return buf.getvalue()


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def truth_to_files(truth: CalibrationTruth) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split a truth into JSON scalars and named per-visitor arrays."""
    meta = {
        "effect": float(truth.effect), "metric_id": truth.metric_id,
        "metric_family": str(MetricFamily(truth.metric_family).value),
        "effect_components": {k: float(v) for k, v in truth.effect_components.items()},
        "lists": {},
    }
    arrays: dict[str, np.ndarray] = {}
    for name in _TRUTH_SINGLE:
        value = getattr(truth, name)
        if value is not None:
            arrays[name] = np.asarray(value.values)
    for name in _TRUTH_LISTS:
        entries = getattr(truth, name)
        if entries is not None:
            meta["lists"][name] = len(entries)
            for i, entry in enumerate(entries):
                arrays[f"{name}__{i}"] = np.asarray(entry.values)
    return meta, arrays


def truth_from_files(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> CalibrationTruth:
    """Inverse of :func:`truth_to_files`."""
    def wrap(values: np.ndarray) -> AlignedVisitorArray:
        return AlignedVisitorArray(values=values, n_visitors=int(values.shape[0]))

    kwargs: dict[str, Any] = {
        name: wrap(arrays[name]) for name in _TRUTH_SINGLE if name in arrays
    }
    for name, count in meta.get("lists", {}).items():
        kwargs[name] = [wrap(arrays[f"{name}__{i}"]) for i in range(int(count))]
    return CalibrationTruth(
        effect=float(meta["effect"]), metric_id=meta["metric_id"],
        metric_family=MetricFamily(meta["metric_family"]),
        effect_components=dict(meta["effect_components"]), **kwargs,
    )


def _truth_comparison_to_dict(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: float(v) for k, v in value.items()}
    names = getattr(value, "__dataclass_fields__", None) or getattr(value, "__slots__", ())
    return {name: float(getattr(value, name)) for name in names}


def _truth_comparison_from_dict(data: Mapping[str, float] | None) -> Any:
    if data is None:
        return None
    try:
        from pytyche.analysis import TruthComparison

        return TruthComparison(**{k: (math.nan if v is None else v) for k, v in data.items()})
    except (ImportError, TypeError, ValueError):  # pragma: no cover - analysis layer changed
        return dict(data)


def _arrow_errors() -> tuple[type[BaseException], ...]:
    import pyarrow as pa

    return (pa.ArrowException,)


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Refuse a manifest whose structure is not what :meth:`ExperimentStore.commit_round`
    writes (so later reads cannot fail on a missing key or a wrong type)."""
    def fail(problem: str) -> StoreError:
        return StoreError(f"store manifest {str(path)!r} {problem}; the store is damaged "
                          "(restore it from a backup)")

    config = manifest.get("config")
    if not isinstance(config, dict):
        raise fail("has no experiment config")
    treatments = config.get("treatments")
    if treatments is not None and not (
        isinstance(treatments, list) and all(isinstance(t, str) for t in treatments)
    ):
        raise fail(f"lists treatments {treatments!r}, not a list of names")
    if manifest.get("experiment_id") is not None and not isinstance(
            manifest["experiment_id"], str):
        raise fail(f"has experiment_id {manifest['experiment_id']!r}, not a string")
    rounds = manifest.get("rounds")
    if not isinstance(rounds, list):
        raise fail("has no list of rounds")
    for k, entry in enumerate(rounds):
        if not isinstance(entry, dict) or entry.get("idx") != k or isinstance(
                entry.get("idx"), bool):
            raise fail(f"lists rounds out of order or malformed (entry {k}: {entry!r:.80})")
        if not isinstance(entry.get("dir"), str) or not _ROUND_DIR.fullmatch(entry["dir"]):
            raise fail(f"gives round {k} the folder {entry.get('dir')!r:.80}, not round_NNN")
        files = entry.get("files")
        if not isinstance(files, dict) or "round.json" not in files or not all(
            isinstance(name, str) and "/" not in name and "\\" not in name
            and name not in (".", "..") and isinstance(d, str) and _DIGEST.fullmatch(d)
            for name, d in files.items()
        ):
            raise fail(f"lists the files of round {k} in an unreadable form")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRound:
    """One committed round as read back from a store."""

    round_idx: int
    plan: NextRoundPlan
    observed: ObservedExperimentData
    truth: CalibrationTruth | None
    next_plan: NextRoundPlan
    cell_observations: list[CellObservation]
    truth_comparison: Any
    summary: dict[str, Any]


class ExperimentStore:
    """A directory holding a sequential experiment's committed rounds.

    Use :meth:`create` for a new experiment and :meth:`open` to read or continue one.
    """

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self._manifest = manifest

    # ---- opening ------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | os.PathLike[str], config: Mapping[str, Any]) -> ExperimentStore:
        """Start a new store in ``root`` (created when missing, otherwise it must be empty).

        Raises
        ------
        StoreError
            ``root`` already holds a store or other files.
        """
        path = Path(root)
        if path.exists() and not path.is_dir():
            msg = f"store path {str(path)!r} is a file; pass a directory"
            raise StoreError(msg)
        if path.exists() and any(path.iterdir()):
            what = "an experiment store" if (path / _MANIFEST).exists() else "other files"
            msg = (
                f"store directory {str(path)!r} already holds {what}; continue it with "
                "SequentialExperiment.resume(store, generator=...) or pick an empty directory"
            )
            raise StoreError(msg)
        path.mkdir(parents=True, exist_ok=True)
        manifest = {"format": STORE_FORMAT, "version": STORE_VERSION, "config": dict(config),
                    "rounds": []}
        atomic_write(path / _MANIFEST, _json_bytes(manifest))
        return cls(path, manifest)

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> ExperimentStore:
        """Open an existing store and check that it is one.

        Raises
        ------
        StoreError
            No manifest, an unreadable or foreign manifest, or a version this pytyche does
            not read.
        """
        path = Path(root)
        manifest_path = path / _MANIFEST
        if not manifest_path.is_file():
            msg = (f"{str(path)!r} is not a pytyche experiment store (no {_MANIFEST}); pass the "
                   "directory given as store= when the experiment started")
            raise StoreError(msg)
        try:
            manifest = json.loads(read_regular_file(manifest_path, _MAX_JSON_BYTES))
        except (OSError, ValueError, RecursionError) as err:
            msg = (f"store manifest {str(manifest_path)!r} is unreadable or corrupted "
                   f"({type(err).__name__}: {str(err)[:200]}); restore the store from a backup")
            raise StoreError(msg) from err
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
            msg = (f"{str(manifest_path)!r} is not a pytyche experiment store manifest (format "
                   f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, "
                   f"expected {STORE_FORMAT!r})")
            raise StoreError(msg)
        if manifest.get("version") != STORE_VERSION:
            msg = (f"store {str(path)!r} has layout version {manifest.get('version')!r}; this "
                   f"pytyche reads version {STORE_VERSION}")
            raise StoreError(msg)
        _check_manifest(manifest, manifest_path)
        return cls(path, manifest)

    # ---- reading ------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The experiment configuration recorded at creation."""
        return dict(self._manifest["config"])

    @property
    def n_rounds(self) -> int:
        """Committed rounds."""
        return len(self._manifest["rounds"])

    @property
    def experiment_id(self) -> str | None:
        """The experiment id of the committed data (``None`` before the first round)."""
        return self._manifest.get("experiment_id")

    def _read(self, round_idx: int, name: str) -> bytes:
        entry = self._manifest["rounds"][round_idx]
        digest = entry["files"].get(name)
        path = self.root / entry["dir"] / name
        if digest is None:
            msg = (f"store round {round_idx}: {name!r} is not listed in the manifest; the store "
                   "is damaged (restore it from a backup)")
            raise StoreError(msg)
        limit = _MAX_JSON_BYTES if name.endswith(".json") else _MAX_FILE_BYTES
        try:
            data = read_regular_file(path, limit)
        except (OSError, ValueError) as err:
            msg = f"store round {round_idx}: cannot read {str(path)!r} ({err}); store damaged"
            raise StoreError(msg) from err
        if digest is None or _sha256(data) != digest:
            msg = (f"store round {round_idx}: {str(path)!r} does not match its recorded checksum; "
                   "the store is corrupted (restore it from a backup)")
            raise StoreError(msg)
        return data

    def read_round(self, round_idx: int,
                   custom_policies: Mapping[str, Any] | None = None) -> StoredRound:
        """Read committed round ``round_idx`` back, checking every file's checksum.

        ``custom_policies`` (cell id to policy) stands in for the cells' policies of the
        user's own types, which the store names but does not hold.
        """
        if not 0 <= round_idx < self.n_rounds:
            msg = f"store has {self.n_rounds} committed round(s); round {round_idx} is not one"
            raise StoreError(msg)
        try:
            meta = json.loads(self._read(round_idx, "round.json"))
            if not isinstance(meta, dict):
                msg = "round.json does not hold a JSON object"
                raise ValueError(msg)
            if meta.get("experiment_id") != self.experiment_id:
                msg = (f"round.json names experiment {meta.get('experiment_id')!r}, the manifest "
                       f"{self.experiment_id!r}")
                raise ValueError(msg)
            variants = [
                VariantData.from_visitors(name, pd.read_parquet(io.BytesIO(
                    self._read(round_idx, f"data_{j}.parquet"))))
                for j, name in enumerate(meta["variants"])
            ]
            schema = VisitorSchema.from_dict(meta["schema"]) if meta.get("schema") else None
            observed = ObservedExperimentData(
                experiment_id=meta["experiment_id"], metric=meta["metric"], variants=variants,
                schema=schema,
            )
            truth = None
            if meta.get("truth") is not None:
                with np.load(io.BytesIO(self._read(round_idx, "truth.npz"))) as npz:
                    truth = truth_from_files(meta["truth"], {k: npz[k] for k in npz.files})
            return StoredRound(
                round_idx=round_idx,
                plan=NextRoundPlan.from_dict(meta["plan"], custom_policies),
                observed=observed,
                truth=truth,
                next_plan=NextRoundPlan.from_dict(meta["next_plan"], custom_policies),
                cell_observations=[CellObservation.from_dict(c)
                                   for c in meta["cell_observations"]],
                truth_comparison=_truth_comparison_from_dict(meta.get("truth_comparison")),
                summary=dict(meta.get("summary", {})),
            )
        except StoreError:
            raise
        except (*_READ_ERRORS, *_arrow_errors()) as err:
            folder = self.root / self._manifest["rounds"][round_idx]["dir"]
            msg = (f"store round {round_idx} ({str(folder)!r}) cannot be read back "
                   f"({type(err).__name__}: {str(err)[:200]}); the store is "
                   "damaged, restore it from a backup")
            raise StoreError(msg) from err

    def read_posterior_summary(self, round_idx: int) -> dict[str, np.ndarray]:
        """Per-visitor posterior summaries of a committed round (CATE means and bounds)."""
        if not 0 <= round_idx < self.n_rounds:
            msg = f"store has {self.n_rounds} committed round(s); round {round_idx} is not one"
            raise StoreError(msg)
        data = self._read(round_idx, "posterior.npz")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except _READ_ERRORS as err:
            msg = (f"store round {round_idx}: posterior.npz cannot be unpacked "
                   f"({type(err).__name__}: {err}); restore the store from a backup")
            raise StoreError(msg) from err

    # ---- writing ------------------------------------------------------------------------

    def commit_round(
        self,
        round_idx: int,
        *,
        plan: NextRoundPlan,
        observed: ObservedExperimentData,
        truth: CalibrationTruth | None,
        next_plan: NextRoundPlan,
        cell_observations: list[CellObservation],
        truth_comparison: Any,
        posterior_summary: Mapping[str, np.ndarray],
        summary: Mapping[str, Any],
    ) -> None:
        """Write round ``round_idx`` and count it in the manifest, atomically.

        Raises
        ------
        StoreError
            ``round_idx`` is not the next round of the store, or the data belongs to another
            experiment.
        """
        if round_idx != self.n_rounds:
            msg = (f"cannot commit round {round_idx}: the store's next round is {self.n_rounds}; "
                   "resume the experiment from the store instead of starting over")
            raise StoreError(msg)
        known = self.experiment_id
        if known is not None and observed.experiment_id != known:
            msg = (f"round data experiment_id {observed.experiment_id!r} does not match the "
                   f"store's {known!r}; this store belongs to another experiment")
            raise StoreError(msg)
        files: dict[str, bytes] = {}
        for j, variant in enumerate(observed.variants):
            files[f"data_{j}.parquet"] = _parquet_bytes(variant.visitors)
        truth_meta = None
        if truth is not None:
            truth_meta, arrays = truth_to_files(truth)
            files["truth.npz"] = _npz_bytes(arrays)
        files["posterior.npz"] = _npz_bytes(posterior_summary)
        meta = {
            "round_idx": round_idx,
            "experiment_id": observed.experiment_id,
            "metric": observed.metric,
            "variants": [v.name for v in observed.variants],
            "schema": observed.schema.to_dict() if observed.schema is not None else None,
            "truth": truth_meta,
            "plan": plan.to_dict(),
            "next_plan": next_plan.to_dict(),
            "cell_observations": [c.to_dict() for c in cell_observations],
            "truth_comparison": _truth_comparison_to_dict(truth_comparison),
            "summary": dict(summary),
        }
        files["round.json"] = _json_bytes(meta)

        name = f"round_{round_idx:03d}"
        final = self.root / name
        staging = self.root / f".{name}.staging"
        for stale in (staging, final):  # leftovers of an interrupted commit
            if stale.exists():
                shutil.rmtree(stale)
        staging.mkdir()
        for fname, data in files.items():
            with open(staging / fname, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(staging)
        os.replace(staging, final)
        _fsync_dir(self.root)

        manifest = dict(self._manifest)
        manifest["experiment_id"] = observed.experiment_id
        manifest["rounds"] = [
            *self._manifest["rounds"],
            {"idx": round_idx, "dir": name,
             "files": {fname: _sha256(data) for fname, data in files.items()}},
        ]
        atomic_write(self.root / _MANIFEST, _json_bytes(manifest))
        self._manifest = manifest
