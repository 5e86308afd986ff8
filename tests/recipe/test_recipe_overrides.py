"""`--set KEY=VALUE` overrides."""
from __future__ import annotations

from pathlib import Path

import pytest
from recipe_helpers import FULL_HEAD, SHORTEST, error_of, write

from optimize_cli.errors import RecipeError
from optimize_cli.recipe import (
    load_recipe,
    parse_set,
)

# -------------------------------------------------------------------------------------- overrides


def test_parse_set_types_values_as_yaml():
    assert parse_set("a.b=0.6") == ("a.b", 0.6)
    assert parse_set("a=3") == ("a", 3)
    assert parse_set("a=true") == ("a", True)
    assert parse_set("a=[prune, qat]") == ("a", ["prune", "qat"])
    assert parse_set("a=x=y") == ("a", "x=y")
    assert parse_set("a=") == ("a", "")
    assert parse_set("a='0.6'") == ("a", "0.6")


@pytest.mark.parametrize("item, message", [
    ("stages.0.target_sparsity", "expected KEY=VALUE"),
    ("stages.0.target_sparsity=[1", "is not valid YAML"),
])
def test_parse_set_rejects_malformed_items(item, message):
    with pytest.raises(RecipeError, match=message.replace("[", r"\[")):
        parse_set(item)


def test_set_overrides_dotted_keys_list_indexes_and_types(work):
    path = write(work, SHORTEST)
    r = load_recipe(path, [
        "stages.0.target_sparsity=0.6",   # a bare stage type becomes a mapping
        "stages.1.clusters=8",
        "stages.-1.epochs=2",             # negative index
        "training.batch_size=32",
        "training.optimizer=sgd",
        "training.freeze_batchnorm=false",
        "gates.max_latency_ms=5",         # a section that is not in the file
        "description=tuned",
    ])
    assert r.stages[0].target_sparsity == 0.6 and r.stages[0].epochs == 20
    assert r.stages[1].clusters == 8 and r.stages[2].epochs == 2
    assert (r.training.batch_size, r.training.optimizer, r.training.freeze_batchnorm) == (32, "sgd", False)
    assert r.gates.max_latency_ms == 5.0
    assert r.description == "tuned"


def test_set_overrides_a_whole_list(work):
    r = load_recipe(write(work, SHORTEST), ["stages=[prune, qat]"])
    assert r.stage_types == ["prune", "qat"] and r.qat_scheme == "PQAT"


def test_set_does_not_change_a_value_shared_through_a_yaml_alias(work):
    text = FULL_HEAD.replace("  train: {type: npz, path: data.npz, x: x_train, y: y_train}",
                             "  train: &d {type: npz, path: data.npz, x: x_train, y: y_train}") \
        .replace("  eval: {type: npz, path: data.npz, x: x_test, y: y_test}", "  eval: *d") + "stages: [prune]\n"
    r = load_recipe(write(work, text), ["data.eval.x=x_test"])
    assert (r.data.train.x, r.data.eval.x) == ("x_train", "x_test")


@pytest.mark.parametrize("item, message", [
    ("stages.7.epochs=1", "--set stages.7.epochs: stages[7] does not exist (the list has 3 items)"),
    ("stages.-4.epochs=1", "stages[-4] does not exist"),
    ("data.train.path.x=1", "--set data.train.path.x: data.train.path is not a mapping"),
    ("stages.x=1", "--set stages.x: stages is not a mapping"),
    ("training.0=1", "--set training.0: training is not a list"),
    ("stages..epochs=1", "the key must be a dotted path"),
    ("=1", "the key must be a dotted path"),
])
def test_set_bad_keys_and_indexes_are_recipe_errors(work, item, message):
    path = write(work, SHORTEST)
    with pytest.raises(RecipeError) as info:
        load_recipe(path, [item])
    assert str(info.value).startswith(f"{path}: --set ")  # the file is named too: validate takes many
    assert message in str(info.value)


def test_set_bad_values_name_the_option_instead_of_a_line(work):
    path = write(work, SHORTEST)
    msg = error_of(path, overrides=["stages.0.target_sparsity=1.5"])
    assert msg == f"{path}: stages[0].target_sparsity: must be < 1.0 (got 1.5) (from --set stages.0.target_sparsity)"
    msg = error_of(path, overrides=["trainng.batch_size=1"])
    assert msg == f"{path}: trainng: unknown key (did you mean 'training'?) (from --set trainng.batch_size)"
    msg = error_of(path, overrides=["training.batch_size.x=1"])
    assert msg == (f"{path}: training.batch_size: must be an integer (got {{'x': 1}}) "
                   "(from --set training.batch_size.x)")
    msg = error_of(path, overrides=["export.quantization=float16"])
    assert "is not reachable after qat" in msg and "(from --set export.quantization)" in msg


def test_set_problem_elsewhere_still_has_its_line(work):
    path = write(work, SHORTEST.replace("[prune, cluster, qat]", "[prune, {type: cluster, clusters: 1}]"))
    msg = error_of(path, overrides=["stages.0.epochs=3"])
    assert msg.startswith(f"{path}:5: stages[1].clusters: must be >= 2 (got 1)")


def test_set_paths_are_relative_to_the_current_directory_also_on_a_builtin_recipe(tmp_path, monkeypatch):
    """`--set data.train.path=own/x.npz` on a built-in recipe means ./own/x.npz, like --model, not a path
    inside the recipe's folder (site-packages for an installed tool)."""
    from optimize_cli.builtin import recipe_path

    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "x.npz").write_bytes(b"")
    (tmp_path / "own" / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    builtin = recipe_path("prune-ptq")
    r = load_recipe(builtin, ["data.train.path=own/x.npz", "data.eval={path: own/x.npz, x: a, y: b}",
                              "training.tensorboard=tb", "tracking.mlflow=mlruns"], model="own/model")
    assert r.data.train.path == str(tmp_path / "own" / "x.npz")
    assert r.data.eval.path == str(tmp_path / "own" / "x.npz") and r.data.eval.x == "a"
    assert r.model == str(tmp_path / "own" / "model")
    assert r.training.tensorboard == str(tmp_path / "tb")
    assert r.tracking.mlflow == (tmp_path / "mlruns").as_uri()
    # what the recipe file itself names keeps resolving against the recipe's folder
    assert load_recipe(builtin, check_paths=False).data.train.path == str(
        (Path(builtin).parent / "../sample_models/digits.npz").resolve())
    # a URI is kept, and a missing path is said at the option with the path it was taken as
    assert load_recipe(builtin, ["tracking.mlflow=http://host:5000"], check_paths=False).tracking.mlflow == \
        "http://host:5000"
    msg = error_of(builtin, overrides=["data.train.path=own/missing.npz"])
    assert msg.endswith(f"data.train.path: path does not exist: {tmp_path / 'own' / 'missing.npz'} (from --set "
                        "data.train.path)"), msg


def test_set_on_a_non_path_key_is_not_taken_as_a_path(work):
    r = load_recipe(write(work, SHORTEST), ["name=model", "data.train.x=data"])
    assert (r.name, r.data.train.x) == ("model", "data")
