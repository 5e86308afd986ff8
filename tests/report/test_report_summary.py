"""report.summary: the stdout lines and the --json summary of `run`."""
from __future__ import annotations

import json


from optimize_cli import report as rp


def test_summary_lines(example):
    text = rp.summary_lines(example, out_dir="runs/prune-cluster-pcqat")
    assert text.splitlines() == [
        "result    runs/prune-cluster-pcqat/model.tflite (prune → cluster → qat (PCQAT) → int8)",
        "size      142,320 B → 61,244 B zipped (56.97% saved); 7.10× smaller than the baseline zip (434,879 B)",
        "accuracy  90.80% (baseline 92.00%, worse by 1.20 pts)",
        "latency   0.090 ms median, p90 0.099 ms, 2.04× speedup (2 threads)",
        "verdict   PASS: 2 of 2 gates passed",
        "report    runs/prune-cluster-pcqat/report.html, runs/prune-cluster-pcqat/report.json",
    ]


def test_json_summary(example, tmp_path):
    out = rp.json_summary(example, out_dir=tmp_path)
    assert set(out) >= {"result", "baseline", "gates", "passed"}
    assert "layers" not in out["result"] and out["result"]["compression_ratio"] == example["result"]["compression_ratio"]
    assert out["passed"] is True and out["gates"] == example["gates"]
    assert out["report"] == str(tmp_path / "report.json") and out["output_dir"] == str(tmp_path)
    json.dumps(out)

