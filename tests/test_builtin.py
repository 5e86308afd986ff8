"""builtin.recipe_path: built-in recipes and the example recipes are given by name wherever a recipe path is
accepted (the docs' and README's commands use them so). No TensorFlow."""
from __future__ import annotations

import yaml

from optimize_cli import builtin


def test_builtin_example_recipes_resolve_by_their_name():
    examples = builtin.example_files()
    assert {p.stem for p in examples} >= {"binary", "regression", "multi_output", "distill"}
    for p in examples:
        name = yaml.safe_load(p.read_text(encoding="utf-8"))["name"]
        assert name.startswith(builtin.EXAMPLE_PREFIX), p
        assert builtin.recipe_path(name) == p
        assert builtin.recipe_path(f"{name}.yaml") == p


def test_builtin_recipe_path_prefers_an_existing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example-binary.yaml").write_text("version: 1\n")
    assert builtin.recipe_path("example-binary.yaml").resolve() == tmp_path / "example-binary.yaml"
    assert builtin.recipe_path("example-nope").name == "example-nope"
    assert builtin.recipe_path("ptq-int8") == builtin.recipes_dir() / "ptq-int8.yaml"
