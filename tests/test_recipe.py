"""The recipe language: loading with defaults, paths, derived values, --set overrides, error messages,
the built-in recipes and the JSON Schema. Never imports TensorFlow."""
from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from optimize_cli.errors import RecipeError
from optimize_cli.recipe import (
    Problem,
    Recipe,
    RecipeProblems,
    check_rules,
    json_schema,
    load_recipe,
    parse_set,
)

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with a stand-in model directory and data file (the validator only checks they exist)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "data.npz").write_bytes(b"")
    return tmp_path


def write(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


SHORTEST = """\
version: 1
model: model
data:
  train: {path: data.npz}
stages: [prune, cluster, qat]
"""

FULL_HEAD = """\
version: 1
model: model
data:
  train: {type: npz, path: data.npz, x: x_train, y: y_train}
  eval: {type: npz, path: data.npz, x: x_test, y: y_test}
"""


def problems_of(path: Path, **kw) -> RecipeProblems:
    with pytest.raises(RecipeProblems) as info:
        load_recipe(path, **kw)
    return info.value


def error_of(path: Path, **kw) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, **kw)
    text = str(info.value)
    assert "\n" not in text
    return text


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
    # resolved: prune fine-tunes at training.learning_rate, cluster and qat at a tenth of it
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


# ---------------------------------------------------------------------------------- derived values


@pytest.mark.parametrize(
    "stages, scheme",
    [("[qat]", "QAT"), ("[prune, qat]", "PQAT"), ("[cluster, qat]", "CQAT"), ("[prune, cluster, qat]", "PCQAT"),
     ("[prune]", None), ("[]", None)],
)
def test_recipe_qat_scheme_follows_from_the_path(work, stages, scheme):
    r = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]", stages)))
    assert r.qat_scheme == scheme


@pytest.mark.parametrize("stages", ["[qat]", "[prune, qat]", "[cluster, qat]", "[prune, cluster, qat]"])
def test_recipe_export_is_int8_after_qat(work, stages):
    r = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]", stages)))
    assert r.export.quantization == "int8"


@pytest.mark.parametrize("q", ["none", "dynamic", "float16", "int16x8"])
def test_recipe_export_other_than_int8_after_qat_is_an_error(work, q):
    path = write(work, SHORTEST + f"export: {{quantization: {q}}}\n")
    assert f"export.quantization: '{q}' is not reachable after qat" in error_of(path)


def test_recipe_preserve_sparsity_defaults_true_after_prune_only(work):
    after_prune = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]", "[prune, cluster]")))
    assert after_prune.stages[1].preserve_sparsity is True
    alone = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]", "[cluster]")))
    assert alone.stages[0].preserve_sparsity is False
    explicit = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]",
                                                        "[{type: cluster, preserve_sparsity: true}]")))
    assert explicit.stages[0].preserve_sparsity is True


@pytest.mark.parametrize(
    "q, io", [("int8", "int8"), ("int16x8", "int16"), ("dynamic", "float32"), ("float16", "float32"), ("none", "float32")]
)
def test_recipe_inference_types_default_from_the_quantization(work, q, io):
    r = load_recipe(write(work, SHORTEST.replace("[prune, cluster, qat]", "[]") + f"export: {{quantization: {q}}}\n"))
    assert (r.export.inference_input_type, r.export.inference_output_type) == (io, io)


def test_recipe_post_training_only_needs_no_training_data(work):
    text = "version: 1\nmodel: model\nexport: {quantization: dynamic}\n"
    r = load_recipe(write(work, text))
    assert r.stages == [] and r.data.train is None


def test_recipe_resolved_yaml_is_a_valid_recipe_and_a_fixed_point(work):
    r = load_recipe(write(work, SHORTEST))
    again = load_recipe(write(work, r.resolved_yaml(), name="resolved.yaml"))
    d1, d2 = r.resolved_dict(), again.resolved_dict()
    d1.pop("name"), d2.pop("name")
    assert d1 == d2


