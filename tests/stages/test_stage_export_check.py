"""Each stage's `export_check` (did sparsity / clusters survive into the .tflite) and the registry-driven
`export_checks` over a whole path. Synthetic records: no TensorFlow."""
from __future__ import annotations

from types import SimpleNamespace

from optimize_cli.stages import ClusterStage, PruneStage, QatStage, export_checks, stage_module


def rec(*layers):
    return {"layers": [{"name": n, "sparsity": s, "unique_weights": u} for n, s, u in layers]}


def test_stage_export_check_prune_passes_when_zeros_survive():
    c = stage_module("prune").export_check(PruneStage(target_sparsity=0.5), rec(("conv", 0.5, 40)),
                                           {"conv": {"sparsity": 0.49}})
    assert c == {"name": "sparsity survived export", "passed": True,
                 "message": "1 pruned layer(s) keep ≥ 45% zeros in the .tflite"}


def test_stage_export_check_prune_names_the_layer_that_lost_its_zeros():
    c = stage_module("prune").export_check(PruneStage(target_sparsity=0.5), rec(("conv", 0.5, 40)),
                                           {"conv": {"sparsity": 0.1}})
    assert not c["passed"] and c["message"] == "SPARSITY LOST in export: conv 50%→10%"


def test_stage_export_check_prune_unmatched_and_nothing_pruned():
    check = stage_module("prune").export_check
    c = check(PruneStage(target_sparsity=0.5), rec(("conv", 0.5, 40)), {})
    assert not c["passed"] and c["message"] == "no pruned layer could be matched in the .tflite"
    c = check(PruneStage(target_sparsity=0.5), rec(("conv", 0.0, 40)), {})
    assert c["passed"] and c["message"] == "nothing was pruned"


def test_stage_export_check_cluster_counts_values_per_channel():
    check = stage_module("cluster").export_check
    ok = check(ClusterStage(clusters=8), rec(("conv", 0.0, 8)), {"conv": {"max_unique_per_channel": 8}})
    assert ok == {"name": "clusters survived export", "passed": True,
                  "message": "1 clustered layer(s) keep ≤ 8 values per channel in the .tflite"}
    lost = check(ClusterStage(clusters=8), rec(("conv", 0.0, 8)), {"conv": {"max_unique_per_channel": 20}})
    assert not lost["passed"] and lost["message"] == "CLUSTERS LOST in export: conv (20 values per channel > 8)"


def test_stage_export_check_qat_has_none():
    assert getattr(stage_module("qat"), "export_check", None) is None


def test_stage_export_checks_runs_each_stage_check_in_path_order():
    recipe = SimpleNamespace(stages=[PruneStage(target_sparsity=0.5), ClusterStage(clusters=8), QatStage()])
    records = [rec(("conv", 0.5, 40)), rec(("conv", 0.5, 8)), rec(("conv", 0.5, 8))]
    layers = [{"name": "tfl/conv;x", "layer": "conv", "sparsity": 0.5, "max_unique_per_channel": 8},
              {"name": "conv", "sparsity": 0.0, "max_unique_per_channel": 99}]  # first match per layer wins
    out = export_checks(recipe, records, layers)
    assert [c["name"] for c in out] == ["sparsity survived export", "clusters survived export"]
    assert all(c["passed"] for c in out)
