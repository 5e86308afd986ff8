"""`targets:` end to end: a PTQ run on the sample CNN measured on TFLM and Ethos-U; the report's figures
equal what tflite_micro and Vela report when called directly on the model.tflite the run wrote; a missed
max_arena_bytes gate exits 5 with every file written; a target whose package is missing exits 2 naming
the extra; `inspect --target`."""
from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def write_recipe(tmp_path: Path, **extra) -> Path:
    doc = {"version": 1, "name": "targets", "model": str(ROOT / "sample_models" / "digits_cnn"),
           "data": {"train": {"type": "npz", "path": str(ROOT / "sample_models" / "digits.npz"), "x": "x_train",
                              "y": "y_train"},
                    "eval": {"type": "npz", "path": str(ROOT / "sample_models" / "digits.npz"), "x": "x_test",
                             "y": "y_test"}},
           "export": {"quantization": "int8"}, "evaluation": {"latency_runs": 3, "latency_warmup": 1}, **extra}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("targets")
    recipe = write_recipe(tmp, targets=["litert", "tflm", "ethos-u55-128"], gates={"max_arena_bytes": 1})
    out = tmp / "out"
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(out), "--quiet"], catch_exceptions=False)
    return res, out


def test_run_targets_missed_arena_gate_exits_5_with_everything_written(gated_run):
    res, out = gated_run
    assert res.exit_code == 5, res.output
    for name in ("model.tflite", "model_vela.tflite", "report.json", "report.md", "report.html",
                 "recipe.resolved.yaml"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    (gate,) = report["gates"]
    assert gate["name"] == "max_arena_bytes" and not gate["passed"]
    assert gate["value"] == report["result"]["targets"]["tflm"]["arena_bytes"]
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "## Target tflm" in md and "## Target ethos-u55-128" in md and "<h2>Target ethos-u55-128</h2>" in page


def test_run_targets_report_validates_against_the_schema(gated_run):
    import jsonschema

    schema = json.loads((ROOT / "optimize_cli" / "report.schema.json").read_text())
    report = json.loads((gated_run[1] / "report.json").read_text())
    jsonschema.validate(report, schema)
    assert report["baseline"]["targets"]["tflm"]["model"] == "float32"
    assert report["baseline"]["targets"]["ethos-u55-128"]["model"] == "int8 PTQ"


def test_run_targets_figures_equal_the_packages_called_directly(gated_run, tmp_path, capfd,
                                                               tflm_direct_allocations):
    from ethosu.vela import vela

    out = gated_run[1]
    report = json.loads((out / "report.json").read_text())
    tfl = (out / "model.tflite").read_bytes()
    tflm = report["result"]["targets"]["tflm"]
    assert tflm["arena_bytes"] == tflm_direct_allocations(tfl, tflm["arena_size_given"])["total"]
    assert abs(tflm["accuracy"] - report["result"]["accuracy"]) <= 0.005  # TFLM vs LiteRT, within 0.5 point

    (tmp_path / "m.tflite").write_bytes(tfl)
    capfd.readouterr()
    assert vela.main([str(tmp_path / "m.tflite"), "--accelerator-config", "ethos-u55-128", "--output-dir",
                      str(tmp_path / "v")]) == 0
    npu = int(re.search(r"NPU operators = (\d+)", capfd.readouterr().out).group(1))
    with open(next((tmp_path / "v").glob("m_summary_*.csv")), newline="") as f:
        row = next(csv.DictReader(f))
    ethos = report["result"]["targets"]["ethos-u55-128"]
    assert ethos["sram_bytes"] == round(float(row["sram_memory_used"]) * 1024)
    assert ethos["flash_bytes"] == round(float(row["off_chip_flash_memory_used"]) * 1024)
    assert ethos["npu_cycles"] == int(float(row["cycles_total"])) and ethos["macs"] == int(float(row["nn_macs"]))
    assert ethos["npu_ops"] == npu and ethos["cpu_ops"] == 0
    assert (out / "model_vela.tflite").read_bytes() == (tmp_path / "v" / "m_vela.tflite").read_bytes()


def test_inspect_target_reports_tflm_and_vela(gated_run):
    out = gated_run[1]
    res = CliRunner().invoke(main, ["inspect", str(out / "model.tflite"), "--target", "tflm", "--target",
                                    "ethos-u55-128", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    report = json.loads((out / "report.json").read_text())
    assert info["targets"]["tflm"]["arena_bytes"] == report["result"]["targets"]["tflm"]["arena_bytes"]
    assert info["targets"]["ethos-u55-128"]["npu_cycles"] == report["result"]["targets"]["ethos-u55-128"]["npu_cycles"]


@pytest.mark.parametrize("target,module,extra", [("tflm", "tflite_micro", "tflm"),
                                                  ("ethos-u55-128", "ethosu", "ethos-u")])
def test_run_target_with_package_missing_exits_2_naming_the_extra(tmp_path, monkeypatch, target, module, extra):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    recipe = write_recipe(tmp_path, targets=[target])
    for cmd in (["validate", str(recipe)], ["run", str(recipe), "--output", str(tmp_path / "o")]):
        res = CliRunner().invoke(main, cmd, catch_exceptions=False)
        assert res.exit_code == 2, res.output
        assert f"pip install 'optimize-cli[{extra}]'" in res.output and "targets[0]" in res.output
    assert not (tmp_path / "o").exists()


def test_run_target_gate_without_its_target_exits_2(tmp_path):
    recipe = write_recipe(tmp_path, targets=["tflm"], gates={"max_npu_ms": 1.0})
    res = CliRunner().invoke(main, ["validate", str(recipe)], catch_exceptions=False)
    assert res.exit_code == 2 and "gates.max_npu_ms" in res.output and "'ethos-u' target" in res.output


def test_compare_shows_target_rows(gated_run):
    out = gated_run[1]
    report = json.loads((out / "report.json").read_text())
    res = CliRunner().invoke(main, ["compare", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    arena = report["result"]["targets"]["tflm"]["arena_bytes"]
    assert re.search(rf"\| tflm: arena bytes \| [0-9,]+ \| {arena:,} \|", res.stdout)
    assert "| ethos-u55-128: cycles |" in res.stdout
    js = json.loads(CliRunner().invoke(main, ["compare", str(out), "--json"]).stdout)
    assert js[0]["targets"]["result"]["tflm"]["arena_bytes"] == arena
