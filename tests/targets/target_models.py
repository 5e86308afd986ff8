"""The .tflite files the target tests measure: a Keras model converted to float32 ("none") or to
full-integer int8 (int8 inputs and outputs, calibrated on 32 samples of `x`)."""
from __future__ import annotations


def convert(tf, model, mode: str, x=None) -> bytes:
    if mode not in ("none", "int8"):
        raise ValueError(f"the target tests convert to none or int8 (got {mode!r})")
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "int8":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(32))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = c.inference_output_type = tf.int8
    return c.convert()
