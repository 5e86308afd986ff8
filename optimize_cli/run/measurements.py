"""What the run measures beside the stages: a .tflite (size, accuracy, latency) like the result, the
metric the recipe is judged by, and the kernel whose value density is plotted through the stages."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .records import TfliteFigures

EVAL_BATCH = 256  # samples per interpreter / Keras call when measuring accuracy


def measure_tflite(tfl: bytes, ev, metric: str, ecfg, quantization: str, sample, output_name=None) -> TfliteFigures:
    from .. import measure

    sizes = measure.file_sizes(tfl)
    acc = None
    if ev is not None:
        acc = measure.evaluate_tflite_batches(tfl, ev.batches(EVAL_BATCH), metric, ecfg.top_k, ecfg.threads,
                                              output_name)
    lat = measure.latency_ms(tfl, sample, runs=ecfg.latency_runs, warmup=ecfg.latency_warmup, threads=ecfg.threads)
    return TfliteFigures(
        quantization=quantization,
        tflite_bytes=sizes["tflite_bytes"],
        compressed_bytes=sizes["compressed_bytes"],
        compression_saved_percent=sizes["compression_saved_percent"],
        accuracy=None if acc is None else float(acc),
        latency_ms=float(lat["median_ms"]),
        latency_p90_ms=float(lat["p90_ms"]),
        threads=int(lat["threads"]),
    )


def keras_accuracy(model, ev, metric: str, ecfg, output_index: int) -> float:
    """The primary metric of a Keras model over the whole eval split."""
    from .. import measure

    return float(measure.evaluate_keras_batches(model, ev.batches(EVAL_BATCH), metric, ecfg.top_k, output_index))


def metric_for(recipe, cinfo) -> str:
    if recipe.evaluation.metric:
        return recipe.evaluation.metric
    loss = cinfo.loss if isinstance(cinfo.loss, str) else getattr(cinfo.loss, "name", str(cinfo.loss))
    loss = str(loss).lower()
    if "binary" in loss:
        return "binary_accuracy"
    if loss in ("mse", "mean_squared_error"):
        return "mse"
    if loss in ("mae", "mean_absolute_error"):
        return "mae"
    return "accuracy"


def kernel_of(model, name: str) -> Optional[np.ndarray]:
    """The kernel values of layer `name` (also inside tfmot wrappers), flattened."""
    # measure's private helpers: the measure helper is to make them public (measure/keras_weights.py)
    from ..measure import iter_layers, keras_kernel

    for outer, inner in iter_layers(model):
        if inner.name == name:
            kernel = keras_kernel(inner, outer)[0]
            return None if kernel is None else np.asarray(kernel).ravel()
    return None


def density_layer(stats: list[dict]) -> Optional[str]:
    """The largest Conv2D/Dense kernel: the layer whose value density is plotted through the stages."""
    cands = [s for s in stats if s.get("class") in ("Dense", "Conv2D")]
    return max(cands, key=lambda s: s.get("params", 0))["name"] if cands else None
