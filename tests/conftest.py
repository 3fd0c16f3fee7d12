"""Suite-wide settings.

JAX's persistent compilation cache is turned off for the tests: on jaxlib 0.10.2 (CPU) we saw
the process abort inside the cache's serialization of an executable (once on read, once on
write) late in a full run, which takes the whole pytest process down. Compiling afresh costs
time but cannot crash. Subprocesses started by tests inherit the setting.
"""

import os

os.environ["PYTYCHE_JAX_CACHE"] = "off"

import sys

import pytest


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    A full run compiles many differently shaped samplers in one process; keeping every
    executable alive made XLA's CPU compiler crash late in cold runs (abort or segfault while
    compiling, seen on jaxlib 0.10.2). Tests inside a module still share their programs.
    """
    yield
    if "jax" in sys.modules:
        import jax

        jax.clear_caches()
        loop = sys.modules.get("pytyche.bcf._loop")
        if loop is not None:
            loop._BLOCK_FNS.clear()
