"""Saved posteriors on disk: writing them with a manifest, reading them back with every check.

Layout of a saved posterior (a folder)::

    observed.parquet   the fitted visitors, grouped by treatment (control first), with the
                       treatment in the internal ``__treatment__`` column
    draws.npz          posterior draws (no pickle)
    forest_<i>.npz     kept trees, one file per forest
    meta.json          family, config, seed, treatments, schema, calibration, diagnostics
    manifest.json      written last: SHA-256 and size of every file above, the shape and dtype
                       of every draw array, the visitors per treatment

A folder without a complete manifest was never finished (or was damaged) and is refused.
Reading checks, in order: sizes against the manifest and hard limits (nothing larger is read),
checksums, the JSON structure, the data's treatment labels against the metadata (order
included, so labels cannot come back swapped and flip every effect's sign), and each draw
array's shape and finiteness against the stored data. Every failure is a
:class:`~pytyche.errors.StoreError` naming the file and the fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytyche._integrity import atomic_write, read_regular_file
from pytyche.errors import StoreError

__all__ = ["MANIFEST", "META", "POSTERIOR_FORMAT", "POSTERIOR_VERSION", "read_posterior",
           "write_posterior"]

#: Format marker and layout version of the manifest.
POSTERIOR_FORMAT = "pytyche.posterior"
POSTERIOR_VERSION = 2
MANIFEST = "manifest.json"
META = "meta.json"
_OBSERVED = "observed.parquet"
_DRAWS = "draws.npz"
#: Column of the saved visitor table holding the treatment (a name features may not take).
TREATMENT_COLUMN = "__treatment__"
#: Largest JSON file read (the manifest or the metadata).
MAX_JSON_BYTES = 16 * 2**20
#: Largest data file read (observed data, draws, a forest).
MAX_FILE_BYTES = 64 * 2**30
_MAX_FORESTS = 4
_FAMILY_KEYS = {
    "continuous": {"cate": "k", "mu": "n", "sigma": "s"},
    "binary": {"cate": "k", "mu": "n", "sigma": "s"},
    "hurdle": {"p": "K", "sev": "K", "rpv_cate": "k", "sigma": "s"},
}
#: Draws older saves of the same layout version hold that are now derived: read, checked
#: like the others and dropped (a hurdle fit's control level is p_0 · sev_0).
_LEGACY_KEYS = {"hurdle": {"mu": "n"}}
_FIX = "re-save it from the fitted posterior, or fit again"


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_posterior(result: Any, folder: Path, meta: Mapping[str, Any]) -> None:
    """Write ``result``'s files into the (new, empty) ``folder``, the manifest last.

    ``meta`` is the metadata of ``meta.json`` (without the layout version, added here).
    """
    fit = result.fit
    observed = result.observed
    frames = [v.visitors.assign(**{TREATMENT_COLUMN: v.name}) for v in observed.variants]
    pd.concat(frames, ignore_index=True).to_parquet(folder / _OBSERVED, index=False)
    np.savez_compressed(folder / _DRAWS, **fit.draws)
    for i, forest in enumerate(fit.forests):
        forest.save(folder / f"forest_{i}.npz")
    (folder / META).write_text(json.dumps({**meta, "format": POSTERIOR_VERSION}, indent=2))
    files = sorted(p.name for p in folder.iterdir())
    for name in files:
        _fsync(folder / name)
    manifest = {
        "format": POSTERIOR_FORMAT,
        "version": POSTERIOR_VERSION,
        "files": {name: {"sha256": _sha256_file(folder / name),
                         "bytes": (folder / name).stat().st_size} for name in files},
        "arrays": {key: {"shape": list(np.shape(v)), "dtype": str(np.asarray(v).dtype)}
                   for key, v in fit.draws.items()},
        "treatments": list(observed.treatments),
        "visitors_per_treatment": [int(v.n_visitors) for v in observed.variants],
    }
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2).encode())


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PosteriorParts:
    """What :func:`read_posterior` checked and hands to the result constructor."""

    meta: dict[str, Any]
    table: pd.DataFrame
    draws: dict[str, np.ndarray]
    forests: tuple[bytes, ...]
    """The checked bytes of each forest file, in order."""


class _Reader:
    """Reads one saved posterior; every error names the folder, the file and the fix."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest: dict[str, Any] = {}

    def fail(self, name: str | None, problem: str, fix: str = _FIX) -> StoreError:
        where = f"{str(self.folder)!r}" if name is None else f"{str(self.folder / name)!r}"
        return StoreError(f"saved posterior {where}: {problem}; {fix}")

    def read_bytes(self, name: str, limit: int) -> bytes:
        try:
            return read_regular_file(self.folder / name, limit)
        except FileNotFoundError:
            raise self.fail(name, "the file is missing") from None
        except ValueError as err:
            raise self.fail(name, str(err)) from None
        except OSError as err:
            raise self.fail(name, f"cannot be read ({err})") from err

    def json(self, name: str, data: bytes) -> Any:
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as err:
            raise self.fail(name, f"is not valid JSON ({type(err).__name__}: "
                                  f"{str(err)[:120]})") from None

    def checked(self, name: str) -> bytes:
        """The bytes of a manifest-listed file after its size and checksum match."""
        entry = self.manifest["files"].get(name)
        if entry is None:
            raise self.fail(name, "is not listed in the manifest")
        data = self.read_bytes(name, min(entry["bytes"], MAX_FILE_BYTES))
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise self.fail(name, "does not match the checksum in manifest.json (the file was "
                                  "changed or damaged after saving)")
        return data


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_manifest(reader: _Reader, manifest: Any) -> None:
    name = MANIFEST
    if not isinstance(manifest, dict) or manifest.get("format") != POSTERIOR_FORMAT:
        raise reader.fail(name, "is not a pytyche posterior manifest")
    if manifest.get("version") != POSTERIOR_VERSION:
        raise reader.fail(name, f"has layout version {manifest.get('version')!r}, this "
                                f"pytyche reads {POSTERIOR_VERSION}",
                          "load it with the pytyche version that saved it and save it again")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and "/" not in k and "\\" not in k and k not in ("", ".", "..")
        and isinstance(v, dict) and isinstance(v.get("sha256"), str)
        and _is_int(v.get("bytes")) for k, v in files.items()
    ):
        raise reader.fail(name, "lists files in an unreadable form")
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("shape"), list)
        and all(_is_int(d) for d in v["shape"]) and isinstance(v.get("dtype"), str)
        for v in arrays.values()
    ):
        raise reader.fail(name, "describes the draw arrays in an unreadable form")
    treatments = manifest.get("treatments")
    counts = manifest.get("visitors_per_treatment")
    if not (isinstance(treatments, list) and isinstance(counts, list)
            and len(treatments) == len(counts) >= 2
            and all(isinstance(t, str) and t for t in treatments)
            and len(set(treatments)) == len(treatments)
            and all(_is_int(c, 1) for c in counts)):
        raise reader.fail(name, "lists the treatments in an unreadable form")
    for required in (META, _OBSERVED, _DRAWS):
        if required not in files:
            raise reader.fail(name, f"does not list {required}")


