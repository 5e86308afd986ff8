"""Ethos-U target: the figures equal what Vela reports when its own API is called directly on the same
.tflite (summary CSV and network summary), its optimized .tflite is Vela's, and a float model's CPU
fallback operators are named."""
from __future__ import annotations

import csv
import re

import pytest
from target_models import convert

from optimize_cli.targets.vela import run_vela

pytest.importorskip("ethosu.vela")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tflites(tiny_model, digits_data):
    from optimize_cli.tf import tf

    return {m: convert(tf, tiny_model, m, digits_data[0]) for m in ("int8", "none")}


def direct_vela(tfl: bytes, tmp_path, capfd, accelerator="ethos-u55-128"):
    """Vela's Python entry point, in this process: (summary CSV row, its stdout, the optimized .tflite)."""
    from ethosu.vela import vela

    model, out = tmp_path / "net.tflite", tmp_path / "out"
    model.write_bytes(tfl)
    capfd.readouterr()
    assert vela.main([str(model), "--accelerator-config", accelerator, "--output-dir", str(out)]) == 0
    text = capfd.readouterr().out
    (summary,) = out.glob("net_summary_*.csv")
    with open(summary, newline="") as f:
        row = next(csv.DictReader(f))
    return row, text, (out / "net_vela.tflite").read_bytes()


def test_ethos_u_figures_equal_vela_called_directly(tflites, tmp_path, capfd):
    row, text, optimized = direct_vela(tflites["int8"], tmp_path, capfd)
    got, got_tflite = run_vela(tflites["int8"], "ethos-u55-128")
    assert "error" not in got and got["version"].startswith("5.")
    assert got["sram_bytes"] == round(float(row["sram_memory_used"]) * 1024)
    assert got["flash_bytes"] == round(float(row["off_chip_flash_memory_used"]) * 1024) + round(
        float(row["on_chip_flash_memory_used"]) * 1024)
    assert got["npu_cycles"] == int(float(row["cycles_total"]))
    assert got["macs"] == int(float(row["nn_macs"]))
    assert got["npu_ms"] == pytest.approx(float(row["inference_time"]) * 1000)
    assert got["system_config"] == row["system_config"] and got["memory_mode"] == row["memory_mode"]
    npu = int(re.search(r"NPU operators = (\d+)", text).group(1))
    assert (got["npu_ops"], got["cpu_ops"], got["npu_ops_share"], got["cpu_fallback_ops"]) == (npu, 0, 1.0, [])
    assert got_tflite == optimized


def test_ethos_u_float_model_falls_back_to_the_cpu_with_ops_named(tflites):
    got, _ = run_vela(tflites["none"], "ethos-u65-256")
    assert got["npu_ops"] == 0 and got["cpu_ops"] > 0 and got["npu_ops_share"] == 0.0
    assert got["npu_cycles"] is None and got["npu_ms"] is None  # not "0 ms": a max_npu_ms gate must not pass
    assert {"CONV_2D", "FULLY_CONNECTED"} & set(got["cpu_fallback_ops"])
    assert all("Float32" in c["reason"] for c in got["cpu_operators"] if c["reason"])


def test_ethos_u_vela_failure_is_reported_not_raised():
    got, optimized = run_vela(b"not a tflite", "ethos-u55-128")
    assert optimized is None and got["error"].startswith("vela exited")
