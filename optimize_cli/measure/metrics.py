"""The metrics and the figures derived from them, defined once (DESIGN.md, report.json contract).

- ``METRICS``: the metric names a recipe may choose; ``ERROR_METRICS`` are those where lower is better
  (mae, mse), ``FRACTION_METRICS`` the others (accuracies, shown as percent).
- ``accuracy_drop`` is positive when the result is worse: ``baseline − result`` for metrics where higher
  is better and ``result − baseline`` for error metrics, so ``max_accuracy_drop`` reads the same way for
  every metric.
- ``saved_percent`` = ``100 * (1 - compressed_bytes / tflite_bytes)``: what ZIP_DEFLATED saves on a file.
- ``compression_ratio`` = ``baseline.compressed_bytes / result.compressed_bytes``: how many times smaller
  the zipped result is than the zipped float32 baseline.
- ``speedup`` = ``baseline.latency_ms / result.latency_ms``: above 1 the result is faster (below 1 it is
  a slowdown).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

METRICS = ("accuracy", "top_k_accuracy", "binary_accuracy", "mae", "mse")
#: metrics where lower is better
ERROR_METRICS = ("mae", "mse")
LOWER_IS_BETTER = ERROR_METRICS
#: metrics that are fractions of samples (higher is better), shown as percent
FRACTION_METRICS = tuple(m for m in METRICS if m not in ERROR_METRICS)


def higher_is_better(metric: Optional[str]) -> bool:
    """The metric's direction: False for error metrics (mae, mse), True otherwise."""
    return metric not in ERROR_METRICS


def check_metric(metric: str) -> None:
    """ValueError naming the known metrics when ``metric`` is not one of them."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")


def accuracy_drop(baseline: Optional[float], result: Optional[float], higher_is_better: bool = True) -> Optional[float]:
    """How much worse `result` is than `baseline`, positive = worse, in metric units (None if unknown)."""
    if baseline is None or result is None:
        return None
    return (baseline - result) if higher_is_better else (result - baseline)


def saved_percent(tflite_bytes: int, compressed_bytes: int) -> float:
    """`100 * (1 - compressed / raw)`: how much ZIP_DEFLATED saves on the file (0 for an empty file)."""
    return 100.0 * (1.0 - compressed_bytes / tflite_bytes) if tflite_bytes else 0.0


def compression_ratio(baseline_compressed: Optional[float], result_compressed: Optional[float]) -> Optional[float]:
    """`baseline_compressed / result_compressed` (None when either is unknown or zero)."""
    return _ratio(baseline_compressed, result_compressed)


def speedup(baseline_ms: Optional[float], result_ms: Optional[float]) -> Optional[float]:
    """`baseline_ms / result_ms` (None when either latency is unknown or zero)."""
    return _ratio(baseline_ms, result_ms)


def deployable_ratio(result_bytes: Optional[float], ptq_bytes: Optional[float]) -> Optional[float]:
    """What a target's device stores for the result, as a fraction of the same figure for the int8 PTQ of
    the input model: result deployable bytes / int8-PTQ deployable bytes (0.55: 45 % smaller)."""
    return _ratio(result_bytes, ptq_bytes)


def _ratio(num: Optional[float], den: Optional[float]) -> Optional[float]:
    return num / den if num and den else None


def compute_metric(pred: np.ndarray, y: np.ndarray, metric: str = "accuracy", top_k: int = 5) -> float:
    """The metric of predictions ``pred`` against labels ``y``, in numpy; the same code scores Keras and
    TFLite outputs. accuracy: top-1 (int or one-hot labels; binary at 0.5 for a single output unit);
    top_k_accuracy: the label scores among the k best (ties count as in); binary_accuracy: prediction
    > 0.5 (the output is taken as a probability) equals label > 0.5; mae / mse: mean over all values."""
    pred = np.asarray(pred)
    y = np.asarray(y)
    n = pred.shape[0] if pred.ndim else 0
    if n == 0:
        raise ValueError("no predictions to score")
    if y.shape[0] != n:
        raise ValueError(f"{n} predictions but {y.shape[0]} labels")
    pred = pred.astype(np.float64)
    if metric in ERROR_METRICS:
        yy = y.astype(np.float64)
        if yy.size == pred.size:
            yy = yy.reshape(pred.shape)
        d = pred - yy
        return float(np.mean(np.abs(d)) if metric == "mae" else np.mean(d * d))
    if metric == "binary_accuracy" or (metric == "accuracy" and (pred.ndim == 1 or pred.shape[-1] == 1)):
        yy = y.astype(np.float64)
        if yy.size == pred.size:
            yy = yy.reshape(pred.shape)
        return float(np.mean((pred > 0.5) == (yy > 0.5)))
    check_metric(metric)  # every other known metric returned above: accuracy or top_k_accuracy from here
    classes = pred.shape[-1]
    if y.ndim == pred.ndim and y.shape[-1] == classes:  # one-hot
        labels = np.argmax(y, axis=-1)
    else:
        labels = y.reshape(pred.shape[:-1]).astype(np.int64)
    if metric == "accuracy":
        return float(np.mean(np.argmax(pred, axis=-1) == labels))
    k = max(1, int(top_k))
    true_score = np.take_along_axis(pred, labels[..., None], axis=-1)
    better = np.sum(pred > true_score, axis=-1)
    return float(np.mean(better < k))

