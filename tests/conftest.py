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
    """Drop JAX's compiled programs after a test module once the process holds many.

    Every compiled CPU program keeps memory maps, and a full run compiles many shapes in one
    process; at Linux's ``vm.max_map_count`` LLVM aborts the process (seen as crashes late in
    cold runs). A fit already releases programs past half the limit
    (`pytyche.bcf._loop.MAP_PRESSURE_LIMIT`); this also covers modules that compile without
    fitting. Below a quarter of the limit modules share their programs, which saves most of
    the compiling.
    """
    yield
    if "jax" in sys.modules:
        from pytyche.bcf import _loop, _runtime

        if _runtime.map_pressure() > 0.25:
            _loop.release_compiled_programs()


#: Set by `.ci/run`: in CI every test must run, so a skip (a missing browser, a module that
#: skipped itself, a data-dependent ``pytest.skip``) is reported as a failure instead.
NO_SKIPS = os.environ.get("PYTYCHE_NO_SKIPS", "") not in ("", "0")


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skipped report into a failed one that says why it skipped."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped, and PYTYCHE_NO_SKIPS is set (CI runs every test): {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # an expected failure (xfail) reports as skipped with `wasxfail`; it is not a skip
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        _as_failure(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if NO_SKIPS and report.skipped:  # a module that skipped itself while being imported
        _as_failure(report)
    return report
