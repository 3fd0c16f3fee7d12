"""A fit leaves the user's process alone: JAX configuration, environment, module caches.

No MCMC runs here: the cache and precision checks are called directly, and the refused fit
stops before anything compiles.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

from pytyche.bcf import _runtime
from pytyche.errors import JaxPrecisionError


@pytest.fixture
def clean_cache_state(monkeypatch):
    """No cache folder set in JAX, no request, and the variable unset, restored afterwards."""
    before = jax.config.jax_compilation_cache_dir
    monkeypatch.delenv(_runtime.CACHE_ENV_VAR, raising=False)
    monkeypatch.setattr(_runtime, "_cache_requested", False)
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    jax.config.update("jax_compilation_cache_dir", before)


class TestCompilationCache:
    def test_untouched_unless_asked(self, clean_cache_state):
        """With the variable unset and no request, a fit's cache hook changes nothing."""
        assert _runtime.compilation_cache_from_env() is None
        assert jax.config.jax_compilation_cache_dir is None

    def test_folder_from_the_environment(self, clean_cache_state, monkeypatch, tmp_path):
        """PYTYCHE_JAX_CACHE naming a folder turns the cache on beneath it."""
        monkeypatch.setenv(_runtime.CACHE_ENV_VAR, str(tmp_path))
        folder = _runtime.compilation_cache_from_env()
        assert folder is not None and folder.parent == tmp_path
        assert jax.config.jax_compilation_cache_dir == str(folder)

    def test_user_setting_wins(self, clean_cache_state, monkeypatch, tmp_path):
        """A cache folder the user set in JAX is never replaced, even when a cache is asked."""
        jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
        _runtime.request_compilation_cache()
        _runtime.compilation_cache_from_env()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")

    def test_off_beats_a_request(self, clean_cache_state, monkeypatch):
        """PYTYCHE_JAX_CACHE=off keeps the cache off even after the CLI asked for it."""
        monkeypatch.setenv(_runtime.CACHE_ENV_VAR, "off")
        _runtime.request_compilation_cache()
        assert _runtime.compilation_cache_from_env() is None
        assert jax.config.jax_compilation_cache_dir is None


class TestPrecision:
    def test_x64_refused_before_compiling(self):
        """A fit under jax_enable_x64 fails at once with a typed error saying how to turn it
        off (still a RuntimeError for callers that caught that)."""
        from pytyche.bcf import fit_continuous_arrays

        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 2)).astype(np.float32)
        z = np.arange(60, dtype=np.int32) % 2
        y = rng.normal(size=60).astype(np.float32)
        jax.config.update("jax_enable_x64", True)
        try:
            with pytest.raises(JaxPrecisionError, match="jax_enable_x64") as caught:
                fit_continuous_arrays(X, z, y, progress=False, num_trees_mu=2, num_trees_tau=2,
                                      num_burnin=1, num_samples=1)
            assert isinstance(caught.value, RuntimeError)
        finally:
            jax.config.update("jax_enable_x64", False)


class TestModuleCaches:
    def test_block_runners_are_bounded(self):
        """The jitted block runners kept per shape stay within their bound."""
        from pytyche.bcf import _loop

        saved = dict(_loop._BLOCK_FNS)
        try:
            for block in range(1, 3 * _loop._MAX_BLOCK_FNS):
                _loop._block_fn(1, "scalar", block)
            assert len(_loop._BLOCK_FNS) == _loop._MAX_BLOCK_FNS
            newest = next(reversed(_loop._BLOCK_FNS))
            assert newest[2] == 3 * _loop._MAX_BLOCK_FNS - 1
        finally:
            _loop._BLOCK_FNS.clear()
            _loop._BLOCK_FNS.update(saved)

    def test_block_runners_are_least_recently_used(self):
        """A runner asked for again is kept (and is the same object); the oldest goes first."""
        from pytyche.bcf import _loop

        saved = list(_loop._BLOCK_FNS.items())
        size = _loop._MAX_BLOCK_FNS
        try:
            _loop._BLOCK_FNS.clear()
            first = _loop._block_fn(1, "scalar", 1)
            for block in range(2, size + 1):
                _loop._block_fn(1, "scalar", block)
            assert _loop._block_fn(1, "scalar", 1) is first
            _loop._block_fn(1, "scalar", size + 1)
            kept = sorted(key[2] for key in _loop._BLOCK_FNS)
            assert kept == [1, *range(3, size + 2)]
        finally:
            _loop._BLOCK_FNS.clear()
            _loop._BLOCK_FNS.update(saved)

    def test_map_pressure_is_a_share_of_the_limit(self):
        """On Linux the share is this process's maps over vm.max_map_count; elsewhere 0."""
        share = _runtime.map_pressure()
        limit = _runtime._read_int("/proc/sys/vm/max_map_count")
        if limit is None:
            assert share == 0.0
        else:
            assert 0.0 < share < 1.0

    @pytest.mark.parametrize(("pressure", "released"), [(0.49, False), (0.5, True)])
    def test_programs_released_near_the_map_limit(self, monkeypatch, pressure, released):
        """Past half the map limit a fit first drops every compiled program (the limit aborts
        the process inside LLVM); below it nothing is dropped."""
        from pytyche.bcf import _loop

        saved = list(_loop._BLOCK_FNS.items())
        calls = []
        monkeypatch.setattr(_loop, "map_pressure", lambda: pressure)
        monkeypatch.setattr(_loop.jax, "clear_caches", lambda: calls.append(1))
        try:
            _loop._block_fn(1, "scalar", 1)
            assert _loop._relieve_map_pressure() is released
            assert bool(calls) is released
            assert (len(_loop._BLOCK_FNS) == 0) is released
        finally:
            _loop._BLOCK_FNS.clear()
            _loop._BLOCK_FNS.update(saved)


    def test_in_process_sweep_keeps_the_environment(self, tmp_path):
        """A sweep run in this process (workers=0) leaves XLA_FLAGS and thread variables alone."""
        from test_calibrate_sweep import fake_task

        from pytyche.calibrate import run_sweep

        watched = ("XLA_FLAGS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        before = {v: os.environ.get(v) for v in watched}
        run_sweep(template="clustered_realistic", metric="revenue_per_visitor", K=3,
                  sizes=[500], seeds=[0, 1], out=tmp_path / "s.jsonl", workers=0,
                  progress=False, task_fn=fake_task)
        assert {v: os.environ.get(v) for v in watched} == before

    def test_worker_limits_its_own_threads(self, monkeypatch):
        """Inside a worker the task runs with one XLA/BLAS thread (set in that process)."""
        import sys

        from pytyche.calibrate import sweep

        seen = {}

        def task(t):
            seen["omp"] = os.environ.get("OMP_NUM_THREADS")
            return {}

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
            monkeypatch.setenv(var, "")  # records the original value for the undo
            monkeypatch.delenv(var)
        monkeypatch.delitem(sys.modules, "jax")  # as in a fresh worker, before JAX loads
        try:
            sweep._run_in_worker(task, None)
        finally:
            sys.modules["jax"] = jax
        assert seen["omp"] == "1"
