"""report.json schema, gates, report.md / report.html rendering, writing and the GitHub step summary.

Real matplotlib (Agg), real jsonschema where installed; no TensorFlow."""
from __future__ import annotations

import base64
import copy
import json
import os
import re
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from optimize_cli import report as rp

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def example() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _densities(n: int = 4000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.05, n).astype(np.float32)
    pruned = base.copy()
    pruned[np.abs(pruned) < np.quantile(np.abs(pruned), 0.5)] = 0
    centroids = np.linspace(pruned.min(), pruned.max(), 8)
    clustered = np.where(pruned == 0, 0, centroids[np.abs(pruned[:, None] - centroids[None]).argmin(1)])
    return {"layer": "dense", "series": [{"label": "baseline", "values": base}, {"label": "prune", "values": pruned},
                                         {"label": "cluster", "values": clustered}]}


def _imgs(page: str) -> list[tuple[str, str]]:
    """(id, base64 payload) of every <img> with a data:image/png src."""
    out = []
    for tag in re.findall(r"<img\b[^>]*>", page):
        src = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        ident = re.search(r'id="([^"]+)"', tag)
        if src:
            out.append((ident.group(1) if ident else "", src.group(1)))
    return out


# ------------------------------------------------------------------------------------------ schema


def test_schema_is_valid_draft_2020_12_and_ships_as_package_data():
    jsonschema = pytest.importorskip("jsonschema")
    schema = rp.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("/draft/2020-12/schema")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["result"]["additionalProperties"] is False
    assert schema["$defs"]["measurement"]["additionalProperties"] is False  # baseline and ptq_baseline
    assert (Path(rp.__file__).parent / rp.SCHEMA_FILE).is_file()


def test_schema_example_validates(example):
    assert rp.validate_report(example) == []


def _mutations():
    """(description, mutate(report), text expected in the error)."""

    def drop(path):
        def f(r):
            node = r
            for p in path[:-1]:
                node = node[p]
            del node[path[-1]]
        return f

    def setv(path, value):
        def f(r):
            node = r
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
        return f

    return [
        ("missing top-level field", drop(["seconds_total"]), "'seconds_total' is a required property"),
        ("missing result field", drop(["result", "compression_ratio"]), "'compression_ratio' is a required property"),
        ("missing baseline field", drop(["baseline", "latency_ms"]), "'latency_ms' is a required property"),
        ("extra top-level field", setv(["surprise"], 1), "surprise"),
        ("extra result field", setv(["result", "size_kb"], 12), "size_kb"),
        ("extra baseline field", setv(["baseline", "note"], "x"), "note"),
        ("wrong type", setv(["result", "tflite_bytes"], "142320"), "is not of type"),
        ("bool is not an integer", setv(["result", "threads"], True), "is not of type"),
        ("wrong enum", setv(["metric", "name"], "f1"), "f1"),
        ("baseline must be float32", setv(["baseline", "quantization"], "int8"), "none"),
        ("ptq_baseline must be int8", setv(["ptq_baseline", "quantization"], "float16"), "ptq_baseline"),
        ("bad stage type", setv(["stages", 0, "type"], "distill"), "distill"),
        ("sparsity above 1", setv(["stages", 1, "sparsity"], 50), "maximum"),
        ("bad sha256", setv(["recipe", "sha256"], "abc"), "does not match"),
        ("layer missing field", drop(["result", "layers", 0, "dtype"]), "'dtype' is a required property"),
        ("wrong schema version", setv(["schema_version"], 2), "schema_version"),
    ]


