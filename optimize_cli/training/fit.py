"""The one function every stage fits through: compile with the recipe's optimizer, BatchNorm frozen,
a divergence guard, progress once per epoch, and the per-epoch history kept and returned.

Imports TensorFlow lazily (inside the functions) so that `optimize_cli.stages` stays light.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from ..errors import StageError


@dataclass
class FitHistory:
    """Loss and metrics per epoch, as Keras' History has them (`{"loss": [..], "accuracy": [..]}`)."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    #: how the fit was distributed ({strategy, replicas, workers, note}); None without training.distribute
    distribute: Optional[dict] = None

    @property
    def epochs(self) -> int:
        """Epochs that ran (fewer than asked when training stopped early)."""
        return max((len(v) for v in self.metrics.values()), default=0)

    def per_epoch(self) -> list[dict[str, float]]:
        """One {name: value} per epoch, in order."""
        return [{k: v[i] for k, v in self.metrics.items() if i < len(v)} for i in range(self.epochs)]

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.metrics.items()}


def optimizer(name: str, lr: float):
    """The Keras optimizer named by training.optimizer (adam | sgd | rmsprop) at learning rate `lr`."""
    from ..tf import keras

    name = (name or "adam").lower()
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)


def _fresh_metrics(metrics: list) -> list:
    out = []
    for m in metrics or []:
        if isinstance(m, str):
            out.append(m)
        else:
            try:
                out.append(m.__class__.from_config(m.get_config()))
            except Exception:
                out.append(m)
    return out