def test_recipe_check_rules_is_callable_on_its_own(work):
    r = Recipe.model_validate({"version": 1, "model": "model", "stages": ["qat", "prune"]})
    rules = check_rules(r, base=work, check_paths=True)
    locs = [p.loc for p in rules]
    assert "stages[1].type" in locs and "data.train" in locs


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


# -------------------------------------------------------------------------------- error messages


def test_error_format_is_file_line_path_message_for_nested_errors(work):
    path = write(work, FULL_HEAD + "stages:\n  - prune\n  - type: cluster\n    clusters: 1\n")
    err = problems_of(path)
    assert str(err) == f"{path}:9: stages[1].clusters: must be >= 2 (got 1)"
    assert err.problems == [Problem("stages[1].clusters", "must be >= 2 (got 1)", 9)]
    assert err.file == str(path)


def test_error_rule_violations_have_the_same_format(work):
    path = write(work, FULL_HEAD + "stages:\n  - prune\n  - type: cluster\n    clusters: 2\n")
    assert str(problems_of(path)).startswith(f"{path}:9: stages[1].clusters: must be > 2 when preserving sparsity")


def test_error_several_problems_are_all_kept_and_sorted_by_line(work):
    path = write(work, FULL_HEAD + "training:\n  batch_size: 0\n  optimizer: adamw\nstages:\n  - {type: prune, epochs: 0}\n")
    err = problems_of(path)
    assert [(p.loc, p.line) for p in err.problems] == [
        ("training.batch_size", 7), ("training.optimizer", 8), ("stages[0].epochs", 10)]
    assert str(err).endswith("(and 2 more problems)")
    assert "\n" not in str(err)


def test_error_one_more_problem_is_singular(work):
    path = write(work, FULL_HEAD + "training: {batch_size: 0, seed: -1}\n")
    assert str(problems_of(path)).endswith("(and 1 more problem)")


@pytest.mark.parametrize("text, message", [
    ("modle: model\n", "modle: unknown key (did you mean 'model'?)"),
    ("traning: {}\n", "traning: unknown key (did you mean 'training'?)"),
    ("training: {batchsize: 3}\n", "training.batchsize: unknown key (did you mean 'batch_size'?)"),
    ("export: {quantisation: int8}\n", "export.quantisation: unknown key (did you mean 'quantization'?)"),
    ("stages: [{type: cluster, cluster: 8}]\n", "stages[0].cluster: unknown key (did you mean 'clusters'?)"),
    ("stages: [{type: prune, sparsity: 0.5}]\n", "stages[0].sparsity: unknown key"),
    ("data: {train: {path: data.npz, pth: x}}\n", "data.train.pth: unknown key (did you mean 'path'?)"),
    ("batch_size: 3\n", "batch_size: unknown key here: 'batch_size' belongs in training or a stage"),
    ("epochs: 3\n", "epochs: unknown key here: 'epochs' belongs in a stage"),
    ("stages: [{type: prune, clusters: 8}]\n", "stages[0].clusters: unknown key here: 'clusters' belongs in a cluster stage"),
    ("training: {x: a.npz}\n", "training.x: unknown key here: 'x' belongs in a data source"),
    ("zzz: 3\n", "zzz: unknown key; valid keys: version, name, description, model, data, training, stages"),
])
def test_error_did_you_mean_for_keys(work, text, message):
    base = "version: 1\nmodel: model\n"
    assert message in error_of(write(work, base + text))


@pytest.mark.parametrize("typ, hint", [("prunning", "prune"), ("clustering", "cluster"), ("quat", "qat")])
def test_error_did_you_mean_for_stage_types(work, typ, hint):
    path = write(work, SHORTEST.replace("[prune, cluster, qat]", f"[{typ}]"))
    msg = error_of(path)
    assert msg == (f"{path}:5: stages[0].type: unknown stage type '{typ}' (did you mean '{hint}'?); "
                   "valid: prune, cluster, qat")


