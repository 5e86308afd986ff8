"""One trial's hand-off (search/objective.py): the run's `--json` stdout is parsed (its `error` is the
trial's reason, never a line scraped from stderr), and the report.json its summary names is read back
into a typed TrialReport."""
from __future__ import annotations

import json

import pytest
from search_helpers import SAMPLE

from optimize_cli.errors import EXIT_EARLY_STOP, EXIT_GATE, EXIT_USAGE
from optimize_cli.run.records import GateRecord, MetricInfo
from optimize_cli.search.objective import TrialReport, outcome, parse_stdout, run_trial, violations

REPORT = {"result": {"tflite_bytes": 1000, "compressed_bytes": 800, "accuracy": 0.9, "accuracy_drop": 0.02,
                     "latency_ms": 1.5, "compression_ratio": 3.0, "layers": []},
          "gates": [{"name": "max_accuracy_drop", "limit": 0.01, "value": 0.02, "passed": False},
                    {"name": "min_compression_ratio", "limit": 2.0, "value": 3.0, "passed": True}],
          "passed": False, "metric": {"name": "accuracy", "higher_is_better": True, "eval_samples": 100}}


def test_trial_report_from_dict_is_typed():
    rep = TrialReport.from_dict(REPORT)
    assert rep.figures["compressed_bytes"] == 800 and rep.figures["accuracy_drop"] == 0.02 and not rep.passed
    assert rep.gates == [GateRecord("max_accuracy_drop", 0.01, 0.02, False), GateRecord("min_compression_ratio", 2.0, 3.0, True)]
    assert violations(rep.gates) == [pytest.approx(0.01), 0.0]
    assert rep.metric == MetricInfo("accuracy", True, 100)
    with pytest.raises(ValueError, match="not a run's report"):
        TrialReport.from_dict({"gates": [{"limit": 1}]})


def test_trial_outcome_reads_the_report_the_summary_names(tmp_path):
    (tmp_path / "elsewhere.json").write_text(json.dumps(REPORT))
    summary = {"result": {}, "passed": False, "report": str(tmp_path / "elsewhere.json")}
    out = outcome(EXIT_GATE, 2.0, parse_stdout(json.dumps(summary, indent=2).encode()), tmp_path / "t")
    assert out.completed and out.figures["compressed_bytes"] == 800 and out.gates[0].name == "max_accuracy_drop"
    assert outcome(EXIT_GATE, 2.0, None, tmp_path / "t").reason == "no summary on the run's stdout (exit code 5)"


def test_trial_outcome_of_a_failed_run_is_its_json_error():
    doc = parse_stdout(b'some library wrote this\n{"error": "stopped early after stage 1", "exit_code": 6}\n')
    out = outcome(EXIT_EARLY_STOP, 1.0, doc, None)
    assert out.pruned and out.reason == "stopped early after stage 1" and not out.completed
    assert outcome(4, 1.0, None, None).reason == "exit code 4"
    assert outcome(130, 1.0, {"error": "interrupted: nothing to resume", "exit_code": 130}, None).reason == "interrupted"


def test_trial_run_of_a_recipe_without_its_model_hands_back_its_own_error(tmp_path):
    recipe = tmp_path / "t.yaml"
    recipe.write_text(f"""version: 1
name: t
model: {tmp_path / 'missing_model'}
data:
  eval: {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_test, y: y_test}}
export: {{quantization: dynamic}}
""", encoding="utf-8")
    out = run_trial(recipe, tmp_path / "t", tmp_path / "t.log")
    assert out.exit_code == EXIT_USAGE and not out.completed
    assert "missing_model" in out.reason and not out.reason.startswith("error:") and "\n" not in out.reason
    assert f"error: {out.reason}" in (tmp_path / "t.log").read_text()  # the same line the user would see
