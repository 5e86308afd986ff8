"""report.html and search.html in a real browser: Chromium from the distribution package (`/usr/bin/chromium`,
or OPTIMIZE_CLI_CHROMIUM), driven by Playwright's Python package with that executable (no browser download,
no network: every request but file: is refused and counted).

The pages come from one real, small search (two trials of a 1-epoch prune → int8 path on the sample model,
with the per-layer sensitivity pre-pass): its search.html and the recommended trial's report.html; and from
the example report (tests/fixtures/report_example.json, a real prune → cluster → PCQAT run with distillation),
whose results table is the widest. At 390 px (a phone) and 1280 px (a laptop) each page has no horizontal
overflow, the verdict, the result's figures and every plot lie inside the viewport's width, and on the phone
the verdict and the figures are on the first screen; tapping (or clicking) a trial row opens its details.

Screenshots are kept under $OPTIMIZE_CLI_ARTIFACTS/screenshots (`.ci/run` sets artifacts/, git-ignored), else
in the test's temporary folder; the folder is printed. Without Chromium or playwright the tests skip with the
reason, but under CI=true they fail: CI must run them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_helpers import built_once, sample_head

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_models"
CHROMIUM = os.environ.get("OPTIMIZE_CLI_CHROMIUM", "/usr/bin/chromium")
#: (width, height, is a phone)
SCREENS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
RECIPE = sample_head("browser") + """stages:
  - {type: prune, target_sparsity: {search: {choices: [0.5, 0.7]}}, epochs: 1}
