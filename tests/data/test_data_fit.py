"""Checks against the model (shapes, outputs, labels, finite values) and the calibration sample."""
from __future__ import annotations

import numpy as np
from data_helpers import CLASSES, H, N, W, inputerror, read_all, write_image_dir, write_module, write_npz

from optimize_cli import data as D
from optimize_cli.data import ImageDirSource, NpzSource


def test_data_representative_take_is_deterministic_and_bounded(tmp_path, tf, samples):
    u8, x, y = samples
    s = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=x, y=y))))
    a = D.representative_sample(s, 10, seed=0)
    assert a.shape == (10, H, W, 1) and np.array_equal(a, D.representative_sample(s, 10, seed=0))
    assert not np.array_equal(a, D.representative_sample(s, 10, seed=1))
    assert D.representative_sample(s, 1000, seed=0).shape == (N, H, W, 1)  # never more than the split
    img = write_image_dir(tf, tmp_path / "img", u8, y)
    si = D.load_split("representative", ImageDirSource(type="image_dir", path=str(img), image_size=(H, W),
                                                       color_mode="grayscale"))
    assert np.array_equal(si.take(10, 0), a)  # random-access sources draw the same indices


def test_data_check_one_hot_binary_regression_and_multi_output(tmp_path, samples):
    _, x, y = samples
    onehot = np.eye(CLASSES, dtype=np.float32)[y]
    s = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "a.npz", x=x, y=onehot))))
    D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True)
    assert s._n == N  # the checking pass counted the samples
    b = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "b.npz", x=x, y=(y > 0).astype(np.float32)))))
    D.check_against_model(b, (None, H, W, 1), (None, 1), True)
    r = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "r.npz", x=x, y=np.float32(y)[:, None] * 0.3))))
    D.check_against_model(r, (None, H, W, 1), (None, 1), False)
    # multi-output: labels belong to the output evaluation.output names
    outs, names = [(None, 1), (None, CLASSES)], ["score", "label"]
    D.check_against_model(s, (None, H, W, 1), outs, True, output="label", output_names=names)
    D.check_against_model(s, (None, H, W, 1), outs, True, output=1, output_names=names)
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output="score", output_names=names),
                "data.eval: labels have shape (3,)", "(None, 1)")
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output="nope", output_names=names),
                "evaluation.output: 'nope' is not an output of the model (outputs: score, label)")
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output=2, output_names=names),
                "evaluation.output: 2 is out of range")


def test_data_bad_shape_mismatch_with_model(tmp_path, samples):
    _, x, y = samples
    s = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=x, y=y))))
    inputerror(lambda: D.check_against_model(s, (None, 8, 8, 1), (None, CLASSES), True),
                "data.eval: samples have shape (6, 5, 1) but the model's input is (None, 8, 8, 1)")
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, 4, 2), False),
                "data.eval: labels have shape () but the model's output is (None, 4, 2)")


def test_data_bad_labels_out_of_range(tmp_path, samples):
    _, x, y = samples
    bad = y.copy()
    bad[13] = 7
    s = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=x, y=bad))))
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True),
                "data.train: sample 13 has label 7 but the model has 3 outputs (labels must be 0..2)")
    b = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "b.npz", x=x, y=np.float32(y)))))
    inputerror(lambda: D.check_against_model(b, (None, H, W, 1), (None, 1), True),
                "data.train: sample 16 has label 2.0 but binary classification labels must be in 0..1")


def test_data_bad_nan_in_inputs(tmp_path, samples):
    _, x, y = samples
    xn = x.copy()
    xn[17, 2, 3, 0] = np.nan
    s = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=xn, y=y))))
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True),
                "data.eval: sample 17 has NaN or infinite input values")
    tr, ev = s.split_off(0.5, 0)
    part = tr if 17 in tr._index else ev
    inputerror(lambda: D.check_against_model(part, (None, H, W, 1), (None, CLASSES), True),
                "NaN or infinite input values", "(row 17 of d.npz[x])")


def test_data_integer_model_input_gets_integer_x_or_exit_3(tmp_path, tf):
    """For a model whose input is int32 (token ids) every way a split gives x gives int32 — from int32 or
    whole-number float arrays, npz (random access) or a python tf.data source (streamed), validation splits
    included; a fraction exits 3 naming the split, the file and key and the sample."""
    from optimize_cli.data import PythonSource

    ids = np.arange(N * 4, dtype=np.int32).reshape(N, 4) % 7
    y = np.arange(N) % CLASSES
    np.save(tmp_path / "ids.npy", ids.astype(np.float32))
    mod = write_module(tmp_path, f"""
import numpy as np
import tensorflow as tf

def load():
    return tf.data.Dataset.from_tensor_slices((np.load({str(tmp_path / 'ids.npy')!r}), np.arange({N}) % {CLASSES}))
""")
    splits = [D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "i.npz", x=ids, y=y)))),
              D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "f.npz", x=np.float32(ids), y=y)))),
              D.load_split("train", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path)),
                           allow_code=True)]
    for s in splits:
        D.check_against_model(s, (None, 4), (None, CLASSES), True, input_dtype=np.int32)
        rest, held = s.split_off(0.25, 0)
        for x in (read_all(s)[0], s.take(5, 0), s.first(2), s.x, next(iter(s.dataset(8)))[0].numpy(),
                  read_all(held)[0], rest.take(3, 0)):
            assert x.dtype == np.int32, (s, x.dtype)
        assert np.array_equal(read_all(s)[0], ids)
    frac = np.float32(ids)
    frac[5, 2] = 1.25
    s = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "frac.npz", x=frac, y=y))))
    inputerror(lambda: D.check_against_model(s, (None, 4), (None, CLASSES), True, input_dtype=np.int32),
               "data.train: frac.npz[x] sample 5 has input value 1.25, not a whole number", "int32")
    D.check_against_model(s, (None, 4), (None, CLASSES), True)  # a float model takes it
    assert read_all(s)[0].dtype == np.float32


def test_data_shape_mismatch_with_model_gives_the_fix(tmp_path, samples):
    """Found while loading (any source type): flattened images and a missing channel axis get the fix."""
    _, x, y = samples
    flat = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "f.npz", x=x.reshape(len(x), -1), y=y))))
    inputerror(lambda: D.check_against_model(flat, (None, H, W, 1), (None, CLASSES), True),
               f"data.eval: samples have shape ({H * W},)", f"reshape them: x = x.reshape(-1, {H}, {W}, 1)")
    bare = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "c.npz", x=x[..., 0], y=y))))
    inputerror(lambda: D.check_against_model(bare, (None, H, W, 1), (None, CLASSES), True),
               f"data.eval: samples have shape ({H}, {W})", "add a channel axis: x = x[..., np.newaxis]")
