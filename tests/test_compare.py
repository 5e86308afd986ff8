"""compare.py on handmade report.json files: Markdown and JSON tables, and InputError for bad files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimize_cli.compare import compare_reports
from optimize_cli.errors import InputError

BASELINE = {"tflite_bytes": 528128, "compressed_bytes": 490000, "accuracy": 0.9537, "latency_ms": 0.5}


def report(name: str, stages: list, quantization: str, **result) -> dict:
    res = {"path": "model.tflite", "quantization": quantization, "tflite_bytes": 140000, "compressed_bytes": 115000,
           "compression_saved_percent": 17.857, "compression_ratio": 490000 / 115000, "accuracy": 0.95,
           "accuracy_drop": 0.0037, "latency_ms": 0.25, "speedup": 2.0,
           "layers": [{"name": "model/conv1/Conv2D", "layer": "conv1", "dtype": "int8", "params": 300,
                       "sparsity": 0.5, "unique_weights": 20, "max_unique_per_channel": 8},
                      {"name": "model/fc/MatMul", "layer": "fc", "dtype": "int8", "params": 100,
                       "sparsity": 0.1, "unique_weights": 200, "max_unique_per_channel": 16}]}
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
    assert rows["Accuracy"] == ["95.37%", "95.00%", "94.00%"]  # as report.md shows them
    assert rows["Accuracy vs baseline"] == ["–", "worse by 0.37 pts", "worse by 1.37 pts"]
    assert rows["TFLite bytes"] == ["528,128", "140,000", "140,000"]
    assert rows["Compressed bytes (saved)"] == ["490,000 (7.22%)", "115,000 (17.86%)", "70,000 (50.00%)"]
    assert rows["Compression ratio"] == ["1.00x", "4.26x", "7.00x"]
    # no stages: weighted over the .tflite layers; with stages: result.layers still wins
    assert rows["Sparsity"] == ["–", "40.0%", "40.0%"]
    # the result's figure (per output channel in the .tflite), never a stage's Keras count (900)
    assert rows["Max unique weights"] == ["–", "16", "16"]
    assert rows["Latency (ms)"] == ["0.500", "0.250", "0.250"]
    assert rows["Speedup / slowdown"] == ["1.00x", "2.00x speedup", "2.00x speedup"]  # missing: from latencies
    assert rows["Path"] == ["float32 TFLite", "PTQ → int8", "prune → cluster → qat → int8"]  # report.md's label


def test_compare_json_lists_the_same_figures_per_run(two_reports):
    a, b = two_reports
    runs = json.loads(compare_reports([str(a), str(b)], as_json=True))
    assert [r["name"] for r in runs] == ["ptq-int8", "prune-cluster-pcqat"]
    r = runs[1]
    assert r["accuracy"] == 0.94 and r["compressed_bytes"] == 70000 and r["compression_ratio"] == 7.0
    assert r["compression_saved_percent"] == 50.0 and r["speedup"] == 2.0 and r["max_unique_weights"] == 16
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


def test_cli_compare_prints_markdown_and_exits_2_on_missing_or_not_json(two_reports, tmp_path):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    a, b = two_reports
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 0 and "| Baseline | ptq-int8 |" in r.output
    r = CliRunner().invoke(main, ["compare", str(a), str(tmp_path / "nope.json")])
    assert r.exit_code == 2 and "nope.json" in r.output  # a usage error: the argument is not a report
    (tmp_path / "notes.txt").write_text("hello")
    r = CliRunner().invoke(main, ["compare", str(tmp_path / "notes.txt")])
    assert r.exit_code == 2 and "not valid JSON" in r.output
    r = CliRunner().invoke(main, ["compare", str(tmp_path)])  # a folder without report.json
    assert r.exit_code == 2, r.output


def test_compare_table_never_folds_a_run_name_at_80_columns(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report("ptq-int8", [], "int8")))
    b.write_text(json.dumps(report("prune-cluster-pcqat-distill", ["prune", "cluster", "qat"], "int8")))
    table = compare_reports([a, b], fmt="table", width=80)
    assert all(len(line) <= 80 for line in table.splitlines()), table
    assert "prune-cluster-pcqat-distill" in table.split() and "ptq-int8" in table.split(), table


# ------------------------------------------------------------------- compare agrees with report.md

EXAMPLE = Path(__file__).parent / "fixtures" / "report_example.json"
ROOT = Path(__file__).resolve().parent.parent


def _rows(md: str) -> dict:
    """{row label: [cells]} of the first pipe table in ``md``."""
    lines = [line for line in md.splitlines() if line.startswith("|")]
    return {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:]}


def _results_table(md: str) -> dict:
    """report.md's results table: {row label: [cells]} (Baseline first, Result last)."""
    block = md.split("## Results", 1)[1]
    return _rows(block[block.index("|"):].split("\n\n", 1)[0])


