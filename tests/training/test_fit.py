"""training/fit.py: the one fit every stage goes through (optimizer and learning rate, frozen BatchNorm,
per-epoch history kept)."""
from __future__ import annotations

import pytest

from optimize_cli.training.fit import FitHistory


def test_fit_history_per_epoch_rows():
    h = FitHistory({"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]})
    assert h.epochs == 2
    assert h.per_epoch() == [{"loss": 0.9, "accuracy": 0.6}, {"loss": 0.5, "accuracy": 0.8}]
    assert h.as_dict() == {"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]}
    assert FitHistory().epochs == 0 and FitHistory().per_epoch() == []


@pytest.mark.slow
def test_fit_uses_the_given_learning_rate_and_keeps_the_history(tiny_model, make_ctx):
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.training.fit import batchnorm_layers, fit

    model = copy_model(tiny_model)
    ctx = make_ctx(samples=64, optimizer="sgd")
    h = fit(model, ctx, "prune", label="stage 1 (prune)", epochs=2, learning_rate=2.5e-4, batch_size=32)
    assert isinstance(h, FitHistory) and h.epochs == 2 and len(h.metrics["loss"]) == 2
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(2.5e-4)
    assert type(model.optimizer).__name__ == "SGD"
    assert all(bn.trainable for bn in batchnorm_layers(model))  # frozen while fitting, restored after


def test_fit_zero_epochs_fits_nothing(make_ctx):
    from optimize_cli.training.fit import fit

    assert fit(object(), make_ctx(), "qat", label="stage 1 (qat)", epochs=0, learning_rate=1e-3, batch_size=8) == FitHistory()


@pytest.mark.slow
def test_fit_the_stage_record_and_the_fit_share_one_learning_rate(tiny_model, make_ctx, monkeypatch):
    """The learning rate a stage fits with is the one its record keeps: both read the resolved params."""
    from optimize_cli.stages import ClusterStage, run_stage
    from optimize_cli.training import fit as fit_mod

    seen = {}
    real = fit_mod.fit

    def spy(model, ctx, stage, **kw):
        seen.update(kw)
        return real(model, ctx, stage, **kw)

    monkeypatch.setattr(fit_mod, "fit", spy)
    res = run_stage(tiny_model, ClusterStage(clusters=8, epochs=1), make_ctx(samples=64, learning_rate=4e-3))
    assert seen["learning_rate"] == pytest.approx(4e-3) == res.learning_rate  # training's, as written
    assert seen["batch_size"] == 32 and res.history.epochs == 1


def test_fit_stops_on_a_non_finite_weight_at_epoch_end(tiny_model, make_ctx):
    """The guard reads the weights, not only the loss: a weight that became inf (here set so by a callback
    at the end of the first epoch, before the guard looks) stops training with the stage and epoch named."""
    from optimize_cli.errors import StageError
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.tf import keras, tf
    from optimize_cli.training.fit import fit

    model = copy_model(tiny_model)

    class Overflow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bias = self.model.get_layer("dw").bias
            bias.assign(tf.fill(bias.shape, float("inf")))

    with pytest.raises(StageError, match=r"stage 1 \(qat\): training diverged at epoch 1/3 \(non-finite values in weight dw/bias\)"):
        fit(model, make_ctx(samples=32), "qat", label="stage 1 (qat)", epochs=3, learning_rate=1e-3, batch_size=32, callbacks=[Overflow()])


@pytest.mark.slow
def test_fit_reports_batches_within_the_epoch_on_a_terminal(tiny_model, make_ctx, monkeypatch):
    """On a terminal (rich progress) the fit reports each batch of the epoch: 64 samples at batch 32 are
    batches 1/2 and 2/2; plain CI logs stay one line per epoch."""
    import io

    from rich.console import Console

    from optimize_cli import progress
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.training.fit import fit

    seen = []
    real = progress._RichAdvance.batch
    monkeypatch.setattr(progress._RichAdvance, "batch", lambda self, done, of=None: (seen.append((done, of)),
                                                                                    real(self, done, of)))
    ctx = make_ctx(samples=64)
    ctx.reporter = progress.Reporter(console=Console(file=io.StringIO(), width=80, force_terminal=True),
                                     rich_progress=True)
    fit(copy_model(tiny_model), ctx, "prune", label="stage 1 (prune)", epochs=1, learning_rate=1e-4, batch_size=32)
    assert seen == [(1, 2), (2, 2)]
