"""Deployable bytes: transforms of an exported .tflite that shrink what a runtime loads, each checked by
running the file before and after.

- `slim.slim(tflite, changes, check=)`: drops what a runtime never reads (internal tensor names, all-zero
  per-channel zero points for TFLM, metadata), through the flatbuffer schema module; each target says
  which changes its runtime gets (its module's `SLIM_CHANGES`, optimize_cli/targets/).
- `lut.compress(tflite, inputs)`: TFLM look-up-table compression, tensor by tensor, only where it pays.
- `int4.quantize_int4(float_tflite, representative)`: int4 weights through ai-edge-quantizer (LiteRT only: a target says so with `INT4 = True`).
- `verify`: run two files with a runner (LiteRT, TFLM) and assert they agree bit for bit.

Nothing here imports TensorFlow, tflite-micro or ai-edge-quantizer at module import.
"""
from __future__ import annotations

