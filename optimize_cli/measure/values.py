"""Statistics of weight values, shared by the .tflite and the Keras measurements: sparsity and unique
values over a tensor and per output channel, and their summary over kernels.

* sparsity is the fraction of exact zeros; in a quantized tensor a weight is zero when its integer value
  equals the zero point of its channel.
* unique weights are counted over the whole tensor and per output channel; an int8 per-channel kernel
  clustered to N values shows up to N distinct values per channel but more over the tensor.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np


def _unique_per_channel(values: np.ndarray, axis: Optional[int]) -> Optional[int]:
    """Max over channels (along ``axis``) of the number of distinct values; None without an axis."""
    if axis is None or values.ndim == 0 or values.size == 0:
        return None
    rows = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    if rows.shape[1] == 0:
        return 0
    s = np.sort(rows, axis=1)
    counts = 1 + np.count_nonzero(s[:, 1:] != s[:, :-1], axis=1)
    return int(counts.max())


def _zero_mask(values: np.ndarray, zero_point: Optional[np.ndarray], axis: Optional[int]) -> np.ndarray:
    if zero_point is None or zero_point.size == 0 or not np.any(zero_point):
        return values == 0
    if zero_point.size == 1 or axis is None:
        return values == zero_point.reshape(-1)[0]
    shape = [1] * values.ndim
    shape[axis] = -1
    return values == zero_point.reshape(shape)


def value_stats(values: np.ndarray, channel_axis: Optional[int] = None,
                zero_point: Optional[np.ndarray] = None) -> dict:
    """Sparsity (exact zeros, or values equal to the channel's zero point), distinct values over the
    whole array and the largest number of distinct values in one channel along ``channel_axis``."""
    values = np.asarray(values)
    n = int(values.size)
    channel_axis = channel_axis % values.ndim if channel_axis is not None and values.ndim else None
    zeros = int(np.count_nonzero(_zero_mask(values, zero_point, channel_axis))) if n else 0
    unique = int(np.unique(values).size) if n else 0
    per_ch = _unique_per_channel(values, channel_axis)
    return {
        "params": n,
        "zeros": zeros,
        "sparsity": zeros / n if n else 0.0,
        "unique_weights": unique,
        "max_unique_per_channel": unique if per_ch is None else per_ch,
        "channels": int(values.shape[channel_axis]) if channel_axis is not None else 1,
    }



def summary(stats: Iterable[dict], names: Optional[Iterable[str]] = None) -> dict:
    """Params-weighted sparsity and the largest unique-value counts over kernels.

    ``stats`` from keras_weight_stats or tflite_weight_stats (only ``role == "weight"`` entries count);
    ``names`` limits the summary to those layers (e.g. leave out kernels a stage skipped)."""
    wanted = set(names) if names is not None else None
    rows = [s for s in stats if s.get("role", "weight") == "weight"
            and (wanted is None or s.get("name") in wanted or s.get("layer") in wanted)]
    params = sum(int(s["params"]) for s in rows)
    zeros = sum(int(s.get("zeros", round(s["sparsity"] * s["params"]))) for s in rows)
    return {
        "layers": len(rows),
        "params": params,
        "sparsity": zeros / params if params else 0.0,
        "max_unique_weights": max((int(s["unique_weights"]) for s in rows), default=None),
        "max_unique_per_channel": max((int(s["max_unique_per_channel"]) for s in rows), default=None),
    }

