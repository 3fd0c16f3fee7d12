"""The HTML report in a real headless Chromium: it loads, and every image decodes as PNG."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    """The headless browser; each test that needs it skips without one (a failure in CI,
    where `.ci/run` installs Debian's chromium and PYTYCHE_NO_SKIPS is set)."""
    found = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                              shutil.which("google-chrome")) if p), None)
    if found is None:
        pytest.skip("no headless Chromium (apt-get install chromium)")
    return found


def chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=True)


def check_dom(binary: str, html_path: Path) -> None:
    dom = chromium(binary, "--dump-dom", html_path.resolve().as_uri()).stdout
    assert "<h1>" in dom
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', dom)
    assert srcs, "the report has no images"
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            img.verify()
    assert not re.search(r"""(src|href)=["']?https?:""", dom)


def test_analysis_report_renders(tmp_path, chromium_binary):
    """The analysis report loads, its images decode, and a screenshot comes out."""
    from test_viz_plots import hurdle_analysis

    from pytyche.report import write_report

    path = write_report(hurdle_analysis(), tmp_path / "analysis.html")
    check_dom(chromium_binary, path)
    shot = tmp_path / "shot.png"
    chromium(chromium_binary, f"--screenshot={shot}", "--window-size=1280,3000",
             path.resolve().as_uri())
    with Image.open(shot) as img:
        assert img.size == (1280, 3000)


def test_experiment_report_renders(tmp_path, chromium_binary):
    """The sequential experiment report loads and its images decode."""
    from test_viz_plots import fake_history

    from pytyche.report import write_report

    check_dom(chromium_binary, write_report(fake_history(), tmp_path / "experiment.html"))
