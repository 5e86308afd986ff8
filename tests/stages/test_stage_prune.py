"""prune on the tiny model: the schedule plan, sparsity reached, skipped layers, determinism."""
from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import (
    PRUNABLE,
    keras_accuracy,
    kernel,
    simulate_tfmot_updates,
    sparsity,
)

from optimize_cli.errors import RecipeError, StageError
from optimize_cli.stages import PruneStage, run_stage
from optimize_cli.stages.prune import plan_schedule

# ---------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize("epochs,spe", [(1, 1), (1, 5), (2, 3), (3, 10), (12, 8), (20, 8), (30, 157)])
def test_prune_schedule_reaches_target_with_recovery(epochs, spe):
    plan = plan_schedule(PruneStage(epochs=epochs), epochs * spe)
    updates = simulate_tfmot_updates(plan)
    assert updates and updates[-1] == plan["end_step"], plan  # the last update is where the target is reached
    assert plan["end_step"] <= plan["total_steps"]
    if plan["total_steps"] >= 3:
        assert plan["end_step"] < plan["total_steps"], "no recovery steps at full sparsity"
        assert len(updates) >= 2 or plan["total_steps"] < 6


def test_prune_schedule_honours_explicit_values():
    plan = plan_schedule(PruneStage(epochs=4, begin_step=2, end_step=22, frequency=5), 40)
    assert (plan["begin_step"], plan["end_step"], plan["frequency"]) == (2, 22, 5)
    assert simulate_tfmot_updates(plan)[-1] == 22
    plan = plan_schedule(PruneStage(epochs=4, end_step=30), 40)
    assert simulate_tfmot_updates(plan)[-1] == 30
    plan = plan_schedule(PruneStage(epochs=4, frequency=7), 40)
    assert simulate_tfmot_updates(plan)[-1] == plan["end_step"] < 40


@pytest.mark.parametrize("kw,words", [
    ({"end_step": 50}, "end_step 50 is after the last training step"),
    ({"end_step": 30, "frequency": 7}, "not a multiple of frequency"),
    ({"frequency": 41}, "masks would never be updated"),
    ({"begin_step": 40}, "pruning would never start"),
])
def test_prune_schedule_rejects_unreachable_explicit_values(kw, words):
    with pytest.raises(StageError, match=words):
        plan_schedule(PruneStage(epochs=4, **kw), 40)


# ------------------------------------------------------------------------------------------- prune


@pytest.mark.slow
def test_prune_reaches_target_sparsity_in_each_kernel(pruned):
    for name in PRUNABLE:
        assert sparsity(kernel(pruned.model, name)) >= 0.5 - 0.01, name
    assert "PolynomialDecay 0.00→0.50" in pruned.scheme
    assert pruned.details["end_step"] < pruned.details["total_steps"]
    assert set(pruned.details["pruned_layers"]) == set(PRUNABLE)


def test_prune_strips_wrappers_and_keeps_the_input_model(pruned, tiny_model):
    assert [type(la).__name__ for la in pruned.model.layers] == [type(la).__name__ for la in tiny_model.layers]
    assert sparsity(kernel(tiny_model, "conv")) < 0.1  # the input model was not modified


def test_prune_reports_depthwise_as_skipped(pruned):
    skipped = {s["name"]: s for s in pruned.skipped_layers}
    assert skipped["dw"]["class"] == "DepthwiseConv2D"
    assert "depthwise" in skipped["dw"]["reason"]
    assert sparsity(kernel(pruned.model, "dw")) < 0.1
    assert "bn" not in skipped  # BatchNorm has no kernel: nothing to report


@pytest.mark.slow
def test_prune_keeps_accuracy_of_tiny_model(pruned, tiny_model, digits_data):
    _, _, x, y = digits_data
    assert keras_accuracy(pruned.model, x, y) >= keras_accuracy(tiny_model, x, y) - 0.1


@pytest.mark.slow
def test_prune_skip_layers_by_name_and_regex(tiny_model, make_ctx):
    res = run_stage(tiny_model, PruneStage(target_sparsity=0.6, epochs=1, skip_layers=["pw", "o.t"]),
                    make_ctx(index=1, samples=96))
    skipped = {s["name"]: s["reason"] for s in res.skipped_layers}
    assert "skip_layers 'pw'" in skipped["pw"] and "skip_layers 'o.t'" in skipped["out"]
    assert sparsity(kernel(res.model, "pw")) < 0.1 and sparsity(kernel(res.model, "out")) < 0.1
    assert sparsity(kernel(res.model, "conv")) >= 0.6 - 0.01


def test_prune_unknown_skip_layer_is_an_error(tiny_model, make_ctx):
    with pytest.raises(RecipeError, match="no layer named 'nope'"):
        run_stage(tiny_model, PruneStage(epochs=1, skip_layers=["nope"]), make_ctx(index=1))


@pytest.mark.slow
def test_prune_diverging_training_raises_stage_error_naming_epoch(tiny_model, make_ctx):
    """Divergence by arithmetic, not by how a CPU's kernels treat NaN: Adam's first step moves every weight
    by ~learning_rate (10), so the next batch's logits are ~1e9 and its loss far past 1000x the first."""

    with pytest.raises(StageError, match=r"stage 1 \(prune\): training diverged at epoch 1/2 \(loss exploded"):
        run_stage(tiny_model, PruneStage(epochs=2, learning_rate=10), make_ctx(index=1, samples=96))


@pytest.mark.slow
def test_prune_m_by_n_structured_sparsity(tiny_model, make_ctx):
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    from optimize_cli.tf import tf

    res = run_stage(tiny_model, PruneStage(sparsity_m_by_n=(2, 4), epochs=1), make_ctx(index=1, samples=96))
    assert res.scheme.startswith("2:4 structured sparsity")
    for name in ("pw", "out"):
        k = kernel(res.model, name)
        assert sparsity(k) >= 0.5 - 0.01
        assert bool(pruning_utils.is_pruned_m_by_n(tf.constant(k), (2, 4)))


@pytest.mark.slow
def test_prune_constant_schedule_reaches_target(tiny_model, make_ctx):
    res = run_stage(tiny_model, PruneStage(schedule="constant", target_sparsity=0.7, epochs=1),
                    make_ctx(index=1, samples=96))
    assert res.scheme.startswith("ConstantSparsity 0.70")
    for name in PRUNABLE:
        assert sparsity(kernel(res.model, name)) >= 0.7 - 0.01, name


@pytest.mark.slow
def test_prune_is_deterministic_given_seed(tiny_model, make_ctx):
    a = run_stage(tiny_model, PruneStage(epochs=1), make_ctx(index=1, samples=96))
    b = run_stage(tiny_model, PruneStage(epochs=1), make_ctx(index=1, samples=96))
    np.testing.assert_allclose(kernel(a.model, "out"), kernel(b.model, "out"), atol=1e-6)