@pytest.mark.parametrize("what,mutate,expected", _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_rejects_broken_report(example, what, mutate, expected):
    mutate(example)
    with pytest.raises(rp.ReportError) as info:
        rp.validate_report(example)
    msg = str(info.value)
    assert msg.startswith("report does not match schema v1: at ")
    assert expected in msg or expected in json.dumps(msg), msg


@pytest.mark.parametrize("what,mutate,expected", _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_builtin_validator_agrees_without_jsonschema(example, what, mutate, expected):
    """Installs without jsonschema (it is a test extra) still enforce the contract."""
    schema = rp.load_schema()
    assert rp._MiniValidator(schema).problems(copy.deepcopy(example)) == []
    mutate(example)
    problems = rp._MiniValidator(schema).problems(example)
    assert problems, what


def test_schema_validate_report_without_jsonschema_installed(example, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # `import jsonschema` now raises ImportError
    assert rp.validate_report(example) == []
    example["result"]["extra"] = 1
    del example["seconds_total"]
    with pytest.raises(rp.ReportError, match=r"^report does not match schema v1: at .*\(and 1 more problem\)$"):
        rp.validate_report(example)


def test_schema_builtin_validator_knows_every_keyword_used():
    def walk(node):
        if isinstance(node, dict):
            yield from node.keys()
            for k, v in node.items():
                if k not in ("properties", "$defs"):
                    yield from walk(v)
                else:
                    for sub in v.values():
                        yield from walk(sub)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    assert set(walk(rp.load_schema())) <= rp._MiniValidator.KEYWORDS


def test_schema_null_ptq_baseline_and_unknown_accuracy_validate(example):
    example["ptq_baseline"] = None
    example["metric"]["eval_samples"] = None
    for key in ("baseline", "result"):
        example[key]["accuracy"] = None
    example["result"]["accuracy_drop"] = None
    for st in example["stages"]:
        st["keras_accuracy"] = None
    assert rp.validate_report(example) == []


def test_schema_numpy_values_are_accepted_and_nan_is_refused(example):
    example["result"]["tflite_bytes"] = np.int64(example["result"]["tflite_bytes"])
    example["result"]["latency_ms"] = np.float32(example["result"]["latency_ms"])
    assert rp.validate_report(example) == []
    example["result"]["latency_p90_ms"] = float("nan")
    with pytest.raises(rp.ReportError, match=r"result\.latency_p90_ms.*not a finite number"):
        rp.validate_report(example)


def test_schema_consistency_warns_on_wrong_derived_fields(example):
    example["result"]["compression_ratio"] = 3.0  # the numbers say 7.10
    example["result"]["accuracy_drop"] = -example["result"]["accuracy_drop"]  # wrong sign
    problems = rp.validate_report(example)
    assert any("compression_ratio" in p for p in problems)
    assert any("accuracy_drop" in p for p in problems)


def test_schema_consistency_error_metric_drop_is_result_minus_baseline(example):
    example["metric"] = {"name": "mae", "higher_is_better": False, "eval_samples": 100}
    example["baseline"]["accuracy"], example["result"]["accuracy"] = 0.10, 0.13
    example["result"]["accuracy_drop"] = rp.accuracy_drop(0.10, 0.13, higher_is_better=False)
    assert example["result"]["accuracy_drop"] == pytest.approx(0.03)
    assert not any("accuracy_drop" in p for p in rp.validate_report(example))


# ------------------------------------------------------------------------------------------- gates


@pytest.mark.parametrize(
    "gate,field,limit,value,passed",
    [
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.02, True),
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.90 - 0.88, True),  # 0.020000000000000018
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.0201, False),
        ("max_accuracy_drop", "accuracy_drop", 0.02, -0.01, True),  # the result got better
        ("min_compression_ratio", "compression_ratio", 3.0, 3.0, True),
        ("min_compression_ratio", "compression_ratio", 3.0, 2.999, False),
        ("min_compression_ratio", "compression_ratio", 3.0, 7.1, True),
        ("max_compressed_bytes", "compressed_bytes", 61244, 61244, True),
        ("max_compressed_bytes", "compressed_bytes", 61244, 61245, False),
        ("max_latency_ms", "latency_ms", 0.09, 0.09, True),
        ("max_latency_ms", "latency_ms", 0.09, 0.0901, False),
    ],
)
def test_gates_boundary(example, gate, field, limit, value, passed):
    example["result"][field] = value
    out = rp.evaluate_gates({gate: limit}, example)
    assert out == [{"name": gate, "limit": limit, "value": value, "passed": passed}]


