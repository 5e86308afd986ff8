"""Fixtures of the data tests: TensorFlow, and a small labelled image set."""
from __future__ import annotations

import numpy as np
import pytest
from data_helpers import CLASSES, H, N, W


@pytest.fixture(scope="module")
def tf():
    from optimize_cli.tf import tf

    return tf


@pytest.fixture(scope="module")
def samples():
    """uint8 images (N, H, W, 1) sorted by label, their float32 x = u8 * (1/255), int64 labels."""
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (N, H, W, 1), dtype=np.uint8)
    y = np.sort(np.tile(np.arange(CLASSES), N // CLASSES)).astype(np.int64)  # image_dir order: by class
    x = u8.astype(np.float32) * np.float32(1 / 255)
    return u8, x, y