def _value(cell: str):
    """A displayed figure as a number: "90.80%" → 0.908, "7.10×" / "7.10x" → 7.1, "61,244" → 61244."""
    cell = cell.replace("†", "").replace(",", "").strip()
    if cell in ("—", "–", ""):
        return None
    sign = -1 if cell.startswith("better by ") else 1
    cell = cell.removeprefix("worse by ").removeprefix("better by ")
    if cell == "no change":
        return 0.0
    if cell.endswith(" slowdown"):
        return 1 / float(cell.removesuffix(" slowdown").rstrip("×x"))
    cell = cell.removesuffix(" speedup")
    if cell.endswith(" pts"):
        return sign * float(cell[:-4]) / 100
        return float(cell[:-4]) / 100
    if cell.endswith("%"):
        return sign * float(cell[:-1]) / 100
    return sign * float(cell.rstrip("×x"))


def _compare_md(tmp_path, rep: dict) -> dict:
    f = tmp_path / "report.json"
    f.write_text(json.dumps(rep), encoding="utf-8")
    return _rows(compare_reports([f], as_json=False))


def _assert_agree(tmp_path, rep: dict) -> None:
    """Every figure both tables show is the same number, up to the digits each one prints."""
    from optimize_cli.report import render_markdown

    cmp, md = _compare_md(tmp_path, rep), _results_table(render_markdown(rep))
    metric = rep["metric"]["name"]
    label = "Accuracy" if metric == "accuracy" else f"Metric ({metric})"
    # compare prints 4 decimals; report.md a percent with 2 decimals, or 4 significant digits (error metrics)
    metric_tol = 1e-4 if metric in ("accuracy", "top_k_accuracy", "binary_accuracy") else 1e-3
    for col, (c, m) in {"baseline": (0, 0), "result": (1, -1)}.items():
        size = md["size: raw → zip (saved)"][m]  # "142,320 → 61,244 (56.97%)"
        raw, rest = size.split(" → ")
        pairs = [
            (cmp[label][c], md[metric][m], metric_tol),
            (cmp["TFLite bytes"][c], raw, 0),
            (cmp["Compressed bytes (saved)"][c].split(" (")[0], rest.split(" (")[0], 0),
            (cmp["Compressed bytes (saved)"][c].split(" (")[1].rstrip(")"), rest.split(" (")[1].rstrip(")"), 0),
            (cmp["Compression ratio"][c], md["compression ratio"][m], 0),
            (cmp["Latency (ms)"][c], md["latency median / p90 (ms)"][m].split(" / ")[0], 0.01),
            (cmp["Speedup / slowdown"][c], md["speedup / slowdown"][m], 0),
        ]
        if col == "result":
            pairs += [
                (cmp[f"{label} vs baseline"][c], md[f"{metric} vs baseline"][m], 1e-4),
                (cmp["Sparsity"][c], md["sparsity"][m], 0),
                (cmp["Max unique weights"][c], md["max unique weights ‡"][m], 0),
            ]
        for a, b, tol in pairs:
            va, vb = _value(a), _value(b)
            assert (va is None) == (vb is None), (col, a, b)
            if va is not None:
                assert va == pytest.approx(vb, abs=tol or 1e-9), (col, a, b)
    from optimize_cli.report import path_label

    assert cmp["Path"][1] == path_label(rep) and f"**{path_label(rep)}**" in render_markdown(rep)


def test_compare_max_unique_weights_is_per_channel_like_report_md(tmp_path):
    """Whole-tensor counts above 256 (impossible per channel for int8) and a stage's Keras count must not
    leak into compare: both tables read report.figures.result_max_unique."""
    from optimize_cli.report import render_markdown

    rep = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for lay, unique in zip(rep["result"]["layers"], (338, 576, 363, 400, 300, 290), strict=True):
        lay["unique_weights"] = unique
        if lay["name"] not in ("dw1", "dw2"):
            lay["max_unique_per_channel"] = 8
    rep["result"]["layers"][1]["max_unique_per_channel"] = 150  # dw1: a skipped, dense depthwise kernel
    rep["stages"][-1]["max_unique_weights"] = 363
    cmp = _compare_md(tmp_path, rep)
    md = _results_table(render_markdown(rep))
    assert cmp["Max unique weights"] == ["–", "8"]
    assert md["max unique weights ‡"][-1] == "8"
    _assert_agree(tmp_path, rep)


