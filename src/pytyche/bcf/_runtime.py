"""The few process-wide JAX settings a fit touches (only when asked).

- :func:`enable_compilation_cache`: JAX's persistent compilation cache, on request.
- :func:`check_jax_precision`: refuse to run the float32 engine under ``jax_enable_x64``.
- :func:`map_pressure`: how close the process is to the kernel's memory-map limit, which
  compiled programs use up (see :func:`pytyche.bcf._loop.run_chains`).

A fit never changes the user's JAX configuration or environment variables by itself: the
compilation cache is used only when the caller turns it on (this function, the ``pytyche``
command line, or ``PYTYCHE_JAX_CACHE`` naming a folder), and thread limits are set only inside
the worker processes a calibration sweep starts.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pytyche.errors import JaxPrecisionError

__all__ = [
    "CACHE_ENV_VAR",
    "check_jax_precision",
    "compilation_cache_from_env",
    "enable_compilation_cache",
    "map_pressure",
    "request_compilation_cache",
]

#: Environment variable that asks for the compilation cache: a folder, "on" for the default
#: folder, or "off". Unset means: leave JAX's configuration alone.
CACHE_ENV_VAR = "PYTYCHE_JAX_CACHE"
_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")


def _default_cache_root() -> Path:
    return Path.home() / ".cache" / "pytyche" / "jax"


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache so later processes skip recompiling.

    This sets ``jax_compilation_cache_dir`` (process-wide JAX configuration), so pytyche only
    does it when asked: by calling this function, by running the ``pytyche`` command line, or
    by setting ``PYTYCHE_JAX_CACHE`` to a folder (or to ``on``) before the first fit.

    Parameters
    ----------
    path : str or path, optional
        Root folder; ``~/.cache/pytyche/jax`` by default. Each (jax version, ``XLA_FLAGS``,
        device count, backend) gets its own sub-folder: an executable compiled under other
        XLA flags can abort the process when loaded, and JAX's cache key does not tell them
        apart.

    Returns
    -------
    pathlib.Path or None
        The folder in use, or None when it could not be created (read-only home: the fit
        then simply compiles afresh).
    """
    import jax

    root = Path(path) if path is not None else _default_cache_root()
    flavour = "|".join((jax.__version__, os.environ.get("XLA_FLAGS", ""),
                        str(jax.device_count()), jax.default_backend()))
    folder = root.expanduser() / hashlib.sha256(flavour.encode()).hexdigest()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return folder


_cache_requested = False


def request_compilation_cache() -> None:
    """Ask for the default compilation cache from the next fit on (what the CLI does).

    Lazy on purpose: JAX is not imported until a fit needs it. ``PYTYCHE_JAX_CACHE=off``
    still wins.
    """
    global _cache_requested
    _cache_requested = True


def compilation_cache_from_env() -> Path | None:
    """Enable the cache if it was asked for and the user has none set.

    Called before each fit. Asked for means: ``PYTYCHE_JAX_CACHE`` names a folder or is
    ``on``, or :func:`request_compilation_cache` was called. Unset (and not requested) or
    ``off``: nothing changes. A cache folder the user set in JAX themselves is never replaced.
    """
    setting = os.environ.get(CACHE_ENV_VAR, "").strip()
    if setting.lower() in _OFF or not (setting or _cache_requested):
        return None
    import jax

    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    return enable_compilation_cache(None if not setting or setting.lower() in _ON else setting)


def check_jax_precision() -> None:
    """Refuse to fit when JAX runs in 64-bit mode.

    pytyche's sampler keeps its state in float32 and uint8/int32 tree arrays; with
    ``jax_enable_x64`` on, JAX promotes them and the compiled kernels do not match.

    Raises
    ------
    JaxPrecisionError
        ``jax_enable_x64`` is on; the message says how to turn it off.
    """
    import jax

    if jax.config.jax_enable_x64:
        msg = ("pytyche's BCF engine runs in float32, but JAX is in 64-bit mode "
               "(jax_enable_x64=True). Turn it off before fitting: "
               "jax.config.update('jax_enable_x64', False), or unset JAX_ENABLE_X64")
        raise JaxPrecisionError(msg)


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def map_pressure() -> float:
    """The share of the kernel's per-process memory-map limit this process uses (Linux).

    Every program XLA compiles for the CPU keeps a few thousand memory maps; a process that
    compiles at many sizes (a long sequential experiment, a benchmark sweep) reaches Linux's
    ``vm.max_map_count`` (65,530 by default) long before it runs out of memory, and LLVM then
    aborts the process ("Cannot allocate memory ... Unable to allocate section memory").
    Returns 0.0 where the counts cannot be read (other systems).
    """
    used = _count_lines("/proc/self/maps")
    limit = _read_int("/proc/sys/vm/max_map_count")
    if not used or not limit:
        return 0.0
    return used / limit
