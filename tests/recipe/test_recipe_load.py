"""Loading recipes: defaults, names, paths, the built-in recipes; no TensorFlow import."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from recipe_helpers import ALL_BUILTIN, BUILTIN, ROOT, SEARCH_BUILTIN, SHORTEST, error_of, write

from optimize_cli.recipe import (
    Recipe,
    load_recipe,
)

# ------------------------------------------------------------------------------------ good recipes


def test_recipe_shortest_recipe_loads_with_defaults(work):
    r = load_recipe(write(work, SHORTEST))
    assert isinstance(r, Recipe)
    assert r.stage_types == ["prune", "cluster", "qat"]
    prune, cluster, qat = r.stages
    assert (prune.target_sparsity, prune.initial_sparsity, prune.schedule, prune.epochs) == (0.5, 0.0, "polynomial", 20)
    assert prune.begin_step is None and prune.end_step is None and prune.frequency is None
    assert (cluster.clusters, cluster.centroid_init, cluster.epochs) == (16, "kmeans++", 8)
    assert cluster.preserve_sparsity is True
    assert qat.epochs == 4
    # resolved: training.learning_rate unset: prune at its default (1e-3), cluster and qat at their own (1e-4)
    assert [s.learning_rate for s in r.stages] == pytest.approx([1e-3, 1e-4, 1e-4])
    assert all(s.batch_size == 64 and s.skip_layers == [] for s in r.stages)
    t = r.training
    assert (t.batch_size, t.optimizer, t.learning_rate, t.freeze_batchnorm, t.loss, t.seed) == (64, "adam", 1e-3, True, None, 0)
    assert r.data.train.type == "npz" and (r.data.train.x, r.data.train.y) == ("x", "y")
    assert r.data.eval is None and r.data.representative is None and r.data.representative_samples == 256
    assert r.export.quantization == "int8"
    assert (r.export.inference_input_type, r.export.inference_output_type) == ("int8", "int8")
    assert r.evaluation.threads == 1 and r.evaluation.metric is None
    assert r.gates.max_accuracy_drop is None
    assert r.qat_scheme == "PCQAT"
    assert r.name == "recipe" and r.description == ""
    assert r.source == (work / "recipe.yaml").resolve()
    assert len(r.sha256) == 64


def test_recipe_empty_sections_mean_defaults(work):
    r = load_recipe(write(work, SHORTEST + "training:\nexport:\ngates:\nevaluation:\n"))
    assert r.training.batch_size == 64 and r.export.quantization == "int8"


def test_recipe_name_defaults_to_the_file_stem(work):
    r = load_recipe(write(work, SHORTEST, name="my first recipe.yaml"))
    assert r.name == "my-first-recipe"
    assert load_recipe(write(work, SHORTEST + "name: custom\n")).name == "custom"


def test_recipe_paths_resolve_relative_to_the_recipe_file(work, monkeypatch, tmp_path_factory):
    path = write(work, SHORTEST.replace("model: model", "model: ../model").replace("path: data.npz", "path: ../data.npz"),
                 name="sub/recipe.yaml")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    r = load_recipe(path)
    assert r.model == str((work / "model").resolve())
    assert r.data.train.path == str((work / "data.npz").resolve())
    assert Path(r.model).is_absolute()


def test_recipe_absolute_paths_are_kept(work, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    path = write(other, SHORTEST.replace("model: model", f"model: {work / 'model'}")
                 .replace("path: data.npz", f"path: {work / 'data.npz'}"))
    r = load_recipe(path)
    assert r.model == str(work / "model") and r.data.train.path == str(work / "data.npz")


def test_recipe_missing_paths_are_reported_unless_check_paths_is_false(work):
    path = write(work, SHORTEST.replace("model: model", "model: nope"))
    msg = error_of(path)
    assert msg.startswith(f"{path}:2: model: path does not exist: ") and msg.endswith(str(work / "nope"))
    assert load_recipe(path, check_paths=False).model == str(work / "nope")


def test_recipe_model_option_overrides_and_is_relative_to_the_current_directory(work, monkeypatch):
    path = write(work, SHORTEST.replace("model: model", "model: nope").replace("data.npz", "../data.npz"),
                 name="sub/recipe.yaml")
    monkeypatch.chdir(work)
    r = load_recipe(path, model="model")
    assert r.model == str(work / "model")


def test_recipe_missing_model_can_come_from_the_option(work):
    path = write(work, SHORTEST.replace("model: model\n", ""))
    assert "model: missing: give the model path in the recipe or with --model" in error_of(path)
    assert load_recipe(path, model=str(work / "model")).model == str(work / "model")


# ------------------------------------------------------------------------------ built-in recipes


@pytest.mark.parametrize("path", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_builtin_recipe_validates(path):
    r = load_recipe(path, check_paths=False)
    assert r.name == path.stem
    assert r.description and "\n" not in r.description
    assert r.export.quantization in ("none", "dynamic", "float16", "int8", "int16x8")


@pytest.mark.skipif(not (ROOT / "sample_models" / "digits_cnn").exists(), reason="sample models not built")
@pytest.mark.parametrize("path", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_builtin_recipe_paths_exist(path):
    load_recipe(path)


@pytest.mark.parametrize("path", SEARCH_BUILTIN, ids=[p.stem for p in SEARCH_BUILTIN])
def test_builtin_search_recipe_validates_every_combination(path):
    from optimize_cli.recipe.space import load_space

    every: list = []
    space, r = load_space(path, check_paths=(ROOT / "sample_models" / "digits_cnn").exists(), every=every)
    assert r.name == path.stem and r.description and "\n" not in r.description
    assert len(every) >= 2 and space.config.trials <= 8  # small enough to try on the sample model


def test_builtin_recipes_are_search_recipes_exactly_when_named_search():
    import yaml

    from optimize_cli.recipe.space import has_search

    assert SEARCH_BUILTIN
    for p in ALL_BUILTIN:
        assert has_search(yaml.safe_load(p.read_text())) == p.stem.startswith("search-"), p.name


def test_builtin_recipes_cover_every_path_of_the_tree():
    paths = set()
    for p in BUILTIN:
        r = load_recipe(p, check_paths=False)
        paths.add(tuple(r.stage_types) + (r.export.quantization,))
    for stages in [(), ("prune",), ("prune", "cluster"), ("cluster",)]:
        assert stages + ("int8",) in paths
    for stages in [("qat",), ("prune", "qat"), ("cluster", "qat"), ("prune", "cluster", "qat")]:
        assert stages + ("int8",) in paths


def test_recipe_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from optimize_cli.recipe import load_recipe, json_schema; json_schema(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
