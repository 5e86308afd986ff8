"""report.summary: the stdout lines and the --json summary of `run`."""
from __future__ import annotations

import json

from optimize_cli import report as rp


def test_summary_lines(example):
    text = rp.summary_lines(example, out_dir="runs/prune-cluster-pcqat")
    assert text.splitlines() == [
        "result    runs/prune-cluster-pcqat/model.tflite (prune → cluster → qat (PCQAT) → int8)",
        "size      14,408 B, zip 6,359 B (tfmot's convention); 2.67× smaller than the baseline zip (16,954 B)",
        "accuracy  98.33% (baseline 99.07%, worse by 0.74 pts)",
        "latency   0.006 ms median, p90 0.006 ms, 1.15× speedup (1 thread)",
        "verdict   FAIL: 1 of 2 gates failed: min_compression_ratio 2.67× vs ≥ 3.00×",
        "report    runs/prune-cluster-pcqat/report.html, runs/prune-cluster-pcqat/report.json",
    ]


def test_json_summary(example, tmp_path):
    out = rp.json_summary(example, out_dir=tmp_path)
    assert set(out) >= {"result", "baseline", "gates", "passed"}
    assert "layers" not in out["result"] and out["result"]["compression_ratio"] == example["result"]["compression_ratio"]
    assert out["passed"] is False and out["gates"] == example["gates"]
    assert out["exit_code"] == 5  # a gate was missed, as the error objects and search's summary say it
    assert rp.json_summary({**example, "passed": True})["exit_code"] == 0
    assert out["report"] == str(tmp_path / "report.json") and out["output_dir"] == str(tmp_path)
    json.dumps(out)



def test_summary_says_what_the_zip_size_is_not_a_saving(example):
    """The size line names the zip size as tfmot's convention; no "% saved" read as a saving against the
    baseline."""
    text = rp.summary_lines(example)
    assert "saved" not in text and "zip 6,359 B (tfmot's convention)" in text
    from optimize_cli.report.tables import result_sentence

    assert "saved" not in result_sentence(example, code=str) and "(tfmot's convention)" in result_sentence(example, str)
