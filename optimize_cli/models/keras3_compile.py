"""The compile config (loss, metrics) of a Keras 3 file, carried over to the translated tf_keras model:
common Keras 3 loss and metric names and configs become their tf_keras equivalents; anything else is left
out with a warning (the loss is then inferred from the output layer, as for a model saved without one)."""
from __future__ import annotations

from typing import Any, Optional

from ..errors import one_line
from .keras3 import plain

#: Keras 3 loss classes tf_keras has under the same name and arguments
LOSSES = ("SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
          "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber",
          "KLDivergence", "LogCosh", "Hinge", "SquaredHinge", "CategoricalHinge", "Poisson", "CosineSimilarity",
          "CategoricalFocalCrossentropy", "BinaryFocalCrossentropy")
#: Keras 3 loss config keys tf_keras does not take (left out when they hold the default)
_LOSS_DEFAULTS = {"dtype": None}
#: Keras 3 reduction names tf_keras spells the same
_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "auto")


def _loss(value: Any) -> tuple[Optional[Any], Optional[str]]:
    """(a tf_keras loss, None) or (None, why it cannot be carried over)."""
    from ..tf import keras

    if isinstance(value, str):
        try:
            keras.losses.get(value)
        except (ValueError, TypeError) as e:
            return None, f"loss '{value}' is not a tf_keras loss ({one_line(e, 80)})"
        return value, None
    if not isinstance(value, dict) or value.get("class_name") not in LOSSES:
        shown = value.get("class_name") if isinstance(value, dict) else type(value).__name__
        return None, f"loss {shown!r} has no tf_keras equivalent translated here (several outputs, custom loss, …)"
    conf = dict(plain(value.get("config") or {}))
    for key, default in _LOSS_DEFAULTS.items():
        if conf.get(key, default) != default:
            return None, f"loss {value['class_name']} sets {key}={conf[key]!r}, which tf_keras lacks"
        conf.pop(key, None)
    if conf.get("reduction", "sum_over_batch_size") not in _REDUCTIONS:
        return None, f"loss {value['class_name']} uses reduction {conf['reduction']!r}, which tf_keras lacks"
    try:
        return getattr(keras.losses, value["class_name"])(**conf), None
    except (TypeError, ValueError) as e:
        return None, f"loss {value['class_name']} cannot be built in tf_keras ({one_line(e, 80)})"


def _metric(value: Any) -> tuple[Optional[Any], Optional[str]]:
    from ..tf import keras

    if isinstance(value, str):
        try:
            keras.metrics.get(value) if value not in ("accuracy", "acc") else None
        except (ValueError, TypeError):
            return None, f"metric '{value}' is not a tf_keras metric"
        return value, None
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        conf = {k: v for k, v in plain(value.get("config") or {}).items() if k != "dtype" or v != "float32"}
        try:
            return keras.metrics.deserialize({"class_name": value["class_name"], "config": conf}), None
        except (TypeError, ValueError) as e:
            return None, f"metric {value['class_name']} cannot be built in tf_keras ({one_line(e, 80)})"
    return None, f"metric {type(value).__name__} is not translated"


def carry_compile(model: Any, config: dict, path: str) -> tuple[Optional[str], list[str]]:
    """Compile `model` with the loss and metrics of the Keras 3 config, when it has a compile config and its
    loss translates. Returns (a short description of what was carried over, or None; warnings)."""
    cc = config.get("compile_config") if isinstance(config, dict) else None
    if not isinstance(cc, dict) or cc.get("loss") is None:
        return None, []
    loss, why = _loss(cc["loss"])
    if loss is None:
        return None, [f"{path}: the Keras 3 compile config's {why}; the loss is inferred from the output layer"]
    metrics, warnings = [], []
    raw = cc.get("metrics") or []
    for m in raw if isinstance(raw, list) else [raw]:
        got, why = _metric(m)
        if got is None:
            warnings.append(f"{path}: the Keras 3 compile config's {why}; left out")
        else:
            metrics.append(got)
    model.compile(loss=loss, metrics=metrics)
    name = loss if isinstance(loss, str) else type(loss).__name__
    return f"loss {name}" + (f", {len(metrics)} metric(s)" if metrics else ""), warnings
