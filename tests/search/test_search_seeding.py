"""The built-in recipes that fit a search space are its first trials (search.builtins), and a search that
--timeout ends early says so."""
from __future__ import annotations

import json

import pytest
from search_helpers import HEAD, ROOT, search_subprocess

from optimize_cli.recipe.space import load_space, parse_space
from optimize_cli.search.seeding import builtin_points, params_of


def space(stages, export=None, **search):
    return parse_space("s.yaml", {"stages": stages, "export": export or {"quantization": "int8"}, "search": search})


PRUNE = {"type": "prune", "target_sparsity": {"search": [0.3, 0.9]}}
CLUSTER = {"type": "cluster", "clusters": {"search": {"choices": [4, 8, 16]}}, "optional": True}
QAT = {"type": "qat", "learning_rate": {"search": [1.0e-5, 1.0e-3], "log": True}}


def test_seeding_builtin_maps_its_values_onto_the_space():
    s = space([PRUNE, CLUSTER, QAT])
    pcqat = {"stages": [{"type": "prune", "target_sparsity": 0.5}, {"type": "cluster", "clusters": 8},
                        {"type": "qat", "learning_rate": 1.0e-4}], "export": {"quantization": "int8"}}
    assert params_of(s, pcqat) == {"stages.1.enabled": True, "stages.0.target_sparsity": 0.5,
                                   "stages.1.clusters": 8, "stages.2.learning_rate": 1.0e-4}
    pqat = {"stages": [{"type": "prune"}, {"type": "qat"}]}  # unset: prune's own default; qat's is derived
    assert params_of(s, pqat) == {"stages.1.enabled": False, "stages.0.target_sparsity": 0.5}


@pytest.mark.parametrize("builtin", [
    {"stages": [{"type": "cluster", "clusters": 8}, {"type": "qat"}]},  # lacks prune, which is not optional
    {"stages": [{"type": "prune", "target_sparsity": 0.95}, {"type": "qat"}]},  # outside the range
    {"stages": [{"type": "prune"}, {"type": "cluster", "clusters": 32}, {"type": "qat"}]},  # not a choice
    {"stages": [{"type": "prune"}, {"type": "qat"}], "export": {"quantization": "float16"}},  # another export
    {"stages": [{"type": "prune"}]},  # lacks qat
    {"stages": [{"type": "prune"}, {"type": "qat"}], "export": {"weight_bits": 4}},  # int4: not this space's
    {"stages": [{"type": "prune"}, {"type": "qat"}], "export": {"quantization": "int8", "per_channel": False}},
])
def test_seeding_builtin_that_does_not_fit_is_skipped(builtin):
    assert params_of(space([PRUNE, CLUSTER, QAT]), builtin) is None


def test_seeding_sample_search_recipe_starts_from_prune_ptq_and_prune_cluster_ptq():
    s, _ = load_space(ROOT / "recipes" / "search-prune-cluster-int8.yaml", check_paths=False)
    assert builtin_points(s) == [
        ("prune-cluster-ptq", {"stages.1.enabled": True, "stages.0.target_sparsity": 0.5, "stages.1.clusters": 8}),
        ("prune-ptq", {"stages.1.enabled": False, "stages.0.target_sparsity": 0.5})]


def test_seeding_export_keys_the_recipe_shares_or_searches_still_fit():
    s = space([PRUNE, CLUSTER, QAT], export={"quantization": "int8", "weight_bits": {"search": {"choices": [4, 8]}}})
    assert params_of(s, {"stages": [{"type": "prune"}, {"type": "qat"}], "export": {"weight_bits": 4}}) == {
        "stages.1.enabled": False, "stages.0.target_sparsity": 0.5, "export.weight_bits": 4}
    same = {"stages": [{"type": "prune"}, {"type": "qat"}], "export": {"slim": True, "quantization": "int8"}}
    assert params_of(space([PRUNE, CLUSTER, QAT]), same) is not None


def test_seeding_the_tool_s_own_space_names_each_point_by_the_recipe_that_means_it():
    """In the space of a stage-less recipe for TFLM, ptq-int4 and filter_prune-ptq-per-tensor do not fit
    (int4 and per-tensor weights are not searched there); the all-off point is ptq-int8's, under its own
    name. For LiteRT the space searches int4 weights, and ptq-int4 is its int4 point."""
    raw = {"model": str(ROOT / "sample_models" / "digits_cnn"), "export": {"quantization": "int8"},
           "search": {"objectives": ["compressed_bytes"]}}
    points = dict(builtin_points(parse_space(str(ROOT / "s.yaml"), {**raw, "targets": ["tflm"]})))
    assert "ptq-int4" not in points and "filter_prune-ptq-per-tensor" not in points
    assert not any(v for k, v in points["ptq-int8"].items() if k.endswith(".enabled"))
    points = dict(builtin_points(parse_space(str(ROOT / "s.yaml"), raw)))
    assert points["ptq-int4"]["export.weight_bits"] == 4 and points["ptq-int8"]["export.weight_bits"] == 8


CHEAP = HEAD + """export: {quantization: {search: {choices: [dynamic, float16]}}}
training: {learning_rate: {search: [1.0e-4, 1.0e-2], log: true}}
evaluation: {latency_runs: 2, latency_warmup: 1}
search: {trials: 2, sampler: tpe, objectives: [compressed_bytes]}
"""


@pytest.mark.slow
def test_seeding_first_trial_is_the_builtin_and_timeout_says_it_stopped(tmp_path):
    """--trials 3 --timeout 1: the first trial (ptq-dynamic's values) outlasts the timeout; the search
    stops, and says so in its log, its summary and search.json. About 15 s."""
    res, out = search_subprocess(tmp_path, CHEAP, "--trials", "3", "--timeout", "1")
    assert res.returncode == 0, res.stderr
    assert "stopped by --timeout after 1 of 3 trials" in res.stderr and "stopped by --timeout" in res.stdout
    doc = json.loads((out / "search.json").read_text())
    assert doc["stopped"] == "stopped by --timeout after 1 of 3 trials"
    assert doc["requested_trials"] == 3 and doc["space"]["trials"] == 3
    (first,) = doc["trials"]
    assert first["builtin"] == "ptq-dynamic" and first["params"]["export.quantization"] == "dynamic"
    assert "(built-in ptq-dynamic)" in (out / "search.md").read_text()
