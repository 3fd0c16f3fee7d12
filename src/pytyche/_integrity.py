"""Integrity helpers shared by the on-disk formats (experiment stores, saved posteriors).

Atomic replacement of a file, directory fsync, a bounded read of a regular file (a path that is
a link to a device (``/dev/zero``) or larger than the caller's limit is refused before anything
is read), and the one conversion of numpy values to what :mod:`json` writes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write", "fsync_dir", "jsonable", "read_regular_file"]


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes (``str`` is written as UTF-8) go to a uniquely named temporary file in the same
    directory, are flushed and fsynced, and the file is renamed over ``path``; the directory is
    fsynced afterwards. On any failure the temporary file is removed and ``path`` is untouched.
    The directory must exist.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` when it is a regular file (not a link) of at most ``limit`` bytes.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    ValueError
        ``path`` is a link, folder or device, or larger than ``limit`` (the message says which).
    OSError
        The file cannot be read.
    """
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        msg = "is not a regular file (a link, folder or device)"
        raise ValueError(msg)
    if info.st_size > limit:
        msg = f"is {info.st_size} bytes, more than the {limit} pytyche reads"
        raise ValueError(msg)
    with open(path, "rb") as handle:
        data = handle.read(info.st_size + 1)  # one byte more shows a file that grew meanwhile
    if len(data) > min(limit, info.st_size):
        msg = "changed size while being read; read it again when nothing writes it"
        raise ValueError(msg)
    return data


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars made Python lists and scalars, recursively.

    Mappings become dicts (numpy keys made Python scalars), lists and tuples become lists.
    Non-finite floats stay floats: :mod:`json` writes them as ``NaN``/``Infinity`` and reads
    them back, so every pytyche file round-trips its values exactly. Anything :mod:`json`
    cannot write raises instead of being written as something else.

    Raises
    ------
    TypeError
        ``value`` holds an object that is not a mapping, sequence, number, string or None.
    """
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float):
        return value
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)


def _key(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key
