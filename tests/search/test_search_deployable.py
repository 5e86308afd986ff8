"""The deployable_bytes objectives: read from a trial's result.targets, validated, and searched end to end."""
from __future__ import annotations

import json

import pytest

from optimize_cli.search.objective import TrialReport
from tests.search.search_helpers import HEAD, search_subprocess


def _report(targets: dict) -> dict:
    return {"result": {"targets": targets, "compressed_bytes": 9}, "gates": [], "passed": True}


def test_deployable_objective_is_the_one_named_target_or_the_largest():
    one = TrialReport.from_dict(_report({"litert": {"deployable_bytes": 500}, "tflm": {"deployable_bytes": 300}}))
    assert one.figures["deployable_bytes"] == 300  # the recipe's one target beside LiteRT
    assert one.figures["deployable_bytes:litert"] == 500 and one.figures["deployable_bytes:tflm"] == 300
    only = TrialReport.from_dict(_report({"litert": {"deployable_bytes": 500}}))
    assert only.figures["deployable_bytes"] == 500
    many = TrialReport.from_dict(_report({"litert": {"deployable_bytes": 500}, "tflm": {"deployable_bytes": 300},
                                          "ethos-u55-128": {"deployable_bytes": 700}}))
    assert many.figures["deployable_bytes"] == 700
    assert "deployable_bytes" not in TrialReport.from_dict(_report({})).figures


def test_deployable_objective_names_are_validated(tmp_path):
    from tests.run_helpers import cli

    good = HEAD + "export: {quantization: {search: {choices: [dynamic, int8]}}}\nsearch: {objectives: [deployable_bytes:litert, accuracy_drop], trials: 2}\n"
    bad = good.replace("deployable_bytes:litert", "deployable_bytes:")
    (tmp_path / "g.yaml").write_text(good)
    (tmp_path / "b.yaml").write_text(bad)
    assert cli("validate", tmp_path / "g.yaml").exit_code == 0
    r = cli("validate", tmp_path / "b.yaml")
    assert r.exit_code == 2 and "search.objectives" in r.output


@pytest.mark.slow
def test_search_minimizes_a_targets_deployable_bytes(tmp_path):
    recipe = HEAD + """export: {quantization: {search: {choices: [dynamic, int8]}}}
evaluation: {latency_runs: 2, latency_warmup: 0}
search: {objectives: [deployable_bytes:litert], trials: 2, sampler: grid, builtins: false}
"""
    res, out = search_subprocess(tmp_path, recipe)
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((out / "search.json").read_text())
    sizes = {}
    for t in doc["trials"]:
        rep = json.loads((out / "trials" / f"{t['number']:04d}" / "report.json").read_text())
        sizes[t["number"]] = rep["result"]["targets"]["litert"]["deployable_bytes"]
    best = doc["recommended"] if isinstance(doc["recommended"], int) else doc["recommended"]["number"]
    assert sizes[best] == min(sizes.values())
