"""Moved: layer matching and wrapping to `stages.layers`, the fine-tuning loop to `training.fit`, the
stage label and seeding to `stages.base`. Kept as a re-export for callers not yet moved (the pipeline
imports `is_exact_name`, `iter_layers` from here)."""
from __future__ import annotations

from ..training.fit import DivergenceGuard, batchnorm_layers
from .base import seed, stage_label
from .layers import (
    DEPTHWISE_REASON,
    check_skip_layers,
    copy_model,
    has_kernel,
    is_exact_name,
    iter_layers,
    layer_kernels,
    registry_weights,
    skip_match,
    skip_match_any,
    skip_record,
    wrap_per_layer,
)

__all__ = ["DEPTHWISE_REASON", "DivergenceGuard", "batchnorm_layers", "check_skip_layers", "copy_model", "has_kernel",
           "is_exact_name", "iter_layers", "layer_kernels", "registry_weights", "seed", "skip_match", "skip_match_any",
           "skip_record", "stage_label", "wrap_per_layer"]