def _check_meta(reader: _Reader, meta: Any) -> None:
    name = META
    if not isinstance(meta, dict):
        raise reader.fail(name, "does not hold a JSON object")
    if meta.get("format") != POSTERIOR_VERSION:
        raise reader.fail(name, f"has format {meta.get('format')!r}, expected "
                                f"{POSTERIOR_VERSION}")
    family = meta.get("family")
    if family not in _FAMILY_KEYS:
        raise reader.fail(name, f"names an unknown model family {family!r}")
    treatments = meta.get("treatments")
    if treatments != reader.manifest["treatments"]:
        raise reader.fail(name, f"lists treatments {treatments!r}, the manifest "
                                f"{reader.manifest['treatments']!r}")
    if meta.get("num_arms") != len(treatments):
        raise reader.fail(name, f"num_arms={meta.get('num_arms')!r} but {len(treatments)} "
                                "treatments are listed")
    if not _is_int(meta.get("n"), 1) or meta["n"] != sum(
            reader.manifest["visitors_per_treatment"]):
        raise reader.fail(name, f"n={meta.get('n')!r} does not match the visitors per treatment "
                                "in the manifest")
    n_forests = meta.get("n_forests")
    if not _is_int(n_forests) or n_forests > _MAX_FORESTS:
        raise reader.fail(name, f"n_forests={n_forests!r} is not 0..{_MAX_FORESTS}")
    for key, kind in (("config", dict), ("schema", dict), ("diagnostics", dict),
                      ("timings", dict), ("experiment_id", str), ("metric", str)):
        if not isinstance(meta.get(key), kind):
            raise reader.fail(name, f"field {key!r} is missing or of the wrong type")
    if meta.get("pooling") not in (None, "joint", "independent"):
        raise reader.fail(name, f"pooling={meta.get('pooling')!r} is not joint/independent")
    if not isinstance(meta.get("seed"), int) or isinstance(meta.get("seed"), bool):
        raise reader.fail(name, f"seed={meta.get('seed')!r} is not an integer")


