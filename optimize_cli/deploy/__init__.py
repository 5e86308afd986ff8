"""Deployable bytes: transforms of an exported .tflite that shrink what a runtime loads, each checked by
running the file before and after.

- `slim.slim(tflite, runtime)`: drops what the runtime never reads (internal tensor names, all-zero
  per-channel zero points on TFLM, metadata), per runtime, through the flatbuffer schema module.
- `lut.compress(tflite, inputs)`: TFLM look-up-table compression, tensor by tensor, only where it pays.
- `int4.quantize_int4(float_tflite, representative)`: int4 weights through ai-edge-quantizer (LiteRT only).
- `verify`: run two files on LiteRT / TFLM / Vela and assert they agree bit for bit.

Nothing here imports TensorFlow, tflite-micro or ai-edge-quantizer at module import.
"""
from __future__ import annotations

RUNTIMES = ("litert", "tflm", "ethos-u")
