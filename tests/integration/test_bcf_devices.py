"""Chains spread over several JAX devices give the draws of chains run one after another.

Two host devices are forced with XLA_FLAGS in a subprocess (the flag must be set before JAX
starts), the same way several GPUs would be used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_bcf_fit import CFG, simulate
    from pytyche.bcf import GPUBCFConfig, fit_continuous_arrays

    d = simulate("continuous", 500, 2)
    cfg = GPUBCFConfig(**{{**CFG.to_dict(), "num_chains": 2}})
    fit = fit_continuous_arrays(d["X"], d["z"], d["y"], seed=5, config=cfg, progress=False)
    np.save({out!r}, fit.draws["cate"])
    print(len(jax.devices()), int(fit.timings["devices_used"]))
    """
)


def _run(tmp_path: Path, devices: int) -> tuple[str, np.ndarray]:
    out = tmp_path / f"cate_{devices}.npy"
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    code = SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return proc.stdout.split()[-2:], np.load(out)


def test_two_devices_run_chains_side_by_side_with_identical_draws(tmp_path):
    """Two forced host devices take one chain each, and the draws equal the one-device run."""
    (n_dev2, used2), two = _run(tmp_path, 2)
    (n_dev1, used1), one = _run(tmp_path, 1)
    assert (n_dev2, used2) == ("2", "2")
    assert (n_dev1, used1) == ("1", "1")
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
