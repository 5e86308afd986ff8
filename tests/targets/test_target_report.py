"""Gates on target figures (the worst over the targets that measured them; unmeasured fails) and the
per-target tables of report.md / report.html."""
from __future__ import annotations

from optimize_cli.report.gates import evaluate_gates, fmt_gate
from optimize_cli.report.targets import targets_html, targets_markdown

TFLM = {"type": "tflm", "version": "0.dev1", "runs": True, "unsupported_ops": [], "arena_bytes": 24400,
        "arena_head_bytes": 16000, "arena_tail_bytes": 8400, "accuracy": 0.902, "litert_reference_accuracy": 0.902,
        "accuracy_seconds": 2.5, "model": "result"}
U55 = {"type": "ethos-u", "version": "5.2.0", "accelerator": "ethos-u55-128", "system_config": "S", "memory_mode": "M",
       "sram_bytes": 19584, "dram_bytes": 0, "flash_bytes": 17696, "npu_ops": 40, "cpu_ops": 0, "npu_ops_share": 1.0,
       "cpu_fallback_ops": [], "macs": 2664856, "npu_cycles": 88948, "npu_ms": 0.1779, "model": "result",
       "npu_encoded_weights_bytes": 10624, "vela_path": "model_vela.tflite"}
U65_CPU = {**U55, "accelerator": "ethos-u65-256", "npu_ops": 30, "cpu_ops": 10, "npu_ops_share": 0.75,
           "flash_bytes": 20000, "cpu_fallback_ops": ["SOFTMAX"], "npu_ms": 0.1}


def report(targets: dict) -> dict:
    return {"metric": {"name": "accuracy", "higher_is_better": True},
            "baseline": {"targets": {k: {**v, "model": "int8 PTQ"} for k, v in targets.items()}},
            "result": {"targets": targets}}


def test_target_gates_take_the_worst_target_and_fail_when_unmeasured():
    r = report({"tflm": TFLM, "ethos-u55-128": U55, "u65": U65_CPU})
    gates = {"max_arena_bytes": 24399, "max_flash_bytes": 20000, "max_npu_ms": 0.2, "min_npu_ops_share": 0.8}
    got = {g["name"]: (g["value"], g["passed"]) for g in evaluate_gates(gates, r)}
    assert got == {"max_arena_bytes": (24400, False), "max_flash_bytes": (20000, True),
                   "max_npu_ms": (0.1779, True), "min_npu_ops_share": (0.75, False)}
    (cycles,) = evaluate_gates({"max_npu_cycles": 10**6}, report({"tflm": TFLM}))
    assert cycles["value"] is None and not cycles["passed"]
    assert fmt_gate(r, "max_arena_bytes", 24400) == "24,400 B" and fmt_gate(r, "min_npu_ops_share", 0.75) == "75.0%"


def test_target_tables_show_baseline_beside_result():
    r = report({"tflm": TFLM, "u65": U65_CPU})
    md = "\n".join(targets_markdown(r))
    assert "## Target tflm" in md and "## Target u65" in md
    assert "24,400 B" in md and "accuracy on LiteRT's reference kernels" in md
    assert "30 of 40 (75%)" in md and "SOFTMAX" in md and "model_vela.tflite" in md
    page = "\n".join(targets_html(r))
    assert "<h2>Target u65</h2>" in page and "baseline (int8 PTQ)" in page
    assert targets_markdown({"result": {}, "baseline": {}}) == []
