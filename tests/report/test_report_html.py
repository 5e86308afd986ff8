"""report.html and report.plots: a self-contained page with decodable PNGs."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
from report_helpers import PNG_MAGIC, densities, imgs

from optimize_cli import report as rp


def test_html_is_self_contained_with_two_decodable_pngs(example):
    page = rp.render_html(example, densities())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'(src|href)="(?!data:)', page)
    found = imgs(page)
    assert sorted(i for i, _ in found) == ["density-plot", "size-accuracy-plot"]
    for _, payload in found:
        assert base64.b64decode(payload).startswith(PNG_MAGIC)
    assert all(re.search(r'alt="[^"]{20,}"', tag) for tag in re.findall(r"<img\b[^>]*>", page))


def test_html_has_the_same_tables(example):
    page = rp.render_html(example, densities())
    for text in ("528,128 → 434,879 (17.66%)", "prune → cluster → qat (PCQAT) → int8", "max_accuracy_drop",
                 "sequential/dense/MatMul", "DepthwiseConv2D", example["recipe"]["sha256"]):
        assert text in page


def test_html_escapes_names(example):
    example["result"]["layers"][0]["name"] = "<script>alert(1)</script>"
    page = rp.render_html(example)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_html_without_densities_or_accuracy_still_has_the_size_plot(example):
    example["baseline"]["accuracy"] = example["ptq_baseline"]["accuracy"] = None
    example["result"]["accuracy"] = example["result"]["accuracy_drop"] = None
    page = rp.render_html(example)
    found = imgs(page)
    assert [i for i, _ in found] == ["size-accuracy-plot"]
    assert base64.b64decode(found[0][1]).startswith(PNG_MAGIC)


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
