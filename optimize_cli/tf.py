"""The one place that imports TensorFlow.

tfmot only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first
imported, and every module uses ``tf_keras`` through here. Import this module lazily (inside the
functions that need a model) so that commands which need no model stay fast.
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
from .quiet import ENV_KEEP_NATIVE_LOGS, native_stderr_silenced  # noqa: E402

# TensorFlow's C++ logging: errors too are off by default (what absl logs before InitializeLog ignores this;
# `run` points fd 2 at a log file for that, quiet.native_logs_to_file); OPTIMIZE_CLI_NATIVE_LOGS=1 keeps it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if os.environ.get(ENV_KEEP_NATIVE_LOGS) else "3")

with native_stderr_silenced():  # CUDA probing noise on CPU-only machines
    import tensorflow as tf  # noqa: E402
    import tensorflow_model_optimization as tfmot  # noqa: E402
    import tf_keras as keras  # noqa: E402

    tf.config.list_physical_devices()  # device probing happens here, inside the silenced block

tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras", "tfmot", "versions"]


def versions() -> dict:
    """Versions of the libraries that did the work (report provenance)."""
    from importlib.metadata import PackageNotFoundError, version

    def _v(dist: str) -> str | None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    return {
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "tfmot": _v("tensorflow-model-optimization"),
        "litert": _v("ai-edge-litert"),
    }


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow for a repeatable run."""
    keras.utils.set_random_seed(seed)
