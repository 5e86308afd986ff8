"""report.schema: the JSON Schema ships as package data, jsonschema validation, the JSON-ready copy and the
consistency checks."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from optimize_cli import report as rp


def test_schema_is_valid_draft_2020_12_and_ships_as_package_data():
    import jsonschema

    schema = rp.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("/draft/2020-12/schema")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["result"]["additionalProperties"] is False
    assert schema["$defs"]["measurement"]["additionalProperties"] is False  # baseline and ptq_baseline
    assert (Path(rp.__file__).parent.parent / rp.SCHEMA_FILE).is_file()  # optimize_cli/report.schema.json


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
        ("stage type not a string", setv(["stages", 0, "type"], 7), "is not of type"),
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
def test_schema_problems_come_from_jsonschema(example, what, mutate, expected):
    """The location and message are jsonschema's own (no hand-written validator)."""
    import jsonschema

    assert rp.schema_problems(copy.deepcopy(example)) == []
    mutate(example)
    problems = rp.schema_problems(example)
    errors = list(jsonschema.Draft202012Validator(rp.load_schema()).iter_errors(example))
    best = jsonschema.exceptions.best_match(errors)
    assert problems[0][1] == best.message, what  # the most relevant error first (may be inside an anyOf)
    assert {msg for _, msg in problems[1:]} <= {e.message for e in errors}
    assert len(problems) >= len(errors)


def test_schema_validate_report_counts_further_problems(example):
    example["result"]["extra"] = 1
    del example["seconds_total"]
    with pytest.raises(rp.ReportError, match=r"^report does not match schema v1: at .*\(and 1 more problem\)$"):
        rp.validate_report(example)


def test_schema_report_package_has_no_hand_written_validator():
    src = "".join(f.read_text(encoding="utf-8") for f in Path(rp.__file__).parent.glob("*.py"))
    assert "_MiniValidator" not in src and "import jsonschema" in src


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




def test_schema_names_the_metrics_and_quantizations_of_their_tables():
    """The report schema's metric and quantization enums, the recipe's Literals and the tables they are
    built from (measure.metrics.METRICS, tree.QUANTIZATIONS) say the same."""
    from typing import get_args

    from optimize_cli.measure.metrics import METRICS
    from optimize_cli.recipe import EvaluationConfig, ExportConfig
    from optimize_cli.tree import QUANTIZATIONS

    schema = rp.load_schema()
    assert schema["properties"]["metric"]["properties"]["name"]["enum"] == list(METRICS)
    assert schema["properties"]["result"]["properties"]["quantization"]["enum"] == list(QUANTIZATIONS)
    assert schema["$defs"]["measurement"]["properties"]["quantization"]["enum"] == list(QUANTIZATIONS)
    literal = lambda cls, key: get_args(get_args(cls.model_fields[key].annotation)[0])  # noqa: E731 - Optional[Literal]
    assert literal(EvaluationConfig, "metric") == METRICS and literal(ExportConfig, "quantization") == QUANTIZATIONS


def test_schema_stage_is_closed_and_holds_what_a_stage_record_dumps():
    """A stage's schema lists exactly the fields of StageRecord that its dump writes, plus the fields each
    stage module declares for its own record (`RECORD_FIELDS`, e.g. filter_prune's `filters`); closed."""
    import dataclasses

    from optimize_cli import stages
    from optimize_cli.run.records import StageRecord

    stage = rp.load_schema()["$defs"]["stage"]
    assert stage["additionalProperties"] is False
    generic = {f.name for f in dataclasses.fields(StageRecord) if f.metadata.get("report", True)}
    own = {name for typ in stages.STAGES for name in getattr(stages.stage_module(typ), "RECORD_FIELDS", ())}
    assert "filters" in own
    assert set(stage["properties"]) == generic | own
    assert {"epochs", "learning_rate"} <= set(stage["required"])
