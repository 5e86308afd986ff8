"""Each stage's `resolve()`: its derived defaults and the rules that concern it, computed once, and the
same values in the loaded recipe, in what the stage fits with and in what it records. No TensorFlow."""
from __future__ import annotations

import pytest

from optimize_cli.recipe import TrainingConfig
from optimize_cli.stages import ClusterStage, PruneStage, QatStage, stage_module


def resolved(params, previous=(), **training):
    problems = stage_module(params.type).resolve(params, list(previous), TrainingConfig(**training))
    return params, problems


def test_stage_resolve_learning_rate_defaults_per_stage():
    """Unset everywhere: each stage's own default (prune: training's 1e-3; cluster and qat: 1e-4)."""
    assert [resolved(S())[0].learning_rate for S in (PruneStage, ClusterStage, QatStage)] == [1e-3, 1e-4, 1e-4]
    assert resolved(QatStage(learning_rate=5e-3), learning_rate=2e-3)[0].learning_rate == pytest.approx(5e-3)


def test_stage_resolve_explicit_training_learning_rate_applies_to_every_stage():
    """Issue 10.8: `training.learning_rate: 1e-4` ran clustering and QAT at 1e-5 (a tenth of it)."""
    for S in (PruneStage, ClusterStage, QatStage):
        assert resolved(S(), learning_rate=1e-4)[0].learning_rate == pytest.approx(1e-4), S
        assert resolved(S(), learning_rate=2e-3)[0].learning_rate == pytest.approx(2e-3), S
    assert resolved(ClusterStage(learning_rate=3e-4), learning_rate=2e-3)[0].learning_rate == pytest.approx(3e-4)


def test_stage_resolve_batch_size_defaults_from_training():
    assert resolved(PruneStage(), batch_size=48)[0].batch_size == 48
    assert resolved(PruneStage(batch_size=8), batch_size=48)[0].batch_size == 8


def test_stage_resolve_is_idempotent():
    p, _ = resolved(ClusterStage(), ["prune"], learning_rate=1e-2)
    again, problems = resolved(p.model_copy(), ["prune"], learning_rate=5.0)  # filled values are kept
    assert again == p and problems == []


@pytest.mark.parametrize("previous, preserve", [((), False), (("prune",), True)])
def test_stage_resolve_cluster_preserve_sparsity_follows_the_path(previous, preserve):
    p, problems = resolved(ClusterStage(), previous)
    assert p.preserve_sparsity is preserve and problems == []


def test_stage_resolve_cluster_rules_after_prune():
    _, problems = resolved(ClusterStage(preserve_sparsity=False), ["prune"])
    assert [(parts, key_line) for parts, _, key_line in problems] == [(["preserve_sparsity"], True)]
    _, problems = resolved(ClusterStage(clusters=2), ["prune"])
    assert problems[0][0] == ["clusters"] and "must be > 2 when preserving sparsity (got 2)" in problems[0][1]
    assert resolved(ClusterStage(clusters=2), [])[1] == []


def test_stage_resolve_reports_bad_skip_layer_patterns():
    _, problems = resolved(PruneStage(skip_layers=["ok", "("]))
    assert problems[0][0] == ["skip_layers", 1] and problems[0][1].startswith("not a valid regular expression")


def test_stage_resolve_recipe_holds_what_the_stage_resolves(tmp_path):
    """The loaded recipe's stages are resolved by the same functions: one place gives the learning rate
    and preserve_sparsity that recipe.resolved.yaml shows, the fit uses and the record keeps."""
    from optimize_cli.recipe import load_recipe

    (tmp_path / "m").mkdir()
    (tmp_path / "d.npz").write_bytes(b"")
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nmodel: m\ndata: {train: {path: d.npz}}\ntraining: {learning_rate: 3.0e-3}\n"
                    "stages: [prune, cluster, qat]\n")
    recipe = load_recipe(path)
    for i, st in enumerate(recipe.stages):
        again, _ = resolved(type(st)(**{"type": st.type}), recipe.stage_types[:i], learning_rate=3e-3)
        assert st == again
    assert [st.learning_rate for st in recipe.stages] == pytest.approx([3e-3, 3e-3, 3e-3])
    assert recipe.stages[1].preserve_sparsity is True


def test_stage_resolve_resolved_recipe_shows_the_rate_each_stage_uses(tmp_path):
    """The tutorials' recipe (training.learning_rate: 1e-4, one stage with its own rate): recipe.resolved.yaml
    names the rate every stage fits with, and loading it again gives the same rates."""
    import yaml

    from optimize_cli.recipe import load_recipe

    (tmp_path / "m").mkdir()
    (tmp_path / "d.npz").write_bytes(b"")
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nmodel: m\ndata: {train: {path: d.npz}}\ntraining: {learning_rate: 1.0e-4}\n"
                    "stages: [prune, cluster, {type: qat, learning_rate: 5.0e-5}]\n")
    text = load_recipe(path).resolved_yaml()
    assert [st["learning_rate"] for st in yaml.safe_load(text)["stages"]] == pytest.approx([1e-4, 1e-4, 5e-5])
    (tmp_path / "again.yaml").write_text(text)
    assert [st.learning_rate for st in load_recipe(tmp_path / "again.yaml").stages] == pytest.approx([1e-4, 1e-4, 5e-5])
    path.write_text("version: 1\nmodel: m\ndata: {train: {path: d.npz}}\nstages: [prune, cluster, qat]\n")
    assert [st.learning_rate for st in load_recipe(path).stages] == pytest.approx([1e-3, 1e-4, 1e-4])
    given = load_recipe(path, overrides=["training.learning_rate=1e-4"])
    assert [st.learning_rate for st in given.stages] == pytest.approx([1e-4, 1e-4, 1e-4])