def test_gates_only_configured_ones_in_fixed_order(example):
    gates = {"max_latency_ms": 1.0, "max_accuracy_drop": None, "min_compression_ratio": 3.0,
             "max_compressed_bytes": None}
    out = rp.evaluate_gates(gates, example)
    assert [g["name"] for g in out] == ["min_compression_ratio", "max_latency_ms"]
    assert all(g["passed"] for g in out)
    assert rp.evaluate_gates({}, example) == [] and rp.evaluate_gates(None, example) == []


def test_gates_accuracy_unknown_fails_with_null_value(example):
    example["result"]["accuracy"] = None
    example["result"]["accuracy_drop"] = None
    assert rp.evaluate_gates({"max_accuracy_drop": 0.5}, example) == [
        {"name": "max_accuracy_drop", "limit": 0.5, "value": None, "passed": False}]


def test_gates_accept_gates_config_and_reject_unknown_names(example):
    from optimize_cli.recipe import GatesConfig

    out = rp.evaluate_gates(GatesConfig(min_compression_ratio=8.0), example)
    assert out == [{"name": "min_compression_ratio", "limit": 8.0, "value": example["result"]["compression_ratio"],
                    "passed": False}]
    with pytest.raises(ValueError, match="unknown gate 'max_size'"):
        rp.evaluate_gates({"max_size": 1}, example)


def test_gates_pure(example):
    before = copy.deepcopy(example)
    gates = {"max_accuracy_drop": 0.02}
    rp.evaluate_gates(gates, example)
    assert example == before and gates == {"max_accuracy_drop": 0.02}


# ---------------------------------------------------------------------------------------- markdown


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
    assert "0.090 / 0.099" in row("latency median / p90 (ms)") and "2.04×" in row("speedup")
    assert "91.50% †" in row("accuracy") and "90.80%" in row("accuracy")
    assert "1.20 pts" in row("accuracy drop")
    assert "50.0%" in row("sparsity") and "50,177" in row("max unique weights ‡")


def test_markdown_tables_are_aligned_for_terminals(example):
    md = rp.render_markdown(example)
    blocks = re.findall(r"((?:^\|.*\|$\n?)+)", md, flags=re.M)
    assert len(blocks) >= 5
    for block in blocks:
        widths = {rp._width(line) for line in block.strip().splitlines()}
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
    assert "the drop is result − baseline, so a positive drop is always worse" in md
    assert "| mae drop " in md and "0.025" in md


# -------------------------------------------------------------------------------------------- html


def test_html_is_self_contained_with_two_decodable_pngs(example):
    page = rp.render_html(example, _densities())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'(src|href)="(?!data:)', page)
    imgs = _imgs(page)
    assert sorted(i for i, _ in imgs) == ["density-plot", "size-accuracy-plot"]
    for _, payload in imgs:
        assert base64.b64decode(payload).startswith(PNG_MAGIC)
    assert all(re.search(r'alt="[^"]{20,}"', tag) for tag in re.findall(r"<img\b[^>]*>", page))


def test_html_has_the_same_tables(example):
    page = rp.render_html(example, _densities())
    for text in ("528,128 → 434,879 (17.66%)", "prune → cluster → qat (PCQAT) → int8", "max_accuracy_drop",
                 "sequential/dense/MatMul", "DepthwiseConv2D", example["recipe"]["sha256"]):
        assert text in page


def test_html_escapes_names(example):
    example["result"]["layers"][0]["name"] = "<script>alert(1)</script>"
    page = rp.render_html(example)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_html_without_densities_or_accuracy_still_has_the_size_plot(example):
    example["baseline"]["accuracy"] = example["ptq_baseline"]["accuracy"] = None
    example["result"]["accuracy"] = example["result"]["accuracy_drop"] = None
    page = rp.render_html(example)
    imgs = _imgs(page)
    assert [i for i, _ in imgs] == ["size-accuracy-plot"]
    assert base64.b64decode(imgs[0][1]).startswith(PNG_MAGIC)


