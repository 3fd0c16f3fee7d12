"""What pytyche runs on: :func:`check_setup` reports versions, devices, the shipped calibration
artifacts, and how to get a GPU build if there is none.

It sits above the model and calibration layers it reports on. The process-wide JAX settings a
fit touches (compilation cache, the float32 check) live in :mod:`pytyche.bcf._runtime`.
"""

from __future__ import annotations

import importlib.metadata as metadata
import platform
from dataclasses import dataclass

__all__ = ["GPU_INSTALL_COMMAND", "SetupReport", "check_setup"]

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
