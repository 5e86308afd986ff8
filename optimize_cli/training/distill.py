"""Knowledge distillation: the input model (frozen) teaches every training stage.

loss = alpha × hard-label loss + (1 − alpha) × T² × KL(teacher‖student) at temperature T for
classification (softmax/sigmoid outputs are turned back into logits as log-probabilities; logits outputs
are used as they are), or alpha × hard loss + (1 − alpha) × MSE(teacher, student) for regression.

It is a Keras Model that wraps the student and overrides `compute_loss`, so Keras' own train step,
optimizer and callbacks (tfmot's UpdatePruningStep finds the wrapped layers through it) work unchanged;
the student's weights are the ones trained. The settings model imports no TensorFlow.
"""
from __future__ import annotations

from typing import Optional, Union

from pydantic import Field

from ..strict import Strict

_REGRESSION = ("mean_squared_error", "mean_absolute_error", "mse", "mae", "huber", "log_cosh")


class DistillConfig(Strict):
    """`distill: {alpha, temperature}`: the input model teaches the stage."""

    alpha: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the hard-label loss (1: no distillation).")
    temperature: float = Field(4.0, gt=0.0, le=100.0, description="Softmax temperature of the soft targets.")


#: what `distill:` may be: settings, true (the default settings), false (off), or absent (the default)
DistillSetting = Union[bool, DistillConfig]


def effective(stage_distill: Optional[DistillSetting], training, auto: bool = False) -> Optional[DistillConfig]:
    """The distillation a stage trains with: its own `distill`, else training.distill, else — both absent —
    the default, which is on (alpha 0.5, T 4) where `auto` (a single-output classifier: measured on the real
    DS-CNN's PCQAT path, +0.8 to +5.2 points in every pair) and off elsewhere. False turns it off."""
    for value in (stage_distill, getattr(training, "distill", None)):
        if value is False:
            return None
        if value is True:
            return DistillConfig()
        if value is not None:
            return value
    return DistillConfig() if auto else None


def default_applies(keras_model, loss) -> bool:
    """Whether distillation is on by default for this model: one output and a classification loss (the
    default was measured on classifiers only; regression and multi-output models train as before)."""
    outputs = getattr(keras_model, "outputs", None) or []
    return len(outputs) == 1 and loss is not None and not is_regression(loss)


def loss_name(loss) -> str:
    """A Keras loss (name or object) as a lower-case name."""
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return str(name).lower()


def is_regression(loss) -> bool:
    """Whether the hard loss is a regression loss (distil with MSE to the teacher's output)."""
    name = loss_name(loss)
    return any(r in name for r in _REGRESSION)


def _logits(out, from_logits: bool, binary: bool):
    """Logits of a classifier's output; a single sigmoid unit becomes the two logits [0, z]."""
    from ..tf import tf

    out = tf.cast(out, tf.float32)
    if binary:
        z = out if from_logits else tf.math.log(tf.clip_by_value(out, 1e-7, 1.0)) - \
            tf.math.log(tf.clip_by_value(1.0 - out, 1e-7, 1.0))
        return tf.concat([tf.zeros_like(z), z], axis=-1)
    if from_logits:
        return out
    return tf.math.log(tf.clip_by_value(out, 1e-7, 1.0))


def soft_loss(teacher_out, student_out, *, temperature: float, from_logits: bool, regression: bool):
    """The distillation term: T² × KL(teacher‖student) at temperature T, or MSE for regression."""
    from ..tf import tf

    if regression:
        return tf.reduce_mean(tf.square(tf.cast(student_out, tf.float32) - tf.cast(teacher_out, tf.float32)))
    binary = student_out.shape[-1] == 1
    t = float(temperature)
    lt = _logits(teacher_out, from_logits, binary) / t
    ls = _logits(student_out, from_logits, binary) / t
    pt = tf.nn.softmax(lt, axis=-1)
    kl = tf.reduce_sum(pt * (tf.nn.log_softmax(lt, axis=-1) - tf.nn.log_softmax(ls, axis=-1)), axis=-1)
    return t * t * tf.reduce_mean(kl)


def hard_loss_fn(loss):
    """The hard-label loss as a callable Keras Loss (a name is looked up)."""
    from ..tf import keras

    obj = keras.losses.get(loss) if isinstance(loss, str) else loss
    if not isinstance(obj, keras.losses.Loss):
        obj = keras.losses.LossFunctionWrapper(obj, name=loss_name(loss))
    return obj


def Distiller(student, teacher, settings: DistillConfig, hard_loss, from_logits: bool):  # noqa: N802
    """A Keras Model that trains `student` (its call) with the distillation loss against `teacher`
    (run in inference mode, never trained). Compile it with the optimizer and metrics only."""
    from ..tf import keras, tf

    teacher.trainable = False
    regression = is_regression(hard_loss)
    hard = hard_loss_fn(hard_loss)
    hard._allow_sum_over_batch_size = True  # as Model.compile allows it: per-replica mean, scaled in compute_loss
    alpha, temperature = float(settings.alpha), float(settings.temperature)

    class _Distiller(keras.Model):
        def __init__(self):
            super().__init__(name=f"distill_{student.name}")
            self.student = student
            self._teacher = [teacher]  # in a list: not tracked, its weights are neither trained nor saved
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def call(self, inputs, training=None):
            return self.student(inputs, training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
            total = alpha * hard(y, y_pred, sample_weight=sample_weight)
            if alpha < 1.0:
                t_out = tf.stop_gradient(self._teacher[0](x, training=False))
                total += (1.0 - alpha) * soft_loss(t_out, y_pred, temperature=temperature,
                                                   from_logits=from_logits, regression=regression)
            if self.losses:
                total += tf.add_n(self.losses)
            self.loss_tracker.update_state(total)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync  # training.distribute: gradients are summed
            return total / replicas if replicas > 1 else total

    return _Distiller()


def describe(settings: Optional[DistillConfig], loss) -> Optional[dict]:
    """What the stage record shows: {alpha, temperature, kind} or None when distillation is off."""
    if settings is None:
        return None
    kind = "mse" if is_regression(loss) else "kl"
    return {"alpha": float(settings.alpha), "temperature": float(settings.temperature), "loss": kind}