def test_compare_agrees_with_report_md_on_the_example_report(tmp_path):
    _assert_agree(tmp_path, json.loads(EXAMPLE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One short real run of the prune → cluster → PCQAT path on the digits sample."""
    from click.testing import CliRunner

    from optimize_cli.cli import main

    out = tmp_path_factory.mktemp("compare-run") / "out"
    res = CliRunner().invoke(main, [
        "run", str(ROOT / "recipes" / "prune-cluster-pcqat.yaml"), "--output", str(out), "--quiet", "--json",
        "--set", "stages.0.epochs=2", "--set", "stages.1.epochs=1", "--set", "stages.2.epochs=1", "--set", "gates={}",
    ], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_compare_agrees_with_report_md_on_every_figure_of_a_real_run(real_run, tmp_path):
    rep = json.loads((real_run / "report.json").read_text(encoding="utf-8"))
    _assert_agree(tmp_path, rep)
    md = (real_run / "report.md").read_text(encoding="utf-8")
    cmp = _rows(compare_reports([real_run], as_json=False))
    assert _results_table(md)["max unique weights ‡"][-1] == cmp["Max unique weights"][1]
    assert int(cmp["Max unique weights"][1]) <= 256  # per output channel of an int8 .tflite


@pytest.mark.slow
def test_compare_real_run_report_validates_with_jsonschema(real_run):
    import jsonschema

    schema = json.loads((ROOT / "optimize_cli" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads((real_run / "report.json").read_text("utf-8")))


def test_compare_table_is_aligned_at_80_columns_and_cli_format_chooses(two_reports):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    a, b = two_reports
    table = compare_reports([a, b], fmt="table", width=80)
    lines = table.splitlines()
    assert all(len(line) <= 80 for line in lines), table
    assert "|" not in table and lines[0].split() == ["Baseline", "ptq-int8", "prune-cluster-pcqat"]
    ratio = next(line for line in lines if line.startswith("Compression ratio"))
    assert ratio.split()[-3:] == ["1.00x", "4.26x", "7.00x"]
    # the figures are right-aligned: each column's cells end where its header ends
    head_end = lines[0].index("ptq-int8") + len("ptq-int8")
    assert ratio[:head_end].endswith("4.26x")
    runner = CliRunner()
    assert runner.invoke(main, ["compare", str(a), str(b)]).output.startswith("|  | Baseline |")  # not a tty: md
    assert runner.invoke(main, ["compare", str(a), str(b), "--format", "table"]).output.split()[:1] == ["Baseline"]
    assert runner.invoke(main, ["compare", str(a), "--format", "json"]).output.lstrip().startswith("[")
    assert runner.invoke(main, ["compare", str(a), "--format", "xml"]).exit_code == 2


@pytest.mark.parametrize("field,text", [("tflite_bytes", "9" * 400), ("accuracy", "1e400"),
                                        ("latency_ms", "-" + "7" * 400), ("compressed_bytes", "Infinity")])
def test_cli_compare_of_a_report_with_an_absurd_number_exits_3_with_one_line(tmp_path, field, text):
    """A 400-digit integer (float() overflows) or an infinite float in any field: exit 3, one line."""
    from click.testing import CliRunner

    from optimize_cli.cli import main

    doc = report("huge", [], "int8")
    doc["result"][field] = "@@"
    p = tmp_path / "report.json"
    p.write_text(json.dumps(doc).replace('"@@"', text))
    r = CliRunner().invoke(main, ["compare", str(p)])
    assert r.exit_code == 3, r.output
    err = r.stderr.strip()
    assert "\n" not in err and str(p) in err and "beyond any figure a run records" in err


def test_compare_a_report_of_300_digits_still_renders(tmp_path):
    doc = report("big", [], "int8", tflite_bytes=10**299)
    p = tmp_path / "report.json"
    p.write_text(json.dumps(doc))
    assert "| TFLite bytes |" in compare_reports([p])


def test_cli_compare_table_into_a_pipe_is_one_line_per_row(two_reports):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    a, b = two_reports
    out = CliRunner(env={"COLUMNS": "60"}).invoke(main, ["compare", str(a), str(b), "--format", "table"]).output
    lines = out.splitlines()
    assert lines[0].split() == ["Baseline", "ptq-int8", "prune-cluster-pcqat"]
    row = next(line for line in lines if line.startswith("Compressed bytes (saved)"))
    assert row.split("  ")[-1].strip() == "70,000 (50.00%)" and "115,000 (17.86%)" in row
    assert next(line for line in lines if line.startswith("Path")).endswith("prune → cluster → qat → int8")