def test_error_unknown_stage_type_without_a_close_match(work):
    msg = error_of(write(work, SHORTEST.replace("[prune, cluster, qat]", "[{type: distill}]")))
    assert "unknown stage type 'distill'; valid: prune, cluster, qat" in msg


@pytest.mark.parametrize("value, message", [
    (".nan", "must be a finite number (got .nan)"),
    (".inf", "must be a finite number (got .inf)"),
    ("-.inf", "must be a finite number (got -.inf)"),
    ("true", "must be a number, not true"),
    ("[0.5]", "must be a number (got [0.5])"),
    ("half", "must be a number (got 'half')"),
])
def test_error_bad_numbers(work, value, message):
    path = write(work, SHORTEST.replace("[prune, cluster, qat]", f"[{{type: prune, target_sparsity: {value}}}]"))
    assert f"stages[0].target_sparsity: {message}" in error_of(path)


@pytest.mark.parametrize("section", ["gates: {max_accuracy_drop: .inf}", "gates: {max_latency_ms: .nan}",
                                     "training: {learning_rate: .nan}", "evaluation: {threads: .inf}"])
def test_error_non_finite_numbers_everywhere(work, section):
    text = FULL_HEAD + section + "\n"
    assert "must be a finite number" in error_of(write(work, text))


def test_error_long_values_are_shortened(work):
    path = write(work, "version: 1\nmodel: model\ndescription: " + json.dumps({"a": list(range(1000))}) + "\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}:3: description: must be a string (got ") and len(msg) < 300


def test_error_duplicate_keys(work):
    path = write(work, "version: 1\nmodel: model\nexport: {quantization: dynamic}\nmodel: other\n")
    assert error_of(path) == (f"{path}:4: model: duplicate key (first at line 2); YAML would silently keep "
                              "only the last one")


def test_error_keys_that_are_not_names(work):
    path = write(work, "version: 1\nmodel: model\ntraining:\n  1: 2\n")
    assert error_of(path).startswith(f"{path}:4: training: key '1' is a number, not a name")


def test_yaml_merge_keys_are_allowed(work):
    text = ("version: 1\nmodel: model\nx-defaults: &base {type: npz, path: data.npz}\n"
            "data:\n  train: {<<: *base, x: x_train}\nstages: [prune]\n")
    # an extra top-level key for anchors is still an unknown key ...
    assert "x-defaults: unknown key" in error_of(write(work, text))
    # ... but merging into a mapping works
    text = ("version: 1\nmodel: model\ndata:\n  train: &base {type: npz, path: data.npz, x: a}\n"
            "  eval: {<<: *base, x: b}\nstages: [prune]\n")
    r = load_recipe(write(work, text))
    assert (r.data.train.x, r.data.eval.x) == ("a", "b")


@pytest.mark.parametrize("text, message", [
    (b"", "the recipe is empty"),
    (b"# only a comment\n", "the recipe is empty"),
    (b"- a\n- b\n", ":1: the recipe must be a mapping of keys (version, model, data, stages, ...), not a list"),
    (b"just text\n", "not a string"),
    (b"version: [1\n", "YAML syntax error"),
    (b"version: 1\n\tmodel: x\n", ":2: YAML syntax error: a tab character: indent YAML with spaces, not tabs"),
    (b"version: 1\n---\nversion: 1\n", ":2: YAML syntax error: a recipe is one YAML document"),
    (b"version: 1\nmodel: \xff\xfe\n", ":2: not a UTF-8 text file"),
    (b"version: 1\nmodel: \"a\x00\"\n", ":2: YAML syntax error: unacceptable character #x0000"),
    (b"version: !!python/object:os.system x\n", "YAML syntax error"),
    (b"version: " + b"9" * 5000 + b"\n", ":1: a number with thousands of digits cannot be read"),
    (b"a: " + b"[" * 1200 + b"]" * 1200 + b"\n", "nested too deeply"),
])
def test_error_unreadable_documents(work, text, message):
    path = work / "recipe.yaml"
    path.write_bytes(text)
    assert message in error_of(path)


