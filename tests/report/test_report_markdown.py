"""report.markdown: report.md's figures, tables and texts."""
from __future__ import annotations

import re

import pytest

from optimize_cli import report as rp


def test_markdown_sizes_and_saved_percent_from_the_numbers(example):
    md = rp.render_markdown(example)
    assert "20,612 → 16,954 (17.75%)" in md  # baseline: 100 * (1 - 16954 / 20612) = 17.747
    assert "13,992 → 7,927 (43.35%)" in md  # PTQ int8
    assert "14,408 → 6,359 (55.86%)" in md  # result
    row = next(line for line in md.splitlines() if line.startswith("| size: raw → zip (saved) "))
    assert [c.strip() for c in row.strip("|").split("|")][3:6] == ["—", "—", "—"]  # stages: Keras, no .tflite


def test_markdown_title_path_and_results_columns(example):
    md = rp.render_markdown(example)
    assert md.startswith("# optimize-cli: prune-cluster-pcqat\n")
    assert "prune → cluster → qat (PCQAT) → int8" in md
    header = next(line for line in md.splitlines() if "Baseline (float32)" in line)
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells == ["", "Baseline (float32)", "PTQ int8", "1. prune", "2. cluster", "3. qat (PCQAT)", "Result (int8)"]
    row = lambda name: next(line for line in md.splitlines() if line.startswith(f"| {name} "))  # noqa: E731
    assert "2.67×" in row("compression ratio") and "2.14×" in row("compression ratio")  # result, PTQ int8
    assert "0.006 / 0.006" in row("latency median / p90 (ms)") and "1.15× speedup" in row("speedup / slowdown")
    assert "97.22% †" in row("accuracy") and "98.33%" in row("accuracy")
    assert "worse by 1.85 pts" in row("accuracy vs baseline") and "worse by 0.74 pts" in row("accuracy vs baseline")
    assert "42.6%" in row("sparsity") and "42.7%" in row("sparsity") and "26" in row("max unique weights ‡")


def test_markdown_tables_are_aligned_for_terminals(example):
    md = rp.render_markdown(example)
    blocks = re.findall(r"((?:^\|.*\|$\n?)+)", md, flags=re.M)
    assert len(blocks) >= 5
    for block in blocks:
        widths = {rp.text_width(line) for line in block.strip().splitlines()}
        assert len(widths) == 1, block


def test_markdown_gates_table_shows_limit_and_measured_value(example):
    example["gates"] = rp.evaluate_gates({"max_accuracy_drop": 0.02, "min_compression_ratio": 8.0,
                                          "max_compressed_bytes": 6000, "max_latency_ms": 1.0}, example)
    example["passed"] = False
    md = rp.render_markdown(example)
    lines = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| max_") or line.startswith("| min_")}
    assert re.search(r"≤ 2\.00 pts \(0\.02\) \|\s+0\.74 pts \(0\.007407\) \| PASS", lines["max_accuracy_drop"])
    assert re.search(r"≥ 8\.00× \|\s+2\.67× \| \*\*FAIL\*\*", lines["min_compression_ratio"])
    assert re.search(r"≤ 6,000 B \|\s+6,359 B \| \*\*FAIL\*\*", lines["max_compressed_bytes"])
    assert re.search(r"≤ 1\.00 ms \|\s+0\.006 ms \| PASS", lines["max_latency_ms"])
    assert "**FAILED**" in md and "2 of 4 gates failed" in md


def test_markdown_failed_check_is_loud(example):
    example["checks"][0] = {"name": "sparsity survived export", "passed": False,
                            "message": "sparsity lost in export: 50% in Keras, 3% in the .tflite"}
    md = rp.render_markdown(example)
    assert "> **⚠ WARNING: sparsity survived export — FAILED.** sparsity lost in export" in md
    assert md.index("⚠ WARNING") < md.index("## Results")  # above the fold
    assert "WARNING   sparsity survived export: FAILED — sparsity lost in export" in rp.summary_lines(example)


def test_markdown_layers_skipped_and_provenance(example):
    example["seconds_total"] = 134.6
    md = rp.render_markdown(example)
    assert re.search(r"\| pw2\s+\| CONV_2D\s+\| int8\s+\|\s+1,536 \|\s+50\.0% \|\s+21 \|\s+8 \|", md)
    assert "dw1 (skipped)" in md and "dw2 (skipped)" in md
    assert "tfmot does not cluster depthwise kernels (DepthwiseConv2D has no clusterable weights in tfmot)" in md
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
