"""Measurements: file and zip sizes, sparsity and unique weights (in Keras and in .tflite weight buffers),
accuracy on the LiteRT interpreter (batched) and single-inference latency; the metric direction, the
accuracy drop and the saved percent are defined once, in ``metrics``.

No TensorFlow import here: .tflite files are read with ``ai_edge_litert`` (flatbuffer schema and
interpreter, imported lazily), Keras models are measured through the objects the caller passes in.

One module per concept: ``sizes`` (raw and ZIP_DEFLATED sizes), ``metrics`` (metric names, direction,
accuracy drop, saved percent, compute_metric), ``values`` (sparsity / unique values of an array, summary
over kernels), ``tflite_model`` (flatbuffer reading), ``layer_names`` (Keras layer from a tensor name),
``tflite_weights`` (per-tensor weight statistics of a .tflite), ``keras_weights`` (per-kernel statistics
of a Keras model), ``interpreter`` (prediction, evaluation, latency).
"""
from __future__ import annotations

from .interpreter import (
                          evaluate_keras,
                          evaluate_keras_batches,
                          evaluate_tflite,
                          evaluate_tflite_batches,
                          latency_ms,
                          make_interpreter,
                          predict_tflite,
)
from .keras_weights import iter_layers, keras_kernel, keras_weight_stats
from .layer_names import keras_layer_name
from .metrics import (
                          ERROR_METRICS,
                          FRACTION_METRICS,
                          LOWER_IS_BETTER,
                          METRICS,
                          accuracy_drop,
                          check_metric,
                          compute_metric,
                          higher_is_better,
                          saved_percent,
)
from .sizes import BytesOrPath, as_bytes, file_sizes, path_sizes, zip_size
from .tflite_model import (
                          has_data,
                          load_tflite_model,
                          op_names,
                          tensor_name,
                          tensor_quantization,
                          tensor_type_name,
                          tensor_values,
                          tflite_io,
)
from .tflite_weights import LARGE_CONSTANT, guess_quantization, tflite_weight_stats
from .values import summary, value_stats

__all__ = [
    "file_sizes", "path_sizes", "zip_size", "as_bytes", "BytesOrPath", "tflite_weight_stats", "tflite_io",
    "guess_quantization", "keras_weight_stats", "iter_layers", "keras_kernel", "summary", "compute_metric",
    "predict_tflite", "evaluate_tflite", "evaluate_keras", "evaluate_tflite_batches", "evaluate_keras_batches",
    "make_interpreter", "latency_ms", "keras_layer_name", "load_tflite_model", "op_names", "has_data",
    "tensor_name", "tensor_quantization", "tensor_type_name", "tensor_values", "value_stats", "LARGE_CONSTANT",
    "METRICS", "ERROR_METRICS", "FRACTION_METRICS", "LOWER_IS_BETTER", "higher_is_better", "check_metric",
    "accuracy_drop", "saved_percent",
]
