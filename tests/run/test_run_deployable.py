"""Deployable bytes (export.slim, TFLM's LUT file, int4 weights, per-tensor weights): real runs of the sample
model, every figure checked against the files the run wrote, run again here on their own runtimes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.run_helpers import DATA, MODEL, cli, write_recipe


def _recipe(name: str, stages=(), export=None, targets=("litert", "tflm"), gates=None) -> dict:
    doc = {
        "version": 1, "name": name, "model": str(MODEL),
        "data": {"train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 256},
                 "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 120}},
        "stages": list(stages), "export": {"quantization": "int8", **(export or {})},
        "evaluation": {"latency_runs": 2, "latency_warmup": 0}, "targets": list(targets),
    }
    if gates:
        doc["gates"] = gates
    return doc


def _accuracy(outputs: list, y: np.ndarray) -> float:
    return float(np.mean(np.array([int(np.argmax(o[0])) for o in outputs]) == y))


def _eval():
    d = np.load(DATA)
    return [d["x_test"][i: i + 1] for i in range(120)], d["y_test"][:120]


@pytest.mark.slow
def test_deployable_tflm_file_is_slimmed_lut_compressed_and_measured_on_itself(tmp_path):
    from optimize_cli.deploy.verify import run_litert, run_tflm

    doc = _recipe("tflm-lut", stages=[{"type": "cluster", "clusters": 8, "epochs": 1}],
                  gates={"max_deployable_bytes": {"tflm": 10**6, "litert": 1000}})
    r = cli("run", write_recipe(tmp_path, doc), "--output", tmp_path / "out")
    assert r.exit_code == 5, r.output  # the LiteRT limit of 1,000 B is missed, the TFLM one met
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    res, ptq = report["result"]["targets"], report["ptq_baseline"]["targets"]
    tflm_file, litert_file = (out / "model_tflm.tflite").read_bytes(), (out / "model.tflite").read_bytes()
    assert res["tflm"]["deployable_bytes"] == len(tflm_file) and res["tflm"]["tflm_path"] == "model_tflm.tflite"
    assert res["litert"]["deployable_bytes"] == len(litert_file)
    # TFLM's file: zero points collapsed (which LiteRT refuses) and clustered kernels LUT-compressed
    assert "zero_points" in res["tflm"]["slim"]["applied"] and "zero_points" not in res["litert"]["slim"]["applied"]
    kept = [t for t in res["tflm"]["compression"]["tensors"] if t["compressed"]]
    assert kept and all(t["bits"] <= 3 and t["name"] for t in kept)  # ≤ 8 values per channel; names from the unslimmed file
    assert res["tflm"]["compression"]["verified_samples"] == 120 and res["litert"]["slim"]["verified_samples"] == 120
    assert len(tflm_file) < ptq["tflm"]["deployable_bytes"] < report["ptq_baseline"]["tflite_bytes"]
    # measured on the files themselves: the report's accuracies are what the runtimes compute from them
    x, y = _eval()
    assert _accuracy(run_tflm(tflm_file, x), y) == pytest.approx(res["tflm"]["accuracy"])
    assert _accuracy(run_litert(litert_file, x), y) == pytest.approx(report["result"]["accuracy"])
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["max_deployable_bytes.tflm"]["passed"] and not gates["max_deployable_bytes.litert"]["passed"]
    assert gates["max_deployable_bytes.litert"]["value"] == len(litert_file)
    md = (out / "report.md").read_text()
    assert "## Deployable bytes" in md and f"{len(tflm_file):,}" in md


@pytest.mark.slow
def test_deployable_slim_false_writes_the_converter_output(tmp_path):
    on = cli("run", write_recipe(tmp_path, _recipe("slim-on", targets=["litert"])), "--output", tmp_path / "on")
    off = cli("run", write_recipe(tmp_path, _recipe("slim-off", export={"slim": False}, targets=["litert"]), "off.yaml"),
              "--output", tmp_path / "off")
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    a, b = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("on", "off"))
    assert a["result"]["targets"]["litert"]["deployable_bytes"] < b["result"]["targets"]["litert"]["deployable_bytes"]
    assert b["result"]["targets"]["litert"]["slim"]["applied"] == []
    assert a["result"]["accuracy"] == b["result"]["accuracy"]
    assert "deploy    litert" in on.output


@pytest.mark.slow
def test_deployable_int4_weights_on_litert(tmp_path):
    pytest.importorskip("ai_edge_quantizer")
    r = cli("run", write_recipe(tmp_path, _recipe("int4", export={"weight_bits": 4}, targets=["litert"])),
            "--output", tmp_path / "out")
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    lit = report["result"]["targets"]["litert"]
    assert lit["weight_bits"] and {row["weight_bits"] for row in lit["weight_bits"]} == {4}  # its Conv2D and Dense
    assert lit["deployable_bytes"] < report["ptq_baseline"]["targets"]["litert"]["deployable_bytes"]
    from optimize_cli.deploy.verify import run_litert

    x, y = _eval()
    got = _accuracy(run_litert((tmp_path / "out" / "model.tflite").read_bytes(), x), y)
    assert got == pytest.approx(report["result"]["accuracy"]) and got > 0.8


@pytest.mark.slow
def test_deployable_per_tensor_weights_cost_fewer_bytes(tmp_path):
    r = cli("run", write_recipe(tmp_path, _recipe("per-tensor", export={"per_channel": False}, targets=["litert"])),
            "--output", tmp_path / "out")
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    from optimize_cli.deploy.slim import unpack

    model = unpack((tmp_path / "out" / "model.tflite").read_bytes())
    scales = [len(t.quantization.scale) for t in model.subgraphs[0].tensors
              if t.quantization is not None and t.quantization.scale is not None]
    assert max(scales) == 1  # one scale per tensor
    assert report["result"]["tflite_bytes"] < report["ptq_baseline"]["tflite_bytes"]


@pytest.mark.parametrize("doc_change, where, words", [
    ({"export": {"quantization": "int8", "weight_bits": 4}}, "targets[1]", "cannot run int4"),
    ({"export": {"quantization": "dynamic", "per_channel": False}, "targets": ["litert"]}, "export.per_channel",
     "int8 option"),
    ({"stages": [{"type": "qat"}], "export": {"per_channel": False}, "targets": ["litert"]}, "export.per_channel",
     "trains per-channel"),
    ({"gates": {"max_deployable_bytes": {"tflm2": 100}}}, "gates.max_deployable_bytes.tflm2", "not a target"),
    ({"export": {"quantization": "int8", "weight_bits": {"conv": 5}}, "targets": ["litert"]}, "export.weight_bits", ""),
])
def test_deployable_recipe_errors_exit_2_before_any_work(tmp_path, doc_change, where, words):
    doc = {**_recipe("bad"), **doc_change}
    r = cli("validate", write_recipe(tmp_path, doc))
    assert r.exit_code == 2, r.output
    line = [ln for ln in r.output.splitlines() if where in ln]
    assert line and words in line[0], r.output