export: {quantization: int8}
evaluation: {latency_runs: 2, latency_warmup: 0}
gates: {max_accuracy_drop: 0.05}
search: {trials: 2, sampler: grid, objectives: [compressed_bytes, accuracy_drop], sensitivity: true}
"""

pytestmark = pytest.mark.slow


def _unavailable(why: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: the browser tests must run, but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    """Chromium (the distribution's executable) under Playwright, headless."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (the test extra: pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set OPTIMIZE_CLI_CHROMIUM)")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # Chromium refuses root otherwise
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(request, tmp_path_factory) -> Path:
    """Where the screenshots go: $OPTIMIZE_CLI_ARTIFACTS/screenshots, else a temporary folder (printed)."""
    root = os.environ.get("OPTIMIZE_CLI_ARTIFACTS")
    folder = Path(root) / "screenshots" if root else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"browser screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """{"search": search.html, "report": the recommended trial's report.html, "example": the example report};
    made once per test session (xdist workers share them, under a lock, as tests/models/test_keras3.py's zoo).
    Tests only read them."""
    tmp = built_once(tmp_path_factory, "browser_pages", _make_pages)
    return {"search": tmp / "out" / "search.html", "report": tmp / "out" / "report.html",
            "example": tmp / "example.html"}


def _make_pages(tmp: Path) -> None:
    """The real search into tmp/out, and the example report rendered to tmp/example.html."""
    (tmp / "browser.yaml").write_text(RECIPE, encoding="utf-8")
    out = tmp / "out"
    shutil.rmtree(out, ignore_errors=True)  # what a failed try in another worker left
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(tmp / "browser.yaml"), "--output",
                          str(out), "--quiet"], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text(encoding="utf-8"))
    assert [t["state"] for t in doc["trials"]] == ["complete", "complete"] and doc.get("sensitivity")

    import numpy as np

    from optimize_cli.report import render_html

    example = json.loads((ROOT / "tests" / "fixtures" / "report_example.json").read_text(encoding="utf-8"))
    values = np.random.default_rng(0).normal(0, 0.05, 2000)
    pruned = np.where(np.abs(values) < 0.03, 0.0, values)
    page = render_html(example, {"layer": "pw2", "series": [{"label": "baseline", "values": values},
                                                            {"label": "prune", "values": pruned}]})
    (tmp / "example.html").write_text(page, encoding="utf-8")


class Page:
    """One page open in a fresh browser context of the screen's size; records errors and refused requests."""

    def __init__(self, browser, screen: str, path: Path):
        width, height, phone = SCREENS[screen]
        self.context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                           has_touch=phone, device_scale_factor=2 if phone else 1)
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.width, self.height, self.phone = width, height, phone

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def eval(self, js: str, arg=None):
        return self.page.evaluate(js, arg)

    def boxes(self, selector: str) -> list[dict]:
        """{"left", "right", "top", "width", "shown"} of every element matching `selector`."""
        return self.eval("""s => Array.from(document.querySelectorAll(s)).map(e => {
            const r = e.getBoundingClientRect(), st = getComputedStyle(e);
            return {left: r.left, right: r.right, top: r.top + scrollY, width: r.width,
                    shown: r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none'};
        })""", selector)

    def assert_fits(self, selector: str, expect: int = 1) -> list[dict]:
        """At least `expect` elements match, each shown and inside the viewport's width."""
        found = self.boxes(selector)
        assert len(found) >= expect, (selector, found)
        for b in found:
            assert b["shown"], (selector, b)
            assert b["left"] >= -0.5 and b["right"] <= self.width + 0.5, (selector, self.width, b)
        return found

    def assert_no_horizontal_overflow(self) -> None:
        scroll, inner = self.eval("[document.documentElement.scrollWidth, innerWidth]")
        assert scroll <= inner, f"page {scroll} px wide in a {inner} px viewport"
        assert self.eval("scrollX") == 0

    def shot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def close(self) -> None:
        assert not self.refused, f"the page asked the network for {self.refused}"
        assert not self.errors, self.errors
        self.context.close()


@pytest.fixture
def open_page(browser):
    opened: list[Page] = []

    def open_(screen: str, path: Path) -> Page:
        opened.append(Page(browser, screen, path))
        return opened[-1]

    yield open_
    for p in opened:
        p.close()


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("name", ["report", "example"])
def test_browser_report_shows_the_result_first_and_fits_the_screen(name, screen, browser, pages, open_page, shots):
    p = open_page(screen, pages[name])
    p.shot(shots, f"{name}-{screen}")
    p.assert_no_horizontal_overflow()
    verdict, = p.assert_fits("#verdict")
    figures, = p.assert_fits("#result-figures")
    p.assert_fits("#result-figures > div", 4)
    p.assert_fits("table.results thead th:last-child")  # the Result column: pinned in view on a phone
    plots = p.assert_fits(".plot img", 2)
    assert all(b["width"] >= min(300, p.width - 60) for b in plots), plots  # scaled to the column, not shrunk away
    assert p.eval("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")  # the SVGs decode
    assert verdict["top"] < figures["top"] < p.boxes("table.results")[0]["top"]  # the result comes first
    if p.phone:
        assert figures["top"] + 100 < p.height  # on the first screen
    overflows, cue_shown = p.eval(
        "(() => { const b = document.querySelector('.scroll.pinned'), c = b.previousElementSibling;"
        " return [b.scrollWidth > b.clientWidth, !!c && c.classList.contains('scroll-cue') && !c.hidden]; })()")
    assert cue_shown == overflows  # a cue exactly when the table is wider than its box
    if name == "example":
        assert overflows == p.phone  # four stage columns: scrolls on a phone, fits a laptop


@pytest.mark.parametrize("screen", list(SCREENS))
def test_browser_report_enlarged_plot_scrolls_in_its_own_box(screen, browser, pages, open_page, shots):
    p = open_page(screen, pages["report"])
    button = p.page.locator("#density-box + button.zoom")
    if not p.phone:
        assert not button.is_visible()  # a laptop shows the plots at full width already
        return
    button.tap()
    assert p.eval("document.getElementById('density-box').classList.contains('zoomed')")
    assert p.boxes("#density-plot")[0]["width"] > p.width  # full size ...
    p.assert_no_horizontal_overflow()  # ... inside its own box, not the page
    assert p.eval("!document.getElementById('density-box').previousElementSibling.hidden")  # with its cue
    p.shot(shots, f"report-{screen}-enlarged")
    button.tap()
    assert p.boxes("#density-plot")[0]["right"] <= p.width


@pytest.mark.parametrize("screen", list(SCREENS))
def test_browser_search_fits_the_screen_and_a_tapped_row_opens_its_details(screen, browser, pages, open_page, shots):
    p = open_page(screen, pages["search"])
    p.shot(shots, f"search-{screen}")
    p.assert_no_horizontal_overflow()
    p.assert_fits("#verdict")
    p.assert_fits(".plot svg, .plot img", 2)  # the front plot and the sensitivity heatmap
    p.assert_fits("table.trials tr.trial", 2)  # every trial row in view: no scrolling needed
    for cell in ("compressed_bytes", "accuracy_drop"):  # what decides a trial, on the phone too
        col = p.eval("h => Array.from(document.querySelectorAll('table.trials thead th'))"
                     ".findIndex(th => th.textContent.includes(h) && th.getBoundingClientRect().width > 0)", cell)
        assert col >= 0, cell
    details = p.page.locator("#trial-0000-details")
    assert not details.is_visible()
    row = p.page.locator("#trial-0000-row")
    row.tap() if p.phone else row.click()
    assert details.is_visible()
    p.assert_fits("#trial-0000-details dl")
    assert "stages.0.target_sparsity=" in details.inner_text()
    assert p.page.locator("#trial-0000-row button.open").get_attribute("aria-expanded") == "true"
    p.assert_no_horizontal_overflow()
    p.shot(shots, f"search-{screen}-details")
    row.tap() if p.phone else row.click()
    assert not details.is_visible()