def batchnorm_layers(model) -> list:
    """BatchNormalization layers, also inside wrappers (tfmot's QuantizeWrapper keeps them as `.layer`)."""
    from ..tf import keras

    found = []

    def visit(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
            return
        inner = getattr(layer, "layer", None)
        if inner is not None and inner is not layer:
            visit(inner)
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                visit(sub)

    for layer in model.layers:
        visit(layer)
    return found


def _fmt_logs(logs: dict) -> str:
    parts = []
    for k in ("loss", "accuracy", "mae"):
        if k in (logs or {}):
            parts.append(f"{k} {float(logs[k]):.4f}")
    return " ".join(parts)


def fit(model, ctx, stage: str, *, label: str, epochs: int, learning_rate: float, batch_size: int,
        callbacks: list = (), distributed: bool = False, why_local: Optional[str] = None) -> FitHistory:
    """Compile and fit `model` on the stage's training data (`ctx.train_dataset`) for `epochs`.

    `stage` is the stage's type and `label` how messages name it ("stage 2 (prune)"); `learning_rate`
    and `batch_size` are its resolved values; `distributed` and `why_local` are its module's DISTRIBUTED
    and LOCAL_REASON (training.distribute). BatchNormalization layers run in inference mode
    (trainable=False in tf_keras) when training.freeze_batchnorm; progress is reported once per epoch; a
    NaN or exploding loss, or a weight that is no longer finite at an epoch's end, stops training and
    raises StageError naming the stage and the epoch.
    """
    from ..integrations.tensorboard import callbacks_for
    from .distribute import for_stage

    if epochs <= 0:
        return FitHistory()
    if ctx.compile_info is None:
        raise StageError(f"{stage}: no loss to fine-tune with (set training.loss)")
    lr = float(learning_rate)
    frozen = []
    if getattr(ctx.training, "freeze_batchnorm", True):
        for bn in batchnorm_layers(model):
            if bn.trainable:
                bn.trainable = False
                frozen.append(bn)
    dist = for_stage(ctx, stage, distributed, why_local)  # tf.distribute (training.distribute) or the local fit
    guard = DivergenceGuard()
    try:
        with dist.scope():
            net = dist.replicate(model)  # the model itself, or its copy in the strategy's scope
            trained = distilling(net, ctx)
            trained.compile(
                optimizer=optimizer(getattr(ctx.training, "optimizer", "adam"), lr),
                loss=None if trained is not net else ctx.compile_info.loss,
                metrics=_fresh_metrics(ctx.compile_info.metrics),
            )
        with ctx.reporter.task(f"{label}: fine-tune {epochs} epoch{'s' if epochs != 1 else ''}", total=epochs) as adv:
            progress = _EpochProgress(adv)
            hist = trained.fit(dist.dataset(ctx.train_dataset(int(batch_size))), epochs=epochs, verbose=0,
                               callbacks=[StopWhenInterrupted(), *callbacks, *callbacks_for(ctx, stage, net),
                                          guard, progress])
        dist.copy_back(net, model)
    finally:
        for bn in frozen:
            bn.trainable = True
    if guard.tripped is not None:
        epoch, loss = guard.tripped
        what = "NaN/infinite loss" if not math.isfinite(loss) else f"loss exploded to {loss:.3g}"
        if guard.bad_weight is not None:
            what = f"non-finite values in weight {guard.bad_weight}"
        raise StageError(
            f"{label}: training diverged at epoch {epoch}/{epochs} ({what}); lower the learning rate "
            f"(now {lr:g}: set stages[{max(ctx.index - 1, 0)}].learning_rate or training.learning_rate)"
        )
    return FitHistory({k: [float(v) for v in vals] for k, vals in hist.history.items()}, distribute=dist.record)


def distilling(model, ctx):
    """The model to fit: `model` itself, or a distillation wrapper around it when the stage distils
    (`ctx.distill` set; the teacher is `ctx.teacher`, the input model)."""
    settings, teacher = getattr(ctx, "distill", None), getattr(ctx, "teacher", None)
    if settings is None:
        return model
    if teacher is None:
        raise StageError("distill: no teacher model (the input model) was given to the stage")
    if len(getattr(model, "outputs", None) or [None]) > 1:
        raise StageError("distill: only models with one output can be distilled; remove training.distill "
                         "(or the stage's distill)")
    from .distill import Distiller

    return Distiller(model, teacher, settings, ctx.compile_info.loss, bool(ctx.compile_info.from_logits))


def _callback_base():
    from ..tf import keras

    return keras.callbacks.Callback


def DivergenceGuard():  # noqa: N802 - a factory that looks like a class
    base = _callback_base()

    class _Guard(base):
        """Stops training when the loss is NaN/inf or grows 1000× above its first value, or when a weight
        holds NaN/inf at an epoch's end (checked on the values, whatever the kernels made of the loss)."""

        def __init__(self):
            super().__init__()
            self.tripped: Optional[tuple[int, float]] = None
            self.bad_weight: Optional[str] = None
            self.reference: Optional[float] = None
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is None:
                return
            loss = float(loss)
            if self.reference is None and math.isfinite(loss):
                self.reference = loss
            limit = 1000.0 * max(self.reference or 0.0, 0.1)
            if not math.isfinite(loss) or loss > limit:
                self.tripped = (self.epoch, loss)
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if self.tripped is None:
                self.bad_weight = non_finite_weight(self.model)
                if self.bad_weight is not None:
                    self.tripped = (epoch + 1, float((logs or {}).get("loss", math.nan)))
                    self.model.stop_training = True

    return _Guard()


def non_finite_weight(model) -> Optional[str]:
    """The name of the first floating-point weight of `model` holding NaN or ±inf; None when all are finite."""
    import numpy as np

    for w in model.weights:
        if w.dtype.is_floating and not np.isfinite(w.numpy()).all():
            return w.name.split(":")[0]
    return None


def StopWhenInterrupted():  # noqa: N802
    """A safe point at every batch end: a Ctrl-C or SIGTERM received meanwhile stops training here, in
    Python code, with KeyboardInterrupt (interrupt.py: the signal handler itself only records it)."""
    from ..interrupt import check

    base = _callback_base()

    class _Stop(base):
        def __init__(self):
            super().__init__()
            self._supports_tf_logs = True  # logs are not read: no per-batch conversion to numpy

        def on_train_batch_end(self, batch, logs=None):
            check()

        def on_test_batch_end(self, batch, logs=None):
            check()

        def on_predict_batch_end(self, batch, logs=None):
            check()

    return _Stop()


def _EpochProgress(advance):  # noqa: N802
    base = _callback_base()

    class _Progress(base):
        def on_epoch_end(self, epoch, logs=None):
            advance(_fmt_logs(logs or {}))

    class _BatchProgress(_Progress):
        """Also the batch within the epoch, on a terminal (long epochs); logs are not read per batch."""

        def __init__(self):
            super().__init__()
            self._supports_tf_logs = True  # no per-batch conversion of the logs to numpy

        def on_train_batch_end(self, batch, logs=None):
            advance.batch(batch + 1, self.params.get("steps"))

    return _BatchProgress() if getattr(advance, "per_batch", False) else _Progress()
