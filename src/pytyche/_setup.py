"""What pytyche runs on, and the few process-wide JAX settings it touches (only when asked).

- :func:`check_setup`: versions, devices, and how to get a GPU build if there is none.
- :func:`enable_compilation_cache`: JAX's persistent compilation cache, on request.
- :func:`check_jax_precision`: refuse to run the float32 engine under ``jax_enable_x64``.

A fit never changes the user's JAX configuration or environment variables by itself: the
compilation cache is used only when the caller turns it on (this function, the ``pytyche``
command line, or ``PYTYCHE_JAX_CACHE`` naming a folder), and thread limits are set only inside
the worker processes a calibration sweep starts.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_ENV_VAR",
    "GPU_INSTALL_COMMAND",
    "SetupReport",
    "check_jax_precision",
    "check_setup",
    "enable_compilation_cache",
]

#: Environment variable that asks for the compilation cache: a folder, "on" for the default
#: folder, or "off". Unset means: leave JAX's configuration alone.
CACHE_ENV_VAR = "PYTYCHE_JAX_CACHE"
_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")

GPU_INSTALL_COMMAND = 'pip install "pytyche[gpu]"'


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupReport:
    """The environment pytyche found.

    Attributes
    ----------
    pytyche_version, jax_version, bartz_version, python_version : str
    platform : str
        JAX's default backend ("cpu", "gpu", ...).
    devices : tuple of str
        JAX devices, e.g. ``("TFRT_CPU_0",)``.
    cuda_available : bool
    calibration_artifacts : tuple of str
        Names of the calibration artifacts shipped with this install.
    recommended_install : str or None
        The command to get GPU support, when no GPU was found.
    """

    pytyche_version: str
    jax_version: str
    bartz_version: str
    python_version: str
    platform: str
    devices: tuple[str, ...]
    cuda_available: bool
    calibration_artifacts: tuple[str, ...]
    recommended_install: str | None

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs for printing."""
        return [
            ("pytyche", self.pytyche_version),
            ("python", self.python_version),
            ("jax", self.jax_version),
            ("bartz", self.bartz_version),
            ("backend", self.platform),
            ("devices", ", ".join(self.devices)),
            ("CUDA available", "yes" if self.cuda_available else "no"),
            ("calibration artifacts", ", ".join(self.calibration_artifacts) or "none"),
            ("GPU install", self.recommended_install or "not needed"),
        ]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _calibration_artifacts() -> tuple[str, ...]:
    try:
        from pytyche.calibrate import available_artifacts
    except ImportError:  # the calibration layer is optional in a partial install
        return ()
    return tuple(available_artifacts())


def check_setup() -> SetupReport:
    """Inspect the installation: versions, JAX devices, CUDA, shipped calibration artifacts.

    Examples
    --------
    >>> report = check_setup()
    >>> report.platform in {"cpu", "gpu", "tpu"}
    True
    """
    import jax

    devices = jax.devices()
    cuda = any(d.platform == "gpu" for d in devices)
    return SetupReport(
        pytyche_version=_version("pytyche"),
        jax_version=_version("jax"),
        bartz_version=_version("bartz"),
        python_version=platform.python_version(),
        platform=jax.default_backend(),
        devices=tuple(str(d) for d in devices),
        cuda_available=cuda,
        calibration_artifacts=_calibration_artifacts(),
        recommended_install=None if cuda else GPU_INSTALL_COMMAND,
    )


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
    RuntimeError
        ``jax_enable_x64`` is on; the message says how to turn it off.
    """
    import jax

    if jax.config.jax_enable_x64:
        msg = ("pytyche's BCF engine runs in float32, but JAX is in 64-bit mode "
               "(jax_enable_x64=True). Turn it off before fitting: "
               "jax.config.update('jax_enable_x64', False), or unset JAX_ENABLE_X64")
        raise RuntimeError(msg)
