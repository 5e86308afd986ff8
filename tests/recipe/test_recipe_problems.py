"""Error messages: file:line: path: message, did you mean, one line each."""
from __future__ import annotations

import json

import pytest
from recipe_helpers import FULL_HEAD, SHORTEST, error_of, problems_of, write

from optimize_cli.recipe import (
    Problem,
    load_recipe,
)

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
                   "valid: filter_prune, prune, cluster, qat")


def test_error_unknown_stage_type_without_a_close_match(work):
    msg = error_of(write(work, SHORTEST.replace("[prune, cluster, qat]", "[{type: distill}]")))
    assert "unknown stage type 'distill'; valid: filter_prune, prune, cluster, qat" in msg


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
