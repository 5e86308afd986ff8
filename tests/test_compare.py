"""compare.py on handmade report.json files: Markdown and JSON tables, and InputError for bad files."""
from __future__ import annotations

import json

import pytest

from optimize_cli.compare import compare_reports
from optimize_cli.errors import InputError

BASELINE = {"tflite_bytes": 528128, "compressed_bytes": 490000, "accuracy": 0.9537, "latency_ms": 0.5}


def report(name: str, stages: list, quantization: str, **result) -> dict:
    res = {"path": "model.tflite", "quantization": quantization, "tflite_bytes": 140000, "compressed_bytes": 115000,
           "compression_saved_percent": 17.857, "compression_ratio": 490000 / 115000, "accuracy": 0.95,
           "accuracy_drop": 0.0037, "latency_ms": 0.25, "speedup": 2.0,
           "layers": [{"name": "model/conv1/Conv2D", "layer": "conv1", "dtype": "int8", "params": 300,
                       "sparsity": 0.5, "unique_weights": 20},
                      {"name": "model/fc/MatMul", "layer": "fc", "dtype": "int8", "params": 100,
                       "sparsity": 0.1, "unique_weights": 200}]}
    res.update(result)
    return {
        "schema_version": 1,
        "tool": {"name": "optimize-cli", "version": "0.1.0"},
        "recipe": {"name": name, "path": f"recipes/{name}.yaml", "sha256": "0" * 64},
        "model": {"path": "m", "format": "keras_saved_model"},
        "metric": {"name": "accuracy", "higher_is_better": True},
        "baseline": dict(BASELINE),
        "stages": [{"index": i, "type": t, "sparsity": 0.5 if t == "prune" else 0.48,
                    "max_unique_weights": 8 if t == "cluster" else 900} for i, t in enumerate(stages)],
        "result": res,
        "gates": [],
        "passed": True,
    }


@pytest.fixture
def two_reports(tmp_path):
    a = tmp_path / "a" / "report.json"
    b = tmp_path / "b" / "report.json"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_text(json.dumps(report("ptq-int8", [], "int8")))
    b.write_text(json.dumps(report("prune-cluster-pcqat", ["prune", "cluster", "qat"], "int8",
                                   tflite_bytes=140000, compressed_bytes=70000, compression_saved_percent=50.0,
                                   compression_ratio=7.0, accuracy=0.94, accuracy_drop=0.0137, speedup=None)))
    return a, b


def test_compare_markdown_has_baseline_and_one_column_per_run(two_reports):
    a, b = two_reports
    md = compare_reports([a, b], as_json=False)
    lines = md.splitlines()
    assert lines[0] == "|  | Baseline | ptq-int8 | prune-cluster-pcqat |"
    assert lines[1] == "|---|---:|---:|---:|"
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:]}
    assert rows["Accuracy"] == ["0.9537", "0.9500", "0.9400"]
    assert rows["Accuracy drop"] == ["–", "+0.0037", "+0.0137"]
    assert rows["TFLite bytes"] == ["528,128", "140,000", "140,000"]
    assert rows["Compressed bytes (saved)"] == ["490,000 (7.22%)", "115,000 (17.86%)", "70,000 (50.00%)"]
    assert rows["Compression ratio"] == ["1.00x", "4.26x", "7.00x"]
    # no stages: weighted over the .tflite layers; with stages: result.layers still wins
    assert rows["Sparsity"] == ["–", "40.0%", "40.0%"]
    assert rows["Max unique weights"] == ["–", "–", "900"]
    assert rows["Latency (ms)"] == ["0.500", "0.250", "0.250"]
    assert rows["Speedup"] == ["1.00x", "2.00x", "2.00x"]  # missing speedup computed from latencies
    assert rows["Path"][2] == "prune → cluster → qat → tflite(int8)"


def test_compare_json_lists_the_same_figures_per_run(two_reports):
    a, b = two_reports
    runs = json.loads(compare_reports([str(a), str(b)], as_json=True))
    assert [r["name"] for r in runs] == ["ptq-int8", "prune-cluster-pcqat"]
    r = runs[1]
    assert r["accuracy"] == 0.94 and r["compressed_bytes"] == 70000 and r["compression_ratio"] == 7.0
    assert r["compression_saved_percent"] == 50.0 and r["speedup"] == 2.0 and r["max_unique_weights"] == 900
    assert r["sparsity"] == pytest.approx(0.4) and r["report"] == str(b)
    assert r["baseline"] == BASELINE


def test_compare_reads_a_run_directory_and_disambiguates_names(two_reports):
    a, _ = two_reports
    md = compare_reports([a.parent, a], as_json=False)
    assert md.splitlines()[0] == "|  | Baseline | ptq-int8 (a) #1 | ptq-int8 (a) #2 |"


def test_compare_notes_runs_with_another_baseline(tmp_path, two_reports):
    a, _ = two_reports
    other = report("other", [], "dynamic")
    other["baseline"]["accuracy"] = 0.9
    c = tmp_path / "c.json"
    c.write_text(json.dumps(other))
    assert "Note: other was measured against a different baseline" in compare_reports([a, c], as_json=False)


def test_compare_bad_files_raise_input_error_naming_the_file(tmp_path, two_reports):
    a, _ = two_reports
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": 2, "baseline": {}, "result": {}}))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"schema_version": 1, "baseline": {}}))
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    for bad in (tmp_path / "missing.json", bad_json, old, partial, listing, tmp_path):
        with pytest.raises(InputError) as e:
            compare_reports([a, bad], as_json=False)
        assert str(bad) in str(e.value)


def test_cli_compare_prints_markdown_and_exits_3_on_missing(two_reports, tmp_path):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    a, b = two_reports
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 0 and "| Baseline | ptq-int8 |" in r.output
    r = CliRunner().invoke(main, ["compare", str(a), str(tmp_path / "nope.json")])
    assert r.exit_code == 3 and "nope.json" in r.output
