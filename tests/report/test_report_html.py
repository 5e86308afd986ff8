"""report.html and report.plots: a self-contained page with decodable PNGs."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
from report_helpers import PNG_MAGIC, SVG_START, densities, imgs

from optimize_cli import report as rp


def test_html_is_self_contained_with_two_decodable_svgs(example):
    page = rp.render_html(example, densities())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'(src|href)="(?!data:)', page)
    found = imgs(page)
    assert sorted(i for i, _ in found) == ["density-plot", "size-accuracy-plot"]
    for _, payload in found:
        svg = base64.b64decode(payload)
        assert svg.startswith(SVG_START) and b"<svg" in svg
        assert not re.search(rb'href="(?!#)', svg)  # nothing fetched (namespace URIs are names, not links)
    assert all(re.search(r'alt="[^"]{20,}"', tag) for tag in re.findall(r"<img\b[^>]*>", page))


def test_html_has_the_same_tables(example):
    page = rp.render_html(example, densities())
    for text in ("20,612 → 16,954 (17.75%)", "prune → cluster → qat (PCQAT) → int8", "max_accuracy_drop",
                 "pw2", "DepthwiseConv2D", example["recipe"]["sha256"]):
        assert text in page


def test_html_escapes_names(example):
    example["result"]["layers"][0]["name"] = "<script>alert(1)</script>"
    page = rp.render_html(example)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert page.count("<script") == 1 and page.index("<script") < page.index("</head>")  # the page's own only


def test_html_without_densities_or_accuracy_still_has_the_size_plot(example):
    example["baseline"]["accuracy"] = example["ptq_baseline"]["accuracy"] = None
    example["result"]["accuracy"] = example["result"]["accuracy_drop"] = None
    page = rp.render_html(example)
    found = imgs(page)
    assert [i for i, _ in found] == ["size-accuracy-plot"]
    assert base64.b64decode(found[0][1]).startswith(SVG_START)


def test_html_density_plot_handles_odd_series():
    png = rp.density_png({"layer": "x", "series": [
        {"label": "empty", "values": np.array([])},
        {"label": "constant", "values": np.zeros(10)},
        {"label": "int8", "values": np.arange(-128, 128)},
        {"label": "with nan", "values": [0.1, float("nan"), -0.2]},
    ]})
    assert base64.b64decode(png).startswith(PNG_MAGIC)
    assert rp.density_png({"layer": "x", "series": []}) is None


def test_report_and_measure_packages_do_not_import_tensorflow_at_module_level():
    """TensorFlow, tf_keras and tfmot are imported lazily (inside functions) or not at all."""
    root = Path(rp.__file__).parent.parent
    files = sorted((root / "report").glob("*.py")) + sorted((root / "measure").glob("*.py"))
    assert len(files) > 10
    for f in files:
        src = f.read_text(encoding="utf-8")
        assert not re.search(r"^(import|from)\s+(tensorflow|tf_keras|tensorflow_model_optimization|\.+tf\b)", src, re.M), f


def test_html_on_a_phone_every_table_scrolls_in_its_own_box(example):
    """The layout rules tests/test_browser.py checks in Chromium at 390 px, as markup: every table in its
    own scrolling box, the results table's with its own cue, plots that fit the column (no min-width)."""
    page = rp.render_html(example, densities())
    tables = re.findall(r"(.{0,200})<table\b", page, flags=re.S)
    assert len(tables) >= 5
    assert all(re.search(r'<div class="scroll( pinned)?"( data-cue="[^"]+")?>$', before) for before in tables), tables
    assert re.search(r'<div class="scroll pinned" data-cue="[^"]*Result column[^"]*"><table class="results">', page)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert len(re.findall(r'<div class="scroll plot" id="[\w-]+"><img', page)) == 2  # each plot in its own box
    assert ".plot img, .plot svg { display: block; width: 100%; max-width: 100%;" in page
    assert "min-width: 640px" not in page


def test_plot_titles_name_what_they_draw(example):
    from optimize_cli.report.plots import density_title, size_accuracy_points, size_accuracy_title

    pts = size_accuracy_points(example)
    assert size_accuracy_title(example, pts) == "Size vs accuracy: baseline → result (PTQ int8 for reference)"
    assert [p["kind"] for p in pts] == ["baseline", "ptq", "result"]  # a stage has no .tflite, so no size
    example["ptq_baseline"] = None
    example["stages"] = []
    assert size_accuracy_title(example, size_accuracy_points(example)) == "Size vs accuracy: baseline → result"
    assert density_title({"layer": "dense", "series": [{"label": "baseline"}]}) == \
        "Weight density of dense: baseline (log count)"
    svg = base64.b64decode(rp.size_accuracy_png(example, fmt="svg")).decode()
    assert "Size vs accuracy: baseline → result" in svg  # the text is kept as text


def test_html_result_figures_and_verdict_come_before_every_table(example):
    page = rp.render_html(example, densities())
    figures = re.search(r'<dl class="figures" id="result-figures"[^>]*>(.*?)</dl>', page, flags=re.S)
    assert figures and page.index('id="verdict"') < figures.start() < page.index("<table")
    text = re.sub(r"<[^>]+>", " ", figures.group(1))
    for want in ("zipped size", "6,359 B", "raw 14,408 B", "2.67× smaller", "zipped 16,954 → 6,359 B", "98.33%",
                 "worse by 0.74 pts vs baseline", "0.006 ms", "1.15× speedup"):
        assert want in text, want
    assert "FAILED" in page[page.index('id="verdict"'):figures.start()]
