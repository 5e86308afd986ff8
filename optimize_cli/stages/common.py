"""What the training stages share: seeding, skip-layer matching, per-layer wrapping that records what was
left alone, and the fine-tuning loop (frozen BatchNorm, progress per epoch, divergence detection).

Imports TensorFlow lazily (inside the functions) so that `optimize_cli.stages` stays light.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable, Optional, Union

from ..errors import RecipeError, StageError

_REGEX_CHARS = set(".^$*+?{}[]\\|()")

#: reasons shared by the stages
DEPTHWISE_REASON = "tfmot does not {verb} depthwise kernels (DepthwiseConv2D has no {noun} weights in tfmot)"


def stage_label(ctx, stage: str) -> str:
    """'stage 2 (cluster)': the label used in messages (1-based index, as the report numbers stages)."""
    return f"stage {ctx.index} ({stage})" if getattr(ctx, "index", 0) else stage


def seed(ctx) -> int:
    """Seed Python, NumPy and TensorFlow for this stage: training.seed + stage index (as the pipeline)."""
    from ..tf import keras

    s = int(getattr(ctx.training, "seed", 0) or 0) + int(getattr(ctx, "index", 0) or 0)
    keras.utils.set_random_seed(s)
    return s


# ------------------------------------------------------------------------------------------ layers


def is_exact_name(pattern: str) -> bool:
    """A skip_layers entry without regular-expression characters names one layer exactly."""
    return not (set(pattern) & _REGEX_CHARS)


def skip_match(name: str, patterns: Iterable[str]) -> Optional[str]:
    """The first pattern in `patterns` that is `name` or fully matches it, else None."""
    for p in patterns:
        if p == name:
            return p
        try:
            if re.fullmatch(p, name):
                return p
        except re.error:
            continue
    return None


def iter_layers(model) -> list:
    """Every layer of `model`, nested models flattened (wrappers are not opened)."""
    from ..tf import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(iter_layers(layer))
        else:
            out.append(layer)
    return out


def check_skip_layers(model, patterns: list[str], stage: str, ctx=None) -> None:
    """Every skip_layers entry that names a layer exactly must exist (RecipeError naming it); a regular
    expression that matches nothing only warns."""
    names = [layer.name for layer in iter_layers(model)]
    where = f"stages[{ctx.index - 1}].skip_layers" if ctx is not None and getattr(ctx, "index", 0) else \
        f"{stage}.skip_layers"
    for p in patterns:
        if is_exact_name(p):
            if p not in names:
                shown = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
                raise RecipeError(f"{where}: the model has no layer named '{p}' (layers: {shown})")
        elif skip_match_any(p, names) is None and ctx is not None:
            ctx.reporter.warn(f"{where}: pattern '{p}' matches no layer of the model")


def skip_match_any(pattern: str, names: list[str]) -> Optional[str]:
    for n in names:
        if skip_match(n, [pattern]):
            return n
    return None


def has_kernel(layer) -> bool:
    """The layer owns a weight matrix or tensor (rank ≥ 2): the weights the stages act on."""
    try:
        return any(len(w.shape) >= 2 for w in layer.weights)
    except Exception:
        return False


def registry_weights(registry, layer) -> list:
    """Names of the weights a tfmot registry acts on for `layer` (RNN layers: a placeholder), [] if none."""
    if not layer.trainable_weights:
        return []
    try:
        return list(registry._weight_names(layer))  # noqa: SLF001 - tfmot has no public API for this
    except (KeyError, AttributeError):
        return ["(cells)"]


def skip_record(layer, reason: str) -> dict:
    inner = getattr(layer, "layer", layer)
    return {"name": layer.name, "class": type(inner).__name__, "reason": reason}


def copy_model(model):
    """A copy of a functional/sequential model with its weights, so the stage never mutates its input."""
    from ..tf import keras

    try:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    except Exception:
        return model


Decision = Union[Any, str, None]


def wrap_per_layer(model, decide: Callable[[Any], Decision], skip_patterns: list[str], verb: str):
    """Clone `model`, replacing each layer by what `decide(layer)` returns.

    `decide` returns a new (wrapped) layer, a string (the reason the layer is left alone: recorded as
    skipped) or None (left alone silently: layers with nothing to do). Layers matched by
    `skip_patterns` are left alone and recorded. Returns (model, wrapped layer names, skipped records).
    """
    from ..tf import keras

    wrapped: list[str] = []
    skipped: list[dict] = []

    def clone_fn(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        pat = skip_match(layer.name, skip_patterns)
        if pat is not None:
            skipped.append(skip_record(layer, f"skip_layers '{pat}'"))
            return layer
        if isinstance(layer, keras.Model):
            if layer.weights:
                skipped.append(skip_record(layer, f"a nested model cannot be {verb}; flatten it into the outer model"))
            return layer
        try:
            out = decide(layer)
        except Exception as e:  # tfmot refused this layer: leave it alone, say why
            skipped.append(skip_record(layer, f"tfmot: {' '.join(str(e).split())[:200]}"))
            return layer
        if out is None:
            return layer
        if isinstance(out, str):
            skipped.append(skip_record(layer, out))
            return layer
        wrapped.append(layer.name)
        return out

    try:
        new = keras.models.clone_model(model, input_tensors=None, clone_function=clone_fn)
    except Exception as e:
        raise StageError(f"cannot rebuild the model with {verb} layers ({' '.join(str(e).split())[:300]})") from None
    return new, wrapped, skipped


# ------------------------------------------------------------------------------------------- train


def stage_learning_rate(params, ctx) -> float:
    """The stage's learning_rate, else training.learning_rate × the stage class's LR_SCALE (1 for prune,
    0.1 for cluster and qat: see their learning_rate descriptions)."""
    if params.learning_rate:
        return float(params.learning_rate)
    return float(ctx.training.learning_rate) * float(getattr(type(params), "LR_SCALE", 1.0))


def _optimizer(name: str, lr: float):
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


def fine_tune(model, params, ctx, stage: str, epochs: int, callbacks: list = ()) -> dict:
    """Compile and fit `model` on the training data for `epochs`; returns the Keras history.

    BatchNormalization layers run in inference mode (trainable=False in tf_keras) when
    training.freeze_batchnorm; progress is reported once per epoch; a NaN or exploding loss stops training
    and raises StageError naming the stage and the epoch.
    """

    if epochs <= 0:
        return {}
    if ctx.compile_info is None:
        raise StageError(f"{stage}: no loss to fine-tune with (set training.loss)")
    lr = stage_learning_rate(params, ctx)
    bs = ctx.batch_size(params)
    frozen = []
    if getattr(ctx.training, "freeze_batchnorm", True):
        for bn in batchnorm_layers(model):
            if bn.trainable:
                bn.trainable = False
                frozen.append(bn)
    model.compile(
        optimizer=_optimizer(getattr(ctx.training, "optimizer", "adam"), lr),
        loss=ctx.compile_info.loss,
        metrics=_fresh_metrics(ctx.compile_info.metrics),
    )
    guard = DivergenceGuard()
    label = stage_label(ctx, stage)
    try:
        with ctx.reporter.task(f"{label}: fine-tune {epochs} epoch{'s' if epochs != 1 else ''}", total=epochs) as adv:
            progress = _EpochProgress(adv)
            hist = model.fit(ctx.train_dataset(bs), epochs=epochs, verbose=0,
                             callbacks=[*callbacks, guard, progress])
    finally:
        for bn in frozen:
            bn.trainable = True
    if guard.tripped is not None:
        epoch, loss = guard.tripped
        what = "NaN/infinite loss" if not math.isfinite(loss) else f"loss exploded to {loss:.3g}"
        raise StageError(
            f"{label}: training diverged at epoch {epoch}/{epochs} ({what}); lower the learning rate "
            f"(now {lr:g}: set stages[{max(ctx.index - 1, 0)}].learning_rate or training.learning_rate)"
        )
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def _callback_base():
    from ..tf import keras

    return keras.callbacks.Callback


def DivergenceGuard():  # noqa: N802 - a factory that looks like a class
    base = _callback_base()

    class _Guard(base):
        """Stops training when the loss is NaN/inf or grows 1000× above its first value."""

        def __init__(self):
            super().__init__()
            self.tripped: Optional[tuple[int, float]] = None
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

    return _Guard()


def _EpochProgress(advance):  # noqa: N802
    base = _callback_base()

    class _Progress(base):
        def on_epoch_end(self, epoch, logs=None):
            advance(_fmt_logs(logs or {}))

    return _Progress()


def layer_kernels(layer) -> list:
    """The rank ≥ 2 weights of a layer (kernels), as NumPy arrays, with their names."""
    return [(w.name, w.numpy()) for w in layer.weights if len(w.shape) >= 2]
