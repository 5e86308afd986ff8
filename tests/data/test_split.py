"""The Split API: the same samples give the same batches, draws and metric from every source."""
from __future__ import annotations

import numpy as np
import pytest
from data_helpers import CLASSES, H, N, W, read_all, write_image_dir, write_npz, write_tfrecord

from optimize_cli import data as D
from optimize_cli.data import ImageDirSource, NpzSource, TfrecordSource


@pytest.mark.slow
def test_data_same_samples_as_npz_image_dir_and_tfrecord_are_identical(tmp_path, tf, samples):
    from optimize_cli.measure import compute_metric
    from optimize_cli.tf import keras

    u8, x, y = samples
    npz = write_npz(tmp_path / "d.npz", x=x, y=y)
    img = write_image_dir(tf, tmp_path / "img", u8, y)
    rec = write_tfrecord(tf, tmp_path / "d.tfrecord", [{"png": tf.io.encode_png(u8[i]).numpy(), "label": y[i]}
                                                       for i in range(N)])
    splits = [
        D.load_split("eval", NpzSource(path=str(npz))),
        D.load_split("eval", ImageDirSource(type="image_dir", path=str(img), image_size=(H, W), color_mode="grayscale")),
        D.load_split("eval", TfrecordSource(type="tfrecord", path=str(rec), x="png", y="label", scale="1/255",
                                            features={"png": {"encoding": "png", "shape": [H, W, 1]},
                                                      "label": {"dtype": "int64"}})),
    ]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((H, W, 1)), keras.layers.Flatten(), keras.layers.Dense(CLASSES, "softmax")])
    accs = []
    for s in splits:
        xs, ys = read_all(s, bs=5)
        assert xs.dtype == np.float32 and np.array_equal(xs, x) and np.array_equal(ys, y)
        assert np.array_equal(s.take(8, seed=3), splits[0].take(8, seed=3)) or type(s).__name__ == "StreamSplit"
        preds = np.concatenate([model(b[0]).numpy() for b in s.batches(5)])
        accs.append(compute_metric(preds, ys, "accuracy"))
        D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True)
    assert accs[0] == accs[1] == accs[2]