def test_html_density_plot_handles_odd_series():
    png = rp.density_png({"layer": "x", "series": [
        {"label": "empty", "values": np.array([])},
        {"label": "constant", "values": np.zeros(10)},
        {"label": "int8", "values": np.arange(-128, 128)},
        {"label": "with nan", "values": [0.1, float("nan"), -0.2]},
    ]})
    assert base64.b64decode(png).startswith(PNG_MAGIC)
    assert rp.density_png({"layer": "x", "series": []}) is None


def test_report_module_does_not_import_tensorflow():
    src = Path(rp.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+(tensorflow|tf_keras|tensorflow_model_optimization)", src, re.M)


# ----------------------------------------------------------------------------------------- writing


def test_write_reports_writes_three_files(example, tmp_path):
    paths = rp.write_reports(example, tmp_path / "out", densities=_densities())
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.json", "report.md", "report.html"}
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == example
    assert paths["json"].read_text(encoding="utf-8").startswith('{\n  "schema_version": 1,')
    assert paths["md"].read_text(encoding="utf-8") == rp.render_markdown(example)
    assert len(_imgs(paths["html"].read_text(encoding="utf-8"))) == 2


def test_write_reports_refuses_invalid_report_and_writes_nothing(example, tmp_path):
    del example["result"]["speedup"]
    with pytest.raises(rp.ReportError, match=r"at result: 'speedup' is a required property"):
        rp.write_reports(example, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_reports_passes_consistency_warnings_on(example, tmp_path):
    example["result"]["speedup"] = 9.0
    seen = []
    rp.write_reports(example, tmp_path, warn=seen.append)
    assert len(seen) == 1 and "speedup" in seen[0]


def test_github_summary_appended_twice_keeps_both(example, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert rp.append_github_summary(example)
    example["recipe"]["name"] = "second-run"
    assert rp.append_github_summary(example)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("previous step\n")
    assert "# optimize-cli: prune-cluster-pcqat" in text and "# optimize-cli: second-run" in text
    assert text.count("## Results") == 2


def test_github_summary_unset_or_unwritable_is_not_an_error(example, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert rp.append_github_summary(example) is False
    seen = []
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "dir" / "summary.md"))
    assert rp.append_github_summary(example, warn=seen.append) is False
    assert len(seen) == 1 and "GITHUB_STEP_SUMMARY" in seen[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write read-only files")
def test_github_summary_read_only_file(example, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("x", encoding="utf-8")
    summary.chmod(stat.S_IRUSR)
    seen = []
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert rp.append_github_summary(example, warn=seen.append) is False and seen


# ------------------------------------------------------------------------------------------ stdout


def test_summary_lines(example):
    text = rp.summary_lines(example, out_dir="runs/prune-cluster-pcqat")
    assert text.splitlines() == [
        "result    runs/prune-cluster-pcqat/model.tflite (prune → cluster → qat (PCQAT) → int8)",
        "size      142,320 B → 61,244 B zipped (56.97% saved); 7.10× smaller than the baseline zip (434,879 B)",
        "accuracy  90.80% (baseline 92.00%, drop 1.20 pts)",
        "latency   0.090 ms median, p90 0.099 ms, 2.04× speedup (2 threads)",
        "verdict   PASS: 2 of 2 gates passed",
    ]


def test_json_summary(example, tmp_path):
    out = rp.json_summary(example, out_dir=tmp_path)
    assert set(out) >= {"result", "baseline", "gates", "passed"}
    assert "layers" not in out["result"] and out["result"]["compression_ratio"] == example["result"]["compression_ratio"]
    assert out["passed"] is True and out["gates"] == example["gates"]
    assert out["report"] == str(tmp_path / "report.json")
    json.dumps(out)