def _read_table(reader: _Reader, meta: dict[str, Any]) -> pd.DataFrame:
    import pyarrow as pa

    data = reader.checked(_OBSERVED)
    try:
        table = pd.read_parquet(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        raise reader.fail(_OBSERVED, f"is not readable Parquet ({err})") from err
    if TREATMENT_COLUMN not in table.columns or "outcome" not in table.columns:
        raise reader.fail(_OBSERVED, f"lacks the {TREATMENT_COLUMN!r} or 'outcome' column")
    labels = table[TREATMENT_COLUMN].astype(str).to_numpy()
    expected = np.repeat(np.asarray(meta["treatments"], dtype=object),
                         reader.manifest["visitors_per_treatment"])
    if labels.shape != expected.shape or not np.array_equal(labels, expected.astype(str)):
        raise reader.fail(_OBSERVED, "holds treatment labels that do not match the saved "
                                     f"treatments {meta['treatments']} in order and count "
                                     "(loading it would mislabel effects)")
    y = pd.to_numeric(table["outcome"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        raise reader.fail(_OBSERVED, "holds missing or non-finite outcomes")
    return table


def _read_draws(reader: _Reader, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    data = reader.checked(_DRAWS)
    declared = reader.manifest["arrays"]
    family = meta["family"]
    keys = _FAMILY_KEYS[family]
    legacy = {k: rule for k, rule in _LEGACY_KEYS.get(family, {}).items() if k in declared}
    if set(declared) != set(keys) | set(legacy):
        raise reader.fail(MANIFEST, f"lists draws {sorted(declared)}, a {family} posterior has "
                                    f"{sorted(keys)}")
    n, K = meta["n"], meta["num_arms"]
    S = declared["sigma"]["shape"][0] if declared["sigma"]["shape"] else -1
    wanted = {"n": [n, S], "k": [n, S, K - 1], "K": [n, S, K], "s": [S]}
    for key, rule in {**keys, **legacy}.items():
        if declared[key]["shape"] != wanted[rule] or S < 1:
            raise reader.fail(_DRAWS, f"draws {key!r} have shape {declared[key]['shape']}, but "
                                      f"{n} visitors, {K} treatments and {S} draws need "
                                      f"{wanted[rule]}")
        if declared[key]["dtype"] not in ("float16", "float32", "float64"):
            raise reader.fail(_DRAWS, f"draws {key!r} have dtype {declared[key]['dtype']}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                if key not in declared:
                    raise reader.fail(_DRAWS, f"holds an undeclared array {key!r}")
                limit = 8 * int(np.prod(declared[key]["shape"])) + 4096
                if info.file_size > limit:
                    raise reader.fail(_DRAWS, f"array {key!r} unpacks to {info.file_size} "
                                              "bytes, more than its declared shape needs")
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            draws = {k: arrays[k] for k in arrays.files}
    except StoreError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise reader.fail(_DRAWS, f"cannot be unpacked ({type(err).__name__}: {err})") from err
    for key, spec in declared.items():
        value = draws.get(key)
        if value is None or list(value.shape) != spec["shape"] or str(value.dtype) != spec[
                "dtype"]:
            raise reader.fail(_DRAWS, f"array {key!r} does not match its declared shape "
                                      f"{spec['shape']} and dtype {spec['dtype']}")
        if not np.isfinite(value).all():
            raise reader.fail(_DRAWS, f"array {key!r} holds non-finite draws")
    for key in legacy:
        del draws[key]
    return draws


def read_posterior(path: str | os.PathLike[str]) -> PosteriorParts:
    """Read and check a saved posterior's files (see the module docstring for the checks).

    Raises
    ------
    FileNotFoundError
        ``path`` holds neither a manifest nor ``meta.json``: it is not a saved posterior.
    StoreError
        Anything damaged, incomplete, inconsistent or too large, naming the file.
    """
    try:
        folder = Path(path).expanduser()
    except (TypeError, RuntimeError) as err:
        msg = f"cannot use {path!r} as a posterior folder ({err}); pass the folder save() wrote"
        raise StoreError(msg) from err
    reader = _Reader(folder)
    try:
        present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    except OSError as err:
        raise reader.fail(None, f"cannot be listed ({err})", "check the folder's permissions"
                          ) from err
    if MANIFEST not in present and META not in present:
        msg = (f"{folder} is not a saved pytyche posterior (no meta.json or manifest.json); "
               "pass the directory that result.save() wrote")
        raise FileNotFoundError(msg)
    if MANIFEST not in present:
        raise reader.fail(MANIFEST, "is missing, so the save never finished or the folder was "
                                    "written by an older pytyche")
    manifest = reader.json(MANIFEST, reader.read_bytes(MANIFEST, MAX_JSON_BYTES))
    _check_manifest(reader, manifest)
    reader.manifest = manifest
    meta_bytes = reader.checked(META)
    if len(meta_bytes) > MAX_JSON_BYTES:
        raise reader.fail(META, f"is larger than the {MAX_JSON_BYTES} bytes pytyche reads")
    meta = reader.json(META, meta_bytes)
    _check_meta(reader, meta)
    table = _read_table(reader, meta)
    draws = _read_draws(reader, meta)
    names = [f"forest_{i}.npz" for i in range(meta["n_forests"])]
    forests = tuple(reader.checked(name) for name in names)
    extra = sorted(set(manifest["files"]) - {META, _OBSERVED, _DRAWS, *names})
    if extra:
        raise reader.fail(MANIFEST, f"lists unexpected files {extra}")
    return PosteriorParts(meta=meta, table=table, draws=draws, forests=forests)


def build_failure(path: Path, name: str, err: BaseException) -> StoreError:
    """The StoreError for a checked file whose contents still cannot be turned into objects."""
    return _Reader(path).fail(name, f"cannot be read back ({type(err).__name__}: "
                                    f"{str(err)[:200]})")
