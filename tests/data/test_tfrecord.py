"""type: tfrecord — value lists, raw bytes, encoded images; feature specs that do not fit (exit 3)."""
from __future__ import annotations

import numpy as np
from data_helpers import H, N, W, inputerror, read_all, write_tfrecord

from optimize_cli import data as D
from optimize_cli.data import TfrecordSource


def test_data_tfrecord_float_lists_raw_bytes_and_jpeg(tmp_path, tf, samples):
    u8, x, y = samples
    jpgs = [tf.io.encode_jpeg(u8[i], quality=95).numpy() for i in range(N)]
    p = write_tfrecord(tf, tmp_path / "a.tfrecord",
                       [{"pixels": x[i], "raw": u8[i].tobytes(), "jpg": jpgs[i],
                         "label": y[i], "target": np.float32([i, -i])} for i in range(N)])
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="pixels", y="label", features={
        "pixels": {"dtype": "float32", "shape": [H, W, 1]}, "label": {"dtype": "int64"}}))
    xs, ys = read_all(s)
    assert (s.samples, s.element_shape, s.label_shape) == (N, (H, W, 1), ())
    assert np.array_equal(xs, x) and np.array_equal(ys, y)
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="raw", y="target", scale=1 / 255,
                                             features={"raw": {"dtype": "uint8", "shape": [H, W, 1], "encoding": "raw"},
                                                       "target": {"shape": [2]}}))
    xs, ys = read_all(s)
    assert np.array_equal(xs, u8.astype(np.float32) * np.float32(1 / 255)) and ys.shape == (N, 2) and ys[3, 1] == -3
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(tmp_path / "*.tfrecord"), x="jpg", y="label",
                                             features={"jpg": {"encoding": "jpeg", "shape": [H, W, 1]},
                                                       "label": {"dtype": "int64"}}))
    xs, _ = read_all(s)
    assert np.array_equal(xs, np.stack([tf.io.decode_jpeg(j).numpy() for j in jpgs]))  # unscaled here


def test_data_bad_feature_spec(tmp_path, tf, samples):
    _, x, y = samples
    p = write_tfrecord(tf, tmp_path / "d.tfrecord", [{"pixels": x[i], "label": y[i]} for i in range(4)])

    def load(**features):
        return lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="pixels", y="label",
                                                            features={"label": {"dtype": "int64"}, **features}))

    inputerror(load(pixels={"dtype": "int64", "shape": [H, W, 1]}), "data.train.features.pixels",
                "the records hold a float list but the spec says an int64 list of shape [6, 5, 1]")
    inputerror(load(pixels={"shape": [H, W, 3]}), "data.train.features.pixels",
                "has 30 values but the spec's shape [6, 5, 3] needs 90")
    inputerror(load(pixels={"encoding": "png", "shape": [H, W, 1]}), "data.train.features.pixels",
                "the records hold a float list but the spec says a png image")
    inputerror(lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="image", y="label",
                                                             features={"image": {}, "label": {"dtype": "int64"}})),
                "data.train.features.image: the records have no feature 'image'", "has: label, pixels")
