"""A search recipe without `stages:` gets the tool's space for its model (recipe/auto_space.py): which
stages apply (no filter_prune without a Conv2D / Dense chain), each optional; `validate` shows it. Read
without TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from search_helpers import HEAD, ROOT

from optimize_cli.recipe.auto_space import thinnable_layers
from optimize_cli.recipe.space import load_space

SEARCH = "export: {quantization: int8}\ngates: {max_accuracy_drop: 0.03}\nsearch: {trials: 4}\n"


def test_auto_space_for_the_sample_model_has_every_stage_optional(tmp_path):
    (tmp_path / "s.yaml").write_text(HEAD + SEARCH, encoding="utf-8")
    space, first = load_space(tmp_path / "s.yaml")
    assert space.auto and [s["type"] for s in space.raw["stages"]] == ["filter_prune", "prune", "cluster", "qat"]
    assert {p.name for p in space.params} == {
        "stages.0.enabled", "stages.1.enabled", "stages.2.enabled", "stages.3.enabled", "stages.0.ratio",
        "stages.1.target_sparsity", "stages.2.clusters", "export.weight_bits"}
    assert first.export.quantization == "int8" and space.dump()["built"]["stages"][0]["type"] == "filter_prune"
    assert space.dump()["built"]["export"]["weight_bits"] == {"search": {"choices": [8, 4]}}
    assert thinnable_layers(ROOT / "sample_models" / "digits_cnn") == {"conv1", "conv2", "dense1", "logits"}


def test_auto_space_int4_only_where_every_target_runs_it_and_the_recipe_leaves_the_weights_unset(tmp_path):
    for extra, int4 in (("targets: [litert]\n", True), ("targets: [tflm]\n", False),
                        ("targets: [litert, ethos-u]\n", False), ("", True)):
        (tmp_path / "s.yaml").write_text(HEAD + extra + SEARCH, encoding="utf-8")
        space, _ = load_space(tmp_path / "s.yaml", check_paths=False)
        assert ("export.weight_bits" in {p.name for p in space.params}) is int4, extra
    for export in ("{quantization: int8, per_channel: true}", "{quantization: int8, weight_bits: 8}",
                   "{quantization: dynamic}"):
        (tmp_path / "s.yaml").write_text(HEAD + f"export: {export}\nsearch: {{trials: 4}}\n", encoding="utf-8")
        space, _ = load_space(tmp_path / "s.yaml", check_paths=False)
        assert "export.weight_bits" not in {p.name for p in space.params}, export
    assert [s["type"] for s in space.raw["stages"]] == ["filter_prune", "prune", "cluster"]  # no QAT: dynamic


def test_auto_space_without_a_conv_dense_chain_has_no_filter_prune(tmp_path):
    config = {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x"}},
        {"class_name": "Dense", "config": {"name": "only", "units": 2}}]}}
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
    head = HEAD.split("model:")[0] + "model: m.keras\ndata:" + HEAD.split("data:")[1]
    (tmp_path / "s.yaml").write_text(head + SEARCH, encoding="utf-8")
    space, _ = load_space(tmp_path / "s.yaml", check_paths=False)
    assert [s["type"] for s in space.raw["stages"]] == ["prune", "cluster", "qat"]


def test_auto_space_named_stages_keep_their_own_space(tmp_path):
    (tmp_path / "s.yaml").write_text(HEAD + "stages: [{type: prune, target_sparsity: {search: [0.4, 0.6]}}]\n"
                                     + SEARCH, encoding="utf-8")
    space, _ = load_space(tmp_path / "s.yaml")
    assert not space.auto and [p.name for p in space.params] == ["stages.0.target_sparsity"]
    assert "built" not in space.dump()


def test_auto_space_validate_shows_the_space_it_built():
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "validate", "search-auto"], capture_output=True,
                         text=True, env=os.environ.copy(), cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "the space is the tool's, for this model: filter_prune? → prune? → cluster? → qat?" in res.stdout
    assert "stages.2.clusters: one of 8, 16, 32" in res.stdout


def test_auto_space_not_when_the_recipe_searches_its_own_values(tmp_path):
    (tmp_path / "s.yaml").write_text(HEAD + "export: {quantization: {search: {choices: [dynamic, int8]}}}\n"
                                     "search: {trials: 2}\n", encoding="utf-8")
    space, first = load_space(tmp_path / "s.yaml")
    assert not space.auto and first.stage_types == [] and [p.name for p in space.params] == ["export.quantization"]