def test_error_recipe_file_not_found_or_a_directory(work):
    assert error_of(work / "nope.yaml") == f"{work / 'nope.yaml'}: recipe file not found"
    assert error_of(work / "model") == f"{work / 'model'}: is a directory, not a recipe file"


def test_error_version(work):
    assert "version: required: add 'version: 1'" in error_of(write(work, "model: model\n"))
    assert "version: unsupported recipe version 2: this optimize-cli reads version 1" in error_of(
        write(work, "version: 2\nmodel: model\n"))
    assert "version: must be a number, not true" in error_of(
        write(work, "version: true\nmodel: model\nexport: {quantization: none}\n"))


def test_error_missing_key_points_at_the_mapping_it_is_missing_from(work):
    path = write(work, "version: 1\nmodel: model\ndata:\n  eval: {path: data.npz}\nstages: [prune]\n"
                       "export: {quantization: dynamic}\n")
    assert error_of(path).startswith(f"{path}:3: data.train: required: stage 'prune' fine-tunes the model")


def test_error_default_int8_without_calibration_data_says_how_to_avoid_it(work):
    msg = error_of(write(work, "version: 1\nmodel: model\n"))
    assert "int8 needs calibration data" in msg and "int8 is the default export" in msg


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


def test_builtin_recipes_cover_every_path_of_the_tree():
    paths = set()
    for p in BUILTIN:
        r = load_recipe(p, check_paths=False)
        paths.add(tuple(r.stage_types) + (r.export.quantization,))
    for stages in [(), ("prune",), ("prune", "cluster"), ("cluster",)]:
        assert stages + ("int8",) in paths
    for stages in [("qat",), ("prune", "qat"), ("cluster", "qat"), ("prune", "cluster", "qat")]:
        assert stages + ("int8",) in paths


# ------------------------------------------------------------------------------------ JSON Schema


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_json_and_names_itself():
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["title"] == "optimize-cli recipe"
    assert {"version", "model", "data", "training", "stages", "export", "evaluation", "gates"} <= set(schema["properties"])


@pytest.mark.parametrize("path", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_schema_accepts_builtin_recipe(validator, path):
    validator.validate(yaml.safe_load(path.read_text()))


def test_schema_accepts_the_shortest_recipe_and_empty_sections(validator):
    validator.validate(yaml.safe_load(SHORTEST + "training:\nexport:\n"))


@pytest.mark.parametrize("patch", [
    {"modle": "x"},
    {"version": 2},
    {"stages": ["prunee"]},
    {"stages": [{"type": "prune", "target_sparsity": 1.0}]},
    {"stages": [{"type": "cluster", "clusters": 1}]},
    {"stages": [{"epochs": 3}]},
    {"stages": [{"type": "prune", "targt_sparsity": 0.5}]},
    {"training": {"optimizer": "adamw"}},
    {"training": {"batch_size": "many"}},
    {"export": {"quantization": "int4"}},
    {"data": {"train": {"type": "csv", "path": "x"}}},
    {"gates": {"max_accuracy_drop": -1}},
])
def test_schema_rejects_bad_recipes(validator, patch):
    doc = yaml.safe_load(SHORTEST)
    doc.update(patch)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_schema_describes_every_stage_parameter():
    defs = json_schema()["$defs"]
    for name in ("PruneStage", "ClusterStage", "QatStage"):
        for field, spec in defs[name]["properties"].items():
            if field != "type":
                assert spec.get("description"), f"{name}.{field} has no description"


def test_recipe_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from optimize_cli.recipe import load_recipe, json_schema; json_schema(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
