"""What the tests of optimize_cli/data share: sizes of the sample data, writers for every source format,
and the exit-3 assertion (the fixtures `tf` and `samples` are in conftest.py)."""
from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import numpy as np
import pytest

from optimize_cli.errors import EXIT_INPUT, InputError

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted((ROOT / "recipes" / "examples").glob("*.yaml"))
HAVE_TFDS = importlib.util.find_spec("tensorflow_datasets") is not None

N, H, W, CLASSES = 24, 6, 5, 3


def inputerror(fn, *parts: str) -> str:
    """fn() raises InputError (exit 3) whose message contains every part; the message."""
    with pytest.raises(InputError) as info:
        fn()
    msg = str(info.value)
    assert info.value.exit_code == EXIT_INPUT == 3
    for p in parts:
        assert p in msg, f"{p!r} not in {msg!r}"
    return msg


def read_all(split, bs=7):
    """(x, y) of the whole split from its batches (y None without labels)."""
    xs, ys = zip(*split.batches(bs), strict=True)
    return np.concatenate(xs), (np.concatenate(ys) if ys[0] is not None else None)


# ------------------------------------------------------------------------------------ writers


def write_npz(path: Path, compressed=False, **arrays) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def write_image_dir(tf, root: Path, u8, y, names=None, ext="png") -> Path:
    for i, (img, label) in enumerate(zip(u8, y, strict=True)):
        d = root / (names[label] if names else f"class{label}")
        d.mkdir(parents=True, exist_ok=True)
        data = tf.io.encode_png(img) if ext == "png" else tf.io.encode_jpeg(img, quality=100)
        tf.io.write_file(str(d / f"{i:03d}.{ext}"), data)
    return root


def _feature(tf, v):
    if isinstance(v, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))
    v = np.asarray(v)
    if v.dtype.kind == "f":
        return tf.train.Feature(float_list=tf.train.FloatList(value=v.ravel().tolist()))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=v.ravel().tolist()))


def write_tfrecord(tf, path: Path, rows) -> Path:
    """rows: dicts of feature name → bytes or array."""
    with tf.io.TFRecordWriter(str(path)) as w:
        for r in rows:
            ex = tf.train.Example(features=tf.train.Features(feature={k: _feature(tf, v) for k, v in r.items()}))
            w.write(ex.SerializeToString())
    return path


def write_module(folder: Path, body: str) -> str:
    name = f"user_data_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(body)
    return name
