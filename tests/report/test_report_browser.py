"""Open a generated report in headless Chromium, served over HTTP on 127.0.0.1, and check what a reader
would see: the page renders, every image decodes, and nothing errs (JS errors, console.error, CSP
violations, failed loads). Saves a screenshot to test-artifacts/report.png.

No CDP client: the test injects a probe script at the top of <head> (before the page's CSP meta, which
only governs what follows it) that records errors and image states into a hidden element, and reads it
back from ``--dump-dom``. Skips when Chromium is not installed (.ci/run installs Debian's package).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
WIDTH, HEIGHT = 1280, 3200  # the CLI shoots the window, not the page: a taller page is shot again at its height

PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    errors.push(t && t !== window ? 'load failed: ' + (t.tagName || '') + ' ' + String(t.src || t.href || '').slice(0, 80) : 'js: ' + e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('promise: ' + e.reason); });
  document.addEventListener('securitypolicyviolation', function (e) { errors.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI); });
  var original = console.error;
  console.error = function () { errors.push('console: ' + Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var out = document.createElement('pre');
    out.id = 'tw-probe';
    out.hidden = true;
    out.textContent = JSON.stringify({
      title: document.title,
      images: imgs.length,
      broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.alt; }),
      errors: errors,
      height: Math.ceil(document.body.getBoundingClientRect().height),
      sections: document.querySelectorAll('section').length
    });
    document.body.appendChild(out);
  });
})();
</script>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A quiet HTTP server on 127.0.0.1 (free port) serving ``tmp_path/site``."""
    site = tmp_path / "site"
    site.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


def with_probe(html: str) -> str:
    """The page with the probe as the first thing in <head>."""
    return html.replace("<head>", "<head>" + PROBE, 1)


def open_in_chromium(url: str, profile: Path, screenshot: Path | None = None, height: int = HEIGHT) -> tuple[dict[str, Any], str]:
    """(probe result, browser log) for ``url``; writes a screenshot of a WIDTH x height window when asked."""
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}", "--enable-logging=stderr", "--v=0", "--dump-dom",
    ]  # fmt: skip
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    proc = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r'<pre id="tw-probe"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the probe did not report; chromium exit {proc.returncode}: {proc.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(match.group(1))), proc.stderr


def console_errors(log: str) -> list[str]:
    """Lines where Chromium logged a page console message at error level or an uncaught exception."""
    return [line for line in log.splitlines() if ":CONSOLE" in line and ("Uncaught" in line or "ERROR" in line.split("CONSOLE")[0])]


def crop(png: Path, height: int) -> None:
    """Trim the fixed-size window screenshot to the page's height (Chromium's CLI cannot shoot a full page)."""
    from PIL import Image

    with Image.open(png) as img:
        cropped = img.crop((0, 0, img.width, min(img.height, max(200, height))))
    cropped.save(png)


def check_page(html: str, base: str, site: Path, profile: Path, shot: Path) -> tuple[dict[str, Any], str]:
    """Serve ``html`` with the probe, open it, and leave a full-page screenshot at ``shot``."""
    (site / "page.html").write_text(with_probe(html), encoding="utf-8")
    shot.parent.mkdir(exist_ok=True)
    result, log = open_in_chromium(f"{base}/page.html", profile, screenshot=shot)
    if result["height"] > HEIGHT:
        result, log = open_in_chromium(f"{base}/page.html", profile, screenshot=shot, height=int(result["height"]) + 40)
    crop(shot, int(result["height"]))
    return result, log


# Not marked integration: CI installs Chromium for this test (.ci/run), and without it the test skips. The report
# comes from the session fixture, so this test's own time is one Chromium run (~1.3 s on an idle 2-core machine).
def test_report_renders_in_chromium_with_every_image_and_no_errors(
    full_report: tuple[Path, str], served: tuple[str, Path], tmp_path: Path
) -> None:
    _chromium()
    base, site = served
    _, html = full_report
    shot = ARTIFACTS / "report.png"
    result, log = check_page(html, base, site, tmp_path / "profile", shot)
    assert result["title"].startswith("trainwell report")
    assert result["images"] == html.count("<img ") >= 4
    assert result["broken"] == []
    assert result["errors"] == []
    assert console_errors(log) == []
    assert result["sections"] >= 5
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.integration  # a second page in the browser: ~2 s more
def test_study_report_renders_in_chromium(served: tuple[str, Path], tmp_path: Path) -> None:
    from test_report_study import write_study

    from trainwell.report import write_study_report

    base, site = served
    html = write_study_report(write_study(tmp_path / "study")).read_text(encoding="utf-8")
    result, log = check_page(html, base, site, tmp_path / "profile", ARTIFACTS / "study_report.png")
    assert result["images"] == html.count("<img ") == 3
    assert result["broken"] == [] and result["errors"] == [] and console_errors(log) == []


def test_probe_catches_a_broken_image_and_a_script_error(served: tuple[str, Path], tmp_path: Path) -> None:
    """The check above can fail: a page with a bad image and a throwing script is caught by the same probe."""
    base, site = served
    bad = "<!DOCTYPE html><html><head><title>t</title></head><body><img alt='x' src='data:image/png;base64,AAAA'><script>undefinedCall()</script></body></html>"
    (site / "bad.html").write_text(with_probe(bad), encoding="utf-8")
    result, _ = open_in_chromium(f"{base}/bad.html", tmp_path / "profile")
    assert result["broken"] == ["x"]
    assert any("undefinedCall" in e for e in result["errors"])


@pytest.mark.slow
@pytest.mark.integration
def test_default_train_run_report_in_chromium(served: tuple[str, Path], tmp_path: Path) -> None:
    """The report of a real default `trainwell train` run (digits, recommended values), as a user gets it."""
    from trainwell.cli.main import main

    _chromium()
    run_dir = tmp_path / "default-run"
    assert main(["train", "--run-dir", str(run_dir)]) == 0
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    base, site = served
    result, log = check_page(html, base, site, tmp_path / "profile", ARTIFACTS / "report_default_run.png")
    assert result["images"] == html.count("<img ") >= 4  # loss, metrics, lr, grad norm (+ LR finder when lr: find)
    assert result["broken"] == [] and result["errors"] == [] and console_errors(log) == []
    assert "recommended" in html and "Why training stopped" in html
