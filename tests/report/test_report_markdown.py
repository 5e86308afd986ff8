"""report.markdown: report.md's figures, tables and texts."""
from __future__ import annotations

import re

import pytest

from optimize_cli import report as rp


def test_markdown_sizes_and_saved_percent_from_the_numbers(example):
    md = rp.render_markdown(example)
    assert "528,128 → 434,879 (17.66%)" in md  # baseline: 100 * (1 - 434879 / 528128) = 17.656
    assert "142,544 → 118,913 (16.58%)" in md  # PTQ int8
    assert "142,320 → 61,244 (56.97%)" in md  # result
    assert "528,128 → 262,410 (50.31%)" in md  # the prune stage's optional size


def test_markdown_title_path_and_results_columns(example):
    md = rp.render_markdown(example)
    assert md.startswith("# optimize-cli: prune-cluster-pcqat\n")
    assert "prune → cluster → qat (PCQAT) → int8" in md
    header = next(line for line in md.splitlines() if "Baseline (float32)" in line)
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells == ["", "Baseline (float32)", "PTQ int8", "1. prune", "2. cluster", "3. qat (PCQAT)", "Result (int8)"]
    row = lambda name: next(line for line in md.splitlines() if line.startswith(f"| {name} "))  # noqa: E731
    assert "7.10×" in row("compression ratio") and "3.66×" in row("compression ratio")
    assert "0.090 / 0.099" in row("latency median / p90 (ms)") and "2.04× speedup" in row("speedup / slowdown")
    assert "91.50% †" in row("accuracy") and "90.80%" in row("accuracy")
    assert "worse by 1.20 pts" in row("accuracy vs baseline")
    assert "50.0%" in row("sparsity") and "50,177" in row("max unique weights ‡")


def test_markdown_tables_are_aligned_for_terminals(example):
    md = rp.render_markdown(example)
    blocks = re.findall(r"((?:^\|.*\|$\n?)+)", md, flags=re.M)
    assert len(blocks) >= 5
    for block in blocks:
        widths = {rp.text_width(line) for line in block.strip().splitlines()}
        assert len(widths) == 1, block


def test_markdown_gates_table_shows_limit_and_measured_value(example):
    example["gates"] = rp.evaluate_gates({"max_accuracy_drop": 0.02, "min_compression_ratio": 8.0,
                                          "max_compressed_bytes": 60000, "max_latency_ms": 1.0}, example)
    example["passed"] = False
    md = rp.render_markdown(example)
    lines = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| max_") or line.startswith("| min_")}
    assert re.search(r"≤ 2\.00 pts \(0\.02\) \|\s+1\.20 pts \(0\.012\) \| PASS", lines["max_accuracy_drop"])
    assert re.search(r"≥ 8\.00× \|\s+7\.10× \| \*\*FAIL\*\*", lines["min_compression_ratio"])
    assert re.search(r"≤ 60,000 B \|\s+61,244 B \| \*\*FAIL\*\*", lines["max_compressed_bytes"])
    assert re.search(r"≤ 1\.00 ms \|\s+0\.090 ms \| PASS", lines["max_latency_ms"])
    assert "**FAILED**" in md and "2 of 4 gates failed" in md


def test_markdown_failed_check_is_loud(example):
    example["checks"][0] = {"name": "sparsity survived export", "passed": False,
                            "message": "sparsity lost in export: 50% in Keras, 3% in the .tflite"}
    md = rp.render_markdown(example)
    assert "> **⚠ WARNING: sparsity survived export — FAILED.** sparsity lost in export" in md
    assert md.index("⚠ WARNING") < md.index("## Results")  # above the fold
    assert "WARNING   sparsity survived export: FAILED — sparsity lost in export" in rp.summary_lines(example)


def test_markdown_layers_skipped_and_provenance(example):
    md = rp.render_markdown(example)
    assert re.search(r"\| sequential/dense/MatMul\s+\| FULLY_CONNECTED\s+\| int8\s+\|\s+100,352 \|\s+50\.0% \|\s+24 \|\s+8 \|", md)
    assert "sequential/depthwise_conv2d/depthwise (skipped)" in md
    assert "tfmot does not support clustering DepthwiseConv2D; left dense" in md
    assert example["recipe"]["sha256"] in md and "2.21.0 / 2.21.0" in md and "2 min 15 s" in md


def test_markdown_without_ptq_without_stages_without_accuracy(example):
    example["ptq_baseline"] = None
    example["stages"] = []
    example["metric"]["eval_samples"] = None
    example["baseline"]["accuracy"] = example["result"]["accuracy"] = example["result"]["accuracy_drop"] = None
    example["gates"] = []
    md = rp.render_markdown(example)
    assert "PTQ int8" not in md and "PTQ → int8" in md
    assert "No gates configured" in md
    assert "not measured (no eval data)" in rp.summary_lines(example)


def test_markdown_error_metric_documents_the_drop_sign(example):
    example["metric"] = {"name": "mae", "higher_is_better": False, "eval_samples": 100}
    example["baseline"]["accuracy"], example["result"]["accuracy"] = 0.1, 0.125
    example["result"]["accuracy_drop"] = 0.025
    md = rp.render_markdown(example)
    assert "mae is an error metric (lower is better): a result below the baseline is better" in md
    assert "| mae vs baseline " in md and "worse by 0.025" in md




def test_markdown_and_html_show_run_warnings_and_schema_accepts_them(example):
    from optimize_cli.report import ReportError, render_html, render_markdown, validate_report

    example["warnings"] = [{"source": "model", "message": "written before TF 2.5: no Keras metadata"}]
    assert validate_report(example) == []
    assert "> **⚠ model:** written before TF 2.5: no Keras metadata" in render_markdown(example)
    assert "⚠ model: written before TF 2.5: no Keras metadata" in render_html(example)
    example["warnings"] = [{"source": "model"}]
    with pytest.raises(ReportError, match="message"):
        validate_report(example)
