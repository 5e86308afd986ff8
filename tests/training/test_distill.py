"""training/distill.py: the input model teaches every stage through training/fit.py (KL at temperature T for
classifiers, MSE for regression; alpha = 1 is plain training)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimize_cli.stages import run_stage
from optimize_cli.training.distill import DistillConfig, effective

ROOT = Path(__file__).resolve().parents[2]


def test_distill_stage_setting_overrides_training():
    from optimize_cli.recipe import TrainingConfig
    from optimize_cli.stages import PruneStage

    tr = TrainingConfig(distill={"alpha": 0.3})
    assert effective(PruneStage().distill, tr) == DistillConfig(alpha=0.3, temperature=4.0)
    own = PruneStage(distill={"alpha": 0.9, "temperature": 2}).distill
    assert effective(own, tr) == own and effective(None, TrainingConfig()) is None


def test_distill_soft_loss_reads_softmax_and_logits_alike():
    """log-probabilities are logits up to a constant: the same KL from softmax outputs and from logits."""
    from optimize_cli.tf import tf
    from optimize_cli.training.distill import soft_loss

    rng = np.random.default_rng(0)
    zt, zs = (tf.constant(rng.normal(size=(6, 5)), tf.float32) for _ in range(2))
    from_logits = soft_loss(zt, zs, temperature=3.0, from_logits=True, regression=False)
    from_probs = soft_loss(tf.nn.softmax(zt), tf.nn.softmax(zs), temperature=3.0, from_logits=False,
                           regression=False)
    assert float(from_logits) == pytest.approx(float(from_probs), rel=1e-4)
    pt, ps = tf.nn.softmax(zt / 3.0).numpy(), tf.nn.softmax(zs / 3.0).numpy()
    want = 9.0 * np.mean(np.sum(pt * (np.log(pt) - np.log(ps)), axis=-1))
    assert float(from_logits) == pytest.approx(want, rel=1e-4)
    assert float(soft_loss(zt, zt, temperature=3.0, from_logits=True, regression=False)) == pytest.approx(0, abs=1e-6)


def test_distill_regression_uses_mse_to_the_teacher():
    from optimize_cli.tf import tf
    from optimize_cli.training.distill import is_regression, soft_loss

    t, s = tf.constant([[1.0], [3.0]]), tf.constant([[2.0], [1.0]])
    assert is_regression("mean_squared_error") and is_regression("mae")
    assert not is_regression("sparse_categorical_crossentropy")
    assert float(soft_loss(t, s, temperature=4.0, from_logits=False, regression=True)) == pytest.approx(2.5)


def _fit_copy(tiny_model, make_ctx, distill, epochs=2):
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.tf import keras
    from optimize_cli.training.fit import fit

    model = copy_model(tiny_model)
    ctx = make_ctx(samples=64)
    if distill is not None:
        ctx.distill, ctx.teacher = DistillConfig(**distill), copy_model(tiny_model)
    keras.utils.set_random_seed(7)
    hist = fit(model, ctx, "prune", label="stage 1 (prune)", epochs=epochs, learning_rate=3e-3, batch_size=32)
    return model, hist


@pytest.mark.slow
def test_distill_alpha_one_equals_plain_training(tiny_model, make_ctx):
    plain, h0 = _fit_copy(tiny_model, make_ctx, None)
    hard, h1 = _fit_copy(tiny_model, make_ctx, {"alpha": 1.0})
    for a, b in zip(plain.get_weights(), hard.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert h1.metrics["loss"] == pytest.approx(h0.metrics["loss"], rel=1e-4)
    assert h1.metrics["accuracy"] == pytest.approx(h0.metrics["accuracy"])


@pytest.mark.slow
def test_distill_prune_stage_trains_with_the_teacher(tiny_model, make_ctx):
    """A prune stage (tfmot's UpdatePruningStep walks the wrapper) distils: the target sparsity is reached
    and the loss differs from the same stage without distillation."""
    from optimize_cli.stages import PruneStage
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.tf import keras

    def run(distill):
        ctx = make_ctx(samples=96)
        if distill:
            ctx.distill, ctx.teacher = DistillConfig(alpha=0.2, temperature=4.0), copy_model(tiny_model)
        keras.utils.set_random_seed(3)
        return run_stage(tiny_model, PruneStage(target_sparsity=0.5, epochs=3), ctx)

    with_t, without = run(True), run(False)
    k = with_t.model.get_layer("pw").kernel.numpy()
    assert float(np.mean(k == 0)) == pytest.approx(0.5, abs=0.02)
    assert with_t.history.epochs == 3 and np.all(np.isfinite(with_t.history.metrics["loss"]))
    assert not np.allclose(with_t.history.metrics["loss"], without.history.metrics["loss"])
    assert not any(layer.name.startswith("distill_") for layer in with_t.model.layers)


@pytest.mark.slow
def test_distill_qat_stage_trains_with_the_teacher(tiny_model, make_ctx):
    """QAT wrappers compose with the distillation wrapper."""
    from optimize_cli.stages import QatStage
    from optimize_cli.stages.layers import copy_model

    ctx = make_ctx(samples=64)
    ctx.distill, ctx.teacher = DistillConfig(alpha=0.5), copy_model(tiny_model)
    res = run_stage(tiny_model, QatStage(epochs=1), ctx)
    assert res.history.epochs == 1 and np.isfinite(res.history.metrics["loss"][0])


@pytest.mark.slow
def test_distill_example_recipe_records_distillation(tmp_path):
    from click.testing import CliRunner

    from optimize_cli.cli import main
    from optimize_cli.report import validate_report

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "examples" / "distill.yaml"), "--output",
                                    str(out), "--quiet", "--json", "--set", "stages.0.epochs=1",
                                    "--set", "stages.1.epochs=1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    validate_report(rep)
    assert [s["distill"] for s in rep["stages"]] == [
        {"alpha": 0.5, "temperature": 4.0, "loss": "kl"}, {"alpha": 0.7, "temperature": 2.0, "loss": "kl"}]


def test_distill_settings_are_part_of_the_stage_fingerprint(tmp_path):
    """A checkpoint made with other distillation settings is not reused by --resume."""
    import yaml

    from optimize_cli.recipe import load_recipe
    from optimize_cli.run import fingerprint

    base = {"version": 1, "model": str(ROOT / "sample_models" / "digits_cnn"),
            "data": {"train": {"type": "npz", "path": str(ROOT / "sample_models" / "digits.npz"),
                               "x": "x_train", "y": "y_train"}},
            "stages": [{"type": "prune"}, {"type": "cluster"}]}

    def made(**changes):
        doc = yaml.safe_load(yaml.safe_dump(base))
        for key, value in changes.items():
            if key == "training":
                doc["training"] = value
            else:
                doc["stages"][1]["distill"] = value
        path = tmp_path / f"r{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(doc))
        r = load_recipe(path)
        return [fingerprint.stage_made_from(r, fingerprint.made_from(r), i) for i in (1, 2)]

    plain, by_training, by_stage = made(), made(training={"distill": {"alpha": 0.5}}), made(stage={"alpha": 0.5})
    assert plain[0] != by_training[0] and plain[1] != by_training[1]
    assert plain[0] == by_stage[0] and plain[1] != by_stage[1]   # only the stage that distils and after


def test_distill_refuses_a_model_with_two_outputs(make_ctx):
    from optimize_cli.errors import StageError
    from optimize_cli.tf import keras
    from optimize_cli.training.fit import fit

    inp = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inp)
    model = keras.Model(inp, [keras.layers.Dense(10)(h), keras.layers.Dense(1)(h)])
    ctx = make_ctx(samples=32)
    ctx.distill, ctx.teacher = DistillConfig(), model
    with pytest.raises(StageError, match="only models with one output"):
        fit(model, ctx, "prune", label="stage 1 (prune)", epochs=1, learning_rate=1e-3, batch_size=32)


def test_distill_default_is_on_for_single_output_classifiers_only():
    from optimize_cli.recipe import TrainingConfig
    from optimize_cli.stages import PruneStage
    from optimize_cli.tf import keras
    from optimize_cli.training.distill import default_applies

    plain = TrainingConfig()
    assert effective(None, plain, auto=True) == DistillConfig(alpha=0.5, temperature=4.0)
    assert effective(None, plain, auto=False) is None
    assert effective(None, TrainingConfig(distill=False), auto=True) is None
    assert effective(PruneStage(distill=False).distill, TrainingConfig(distill={"alpha": 0.2}), auto=True) is None
    assert effective(PruneStage(distill=True).distill, plain) == DistillConfig()
    x = keras.Input((4,))
    one = keras.Model(x, keras.layers.Dense(3, activation="softmax")(x))
    two = keras.Model(x, [keras.layers.Dense(3)(x), keras.layers.Dense(1)(x)])
    assert default_applies(one, "sparse_categorical_crossentropy")
    assert not default_applies(one, "mse") and not default_applies(two, "sparse_categorical_crossentropy")


@pytest.mark.slow
def test_distill_default_on_in_a_run_and_false_turns_it_off(tmp_path):
    from run_helpers import DATA, MODEL, cli, write_recipe

    def run(name, training):
        doc = {"version": 1, "name": name, "model": str(MODEL), "training": training,
               "data": {"train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 64},
                        "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 64}},
               "stages": [{"type": "prune", "epochs": 1}], "export": {"quantization": "dynamic"},
               "evaluation": {"latency_runs": 1, "latency_warmup": 0}}
        r = cli("run", write_recipe(tmp_path, doc, f"{name}.yaml"), "--output", tmp_path / name)
        assert r.exit_code == 0, r.output
        return json.loads((tmp_path / name / "report.json").read_text())["stages"][0]["distill"], r.stderr

    on, err = run("default", {})
    assert on == {"alpha": 0.5, "temperature": 4.0, "loss": "kl"} and "on by default for a classifier" in err
    off, err = run("off", {"distill": False})
    assert off is None and "by default" not in err
