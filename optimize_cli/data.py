"""Data sources → arrays and batched `tf.data.Dataset`s; representative samples for calibration."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import InputError


@dataclass
class Split:
    """One split of the data (train, eval or representative), loaded and checked."""

    name: str
    source: Any
    x: np.ndarray
    y: Optional[np.ndarray]

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0):
        """A batched, prefetched `tf.data.Dataset` of (x, y)."""
        from .tf import tf

        ds = tf.data.Dataset.from_tensor_slices((self.x, self.y) if self.y is not None else self.x)
        if shuffle:
            ds = ds.shuffle(min(self.samples, 10_000), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _load_npz(split: str, src) -> Split:
    where = f"data.{split}"
    path = Path(src.path)
    if not path.is_file():
        raise InputError(f"{where}.path: {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.keys())
            for key_name in ("x", "y"):
                key = getattr(src, key_name)
                if key not in keys:
                    raise InputError(
                        f"{where}.{key_name}: key '{key}' not in {path.name} (it has: {', '.join(keys) or 'nothing'})"
                    )
            x = f[src.x]
            y = f[src.y]
    except InputError:
        raise
    except ValueError as e:
        raise InputError(f"{where}.path: {path}: cannot read arrays ({e})") from None
    except Exception as e:  # zipfile.BadZipFile, OSError, pickle refusal
        raise InputError(f"{where}.path: {path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    x = x[src.start:src.stop]
    y = y[src.start:src.stop]
    if len(x) == 0:
        raise InputError(f"{where}: {path.name}[{src.x}] has no samples in the selected range")
    if len(x) != len(y):
        raise InputError(f"{where}: {path.name}: '{src.x}' has {len(x)} samples but '{src.y}' has {len(y)}")
    if x.dtype.kind not in "fiub":
        raise InputError(f"{where}: {path.name}[{src.x}] has dtype {x.dtype}, expected numbers")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).reshape(len(x), -1).any(axis=1).sum())
        raise InputError(f"{where}: {path.name}[{src.x}] has NaN or infinite values in {bad} samples")
    return Split(split, src, x, y)


_LOADERS = {"npz": _load_npz}


def load_split(split: str, src) -> Split:
    """Load `data.<split>` from its source."""
    return _LOADERS[src.type](split, src)


def check_against_model(split: Split, input_shape, output_shape, classification: bool) -> None:
    """Shapes of a split must fit the model's input and output; exit 3 naming both otherwise."""
    where = f"data.{split.name}"
    want = tuple(input_shape[1:])
    got = tuple(split.x.shape[1:])
    if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
        raise InputError(f"{where}: samples have shape {got} but the model's input is {tuple(input_shape)} "
                         f"(without the batch axis: {want})")
    if split.y is None or output_shape is None:
        return
    if classification and output_shape[-1] and output_shape[-1] > 1:
        y = split.y
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
                raise InputError(f"{where}: labels are not integers but the model is a {output_shape[-1]}-class classifier")
            lo, hi = int(np.min(y)), int(np.max(y))
            if lo < 0 or hi >= output_shape[-1]:
                raise InputError(f"{where}: labels range {lo}..{hi} but the model has {output_shape[-1]} outputs "
                                 f"(labels must be 0..{output_shape[-1] - 1})")
        elif y.shape[1:] != tuple(output_shape[1:]):
            raise InputError(f"{where}: labels have shape {y.shape[1:]} but the model's output is {tuple(output_shape)}")


def representative_sample(split: Split, n: int, seed: int) -> np.ndarray:
    """n samples drawn deterministically (without replacement) for int8 / int16x8 calibration."""
    rng = np.random.default_rng(seed)
    n = min(n, split.samples)
    idx = np.sort(rng.choice(split.samples, size=n, replace=False))
    return split.x[idx]
