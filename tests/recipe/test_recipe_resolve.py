"""Derived values the recipe resolves: QAT scheme, export, preserve_sparsity, inference types."""
from __future__ import annotations

import pytest
from recipe_helpers import SHORTEST, error_of, write

from optimize_cli.recipe import (
    Recipe,
    check_rules,
    load_recipe,
)

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
