"""How to compile the input model for fine-tuning: loss and metrics from the recipe, the model's saved
compile config, or inferred from its output layer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InputError


@dataclass
class CompileInfo:
    """Loss and metric the fine-tuning uses (from the recipe, the saved compile config, or inferred)."""

    loss: Any                      # a Keras loss name or object
    metrics: list                  # Keras metric names/objects for fit/evaluate
    from_logits: bool = False      # the model's output is logits (no softmax/sigmoid)
    source: str = "inferred"       # "recipe" | "saved" | "inferred"
    name: str = ""                 # the loss used, e.g. "categorical_crossentropy"
    reason: str = ""               # why that loss, one line (said in the log and in report.json's model.loss)

    def dump(self) -> dict:
        """report.json's `model.loss`: which loss the fine-tuning used and why."""
        return {"name": self.name, "from_logits": bool(self.from_logits), "source": self.source,
                "reason": self.reason}

    def log_line(self) -> str:
        """"loss: categorical_crossentropy (…why…)"."""
        logits = ", from logits" if self.from_logits else ""
        return f"loss: {self.name}{logits} ({self.reason})"


_CE = {"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"}
_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "binary_crossentropy": "binary_crossentropy",
}


def _output_activation(model) -> Optional[str]:
    """Name of the final activation of a single-output model ('softmax', 'sigmoid', 'linear', ...)."""
    from ..tf import keras

    try:
        layer = model.get_layer(model.output_names[0]) if getattr(model, "output_names", None) else model.layers[-1]
    except Exception:
        layer = model.layers[-1]
    inner = getattr(layer, "layer", layer)  # through wrappers
    if isinstance(inner, keras.layers.Softmax):
        return "softmax"
    if isinstance(inner, keras.layers.ReLU):
        return "relu"
    act = getattr(inner, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None) or str(act)
    return str(name).lower()


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return _ALIASES.get(loss.lower(), loss.lower())
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return _ALIASES.get(str(name).lower(), str(name).lower())


def _loss_config(loss: Any) -> dict:
    """The config of a Keras Loss object ({} for names and plain functions)."""
    get = getattr(loss, "get_config", None)
    if get is None or isinstance(loss, str):
        return {}
    try:
        return dict(get())
    except Exception:
        return {}


def _metrics_for(loss_name: str, from_logits: bool) -> list:
    from ..tf import keras

    if loss_name == "sparse_categorical_crossentropy":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if loss_name == "categorical_crossentropy":
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if loss_name == "binary_crossentropy":
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if from_logits else 0.5)]
    if loss_name in ("mean_squared_error", "mean_absolute_error"):
        return [keras.metrics.MeanAbsoluteError(name="mae")]
    return []


def _loss_object(name: str, from_logits: bool):
    from ..tf import keras

    cls = {
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
    }.get(name)
    if cls is None:
        return name
    return cls(from_logits=from_logits)


def compile_info(model, training_cfg, label_shape: Optional[tuple] = None) -> CompileInfo:
    """Loss and metrics for fine-tuning: training.loss, else the model's saved compile config, else inferred
    from the output layer. `label_shape` (without the batch axis) switches sparse ↔ one-hot crossentropy
    when the labels say so."""
    act = _output_activation(model)
    try:
        units = model.output_shape[-1] if not isinstance(model.output_shape, list) else None
    except Exception:
        units = None
    logits_out = act in ("linear", None) and units is not None

    keep: Any = None
    user = getattr(training_cfg, "loss", None) if training_cfg is not None else None
    if user:
        name, source = _ALIASES.get(user.lower(), user), "recipe"
        from_logits = name in _CE and logits_out
        reason = "training.loss in the recipe"
    else:
        saved = getattr(model, "loss", None)
        if isinstance(saved, (dict, list, tuple)):
            saved = None if len(saved) != 1 else (list(saved.values())[0] if isinstance(saved, dict) else saved[0])
        if saved is not None and not callable(saved) and not isinstance(saved, str):
            saved = None
        if saved is not None:
            source = "saved"
            name = _loss_name(saved)
            saved_cfg = _loss_config(saved)
            from_logits = bool(saved_cfg.get("from_logits", False)) if not isinstance(saved, str) \
                else (name in _CE and logits_out)
            keep = saved if saved_cfg else None  # a configured Keras Loss (label smoothing, ...) is kept as is
            reason = "the model's saved compile config"
        else:
            source = "inferred"
            reason = f"inferred from the model's output ({act or 'linear'}, {units} units)"
            if units is None:
                raise InputError("the model has several outputs and no saved loss: set training.loss in the recipe")
            if act == "softmax":
                name, from_logits = "sparse_categorical_crossentropy", False
            elif act == "sigmoid" and units == 1:
                name, from_logits = "binary_crossentropy", False
            elif logits_out and units > 1:
                name, from_logits = "sparse_categorical_crossentropy", True
            elif logits_out and units == 1:
                name, from_logits = "mean_squared_error", False
            elif act == "sigmoid":
                name, from_logits = "binary_crossentropy", False
            else:
                name, from_logits = "mean_squared_error", False
    # sparse vs one-hot labels
    if label_shape is not None and name in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        one_hot = len(label_shape) >= 1 and units is not None and label_shape[-1] == units and units > 1
        wanted = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"
        if wanted != name:
            was = {"recipe": "training.loss is", "saved": "the model was saved with"}.get(source, "the model's "
                                                                                       "output suggests")
            labels = f"one-hot vectors of {units}" if one_hot else "class indices"
            reason = f"{was} {name}, but the labels are {labels}"
            name, keep = wanted, None
    loss = keep if keep is not None else _loss_object(name, from_logits)
    return CompileInfo(loss=loss, metrics=_metrics_for(name, from_logits), from_logits=from_logits, source=source,
                       name=name, reason=reason)
