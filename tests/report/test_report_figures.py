"""report.figures: the derived figures report.md and `compare` both read, defined once."""
from __future__ import annotations

import pytest

from optimize_cli import report as rp
from optimize_cli.report import figures


def test_figures_max_unique_is_per_channel_without_skipped_layers(example):
    for lay in example["result"]["layers"]:
        lay["unique_weights"] = 338  # whole-tensor counts are not the figure
    assert figures.skipped_names(example) == {"dw1", "dw2"}
    assert figures.result_max_unique(example) == 8  # the skipped depthwise kernels have 9 per channel
    example["stages"] = []
    assert figures.result_max_unique(example) == 9


def test_figures_path_label_and_stage_names(example):
    assert figures.path_label(example) == "prune → cluster → qat (PCQAT) → int8"
    assert [figures.stage_name(st) for st in example["stages"]] == ["prune", "cluster", "qat (PCQAT)"]
    assert figures.stage_name({"type": "qat", "scheme": "QAT"}) == "qat"
    assert figures.path_label({"stages": [], "result": {"quantization": "none"}}) == "float32 (no optimization)"
    assert figures.path_label({"result": {"quantization": "dynamic"}}) == "PTQ → dynamic"


def test_figures_sparsity_and_derived_ratios_fall_back_to_their_definitions(example):
    assert figures.result_sparsity(example) == pytest.approx(
        sum(lay["params"] * lay["sparsity"] for lay in example["result"]["layers"])
        / sum(lay["params"] for lay in example["result"]["layers"]))
    res, base = example["result"], example["baseline"]
    assert figures.compression_ratio(example) == res["compression_ratio"]
    for key in ("compression_ratio", "speedup", "accuracy_drop", "compression_saved_percent"):
        del res[key]
    assert figures.compression_ratio(example) == pytest.approx(base["compressed_bytes"] / res["compressed_bytes"])
    assert figures.speedup(example) == pytest.approx(base["latency_ms"] / res["latency_ms"])
    assert figures.result_accuracy_drop(example) == pytest.approx(base["accuracy"] - res["accuracy"])
    assert figures.measurement_saved_percent(res) == pytest.approx(rp.saved_percent(14408, 6359))


def test_figures_tolerate_reports_they_did_not_write():
    junk = {"stages": [None, {"type": "prune", "skipped_layers": [{}]}],
            "result": {"layers": [{"name": "x", "params": "many"}, "nope"], "speedup": float("nan")},
            "baseline": {"latency_ms": {"median_ms": 2.0}}}
    assert figures.result_sparsity(junk) is None and figures.result_max_unique(junk) is None
    assert figures.speedup(junk) is None and figures.compression_ratio(junk) is None
    assert figures.number({"median_ms": 2.0}) == 2.0 and figures.number(True) is None


def test_format_one_family_with_each_tools_missing_mark():
    from optimize_cli.report import format as fmt

    assert [fmt.fmt_int(None), fmt.fmt_int(None, "–"), fmt.fmt_int(None, "-")] == ["—", "–", "-"]
    assert fmt.fmt_int(50177) == "50,177" and fmt.fmt_pct(0.5) == "50.0%"
    assert fmt.fmt_ratio(7.1) == "7.10×" and fmt.fmt_ratio(7.1, sign="x") == "7.10x"
    assert [fmt.fmt_ms(v) for v in (0.09, 12.345, 123.45)] == ["0.090", "12.35", "123.5"]
    assert [fmt.fmt_ms(v, steps=((10, 3), (float("inf"), 1))) for v in (0.25, 12.345)] == ["0.250", "12.3"]
    assert fmt.fmt_number(0.0037, signed=True) == "+0.0037" and fmt.fmt_compressed(490000, 7.2199) == "490,000 (7.22%)"
    assert fmt.fmt_seconds(135) == "2 min 15 s"
