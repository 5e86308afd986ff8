"""type: python — a function's tf.data.Dataset; only with --allow-code; streamed, never materialised."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from data_helpers import H, N, W, inputerror, read_all, write_module

from optimize_cli import data as D
from optimize_cli.data import DataConfig, PythonSource
from optimize_cli.data import split as data_split
from optimize_cli.errors import EXIT_USAGE, RecipeError
from optimize_cli.recipe import load_recipe


def test_data_python_source_batched_or_not_and_dict_elements(tmp_path, samples):
    _, x, y = samples
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    mod = write_module(tmp_path, f"""
import numpy as np
import tensorflow as tf

def load(batch=None, as_dict=False, x_only=False):
    x, y = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})
    ds = tf.data.Dataset.from_tensor_slices({{"x": x, "y": y}} if as_dict else (x,) if x_only else (x, y))
    return ds.batch(batch) if batch else ds
""")
    for kwargs in ({}, {"batch": 5}, {"as_dict": True, "batch": 4}):
        s = D.load_split("train", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
                                               kwargs=kwargs), allow_code=True)
        assert (s.element_shape, s.label_shape, s.samples) == ((H, W, 1), (), N)
        xs, ys = read_all(s)
        assert np.array_equal(xs, x) and np.array_equal(ys, y)
    rep = D.load_split("representative", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
                                                      kwargs={"x_only": True}), allow_code=True)
    assert not rep.has_labels and rep.take(4, 0).shape == (4, H, W, 1)
    inputerror(lambda: D.load_split("train", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
                                                           kwargs={"x_only": True}), allow_code=True),
                "data.train", "no labels")


def test_data_python_source_needs_allow_code(tmp_path):
    mod = write_module(tmp_path, "raise SystemExit('must not be imported')\n")
    src = PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path))
    with pytest.raises(RecipeError) as info:
        D.load_split("train", src)
    assert info.value.exit_code == EXIT_USAGE
    assert str(info.value) == ("data.train: python data sources run code from the recipe; pass --allow-code to "
                               "allow it")
    with pytest.raises(RecipeError, match="data.representative: python data sources run code"):
        D.load_splits(DataConfig(representative=src))
    assert mod not in sys.modules


def test_data_recipe_with_python_source_validates_without_importing_it(tmp_path):
    mod = write_module(tmp_path, "raise SystemExit('must not be imported')\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "r.yaml").write_text(f"version: 1\nmodel: model\ndata:\n  train: {{type: python, function: "
                                     f"'{mod}:load', path: .}}\nstages: [prune]\n")
    r = load_recipe(tmp_path / "r.yaml")
    assert r.data.train.path == str(tmp_path) and r.data.code_sources() == ["train"]
    assert mod not in sys.modules
    with pytest.raises(RecipeError, match="pass --allow-code"):
        r.data.require_allow_code(False)
    r.data.require_allow_code(True)


@pytest.mark.slow
def test_data_python_generator_source_is_never_materialised(tmp_path, monkeypatch):
    mod = write_module(tmp_path, """
import numpy as np
import tensorflow as tf

def load(bound):
    def gen():
        i = 0
        while True:  # endless; raises when read past the bound
            if i >= bound:
                raise RuntimeError(f"iterated past the bound of {bound} samples")
            yield np.full((4,), i % 7, np.float32), np.int64(i % 3)
            i += 1
    return tf.data.Dataset.from_generator(
        gen, output_signature=(tf.TensorSpec((4,), tf.float32), tf.TensorSpec((), tf.int64)))
""")
    monkeypatch.setattr(data_split, "SHUFFLE_BUFFER", 400)  # smaller than the default 10_000, to keep the test fast
    bound = data_split.SHUFFLE_BUFFER + 400  # a shuffle reads its buffer ahead, and no more
    s = D.load_split("train", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
                                           kwargs={"bound": bound}), allow_code=True)
    assert (s.element_shape, s.label_shape) == ((4,), ())
    it = s.batches(16)
    first = [next(it) for _ in range(3)]
    it.close()
    assert [b[0].shape for b in first] == [(16, 4)] * 3 and first[1][1].tolist()[:3] == [1, 2, 0]
    for shuffle in (False, True):
        batches = list(s.dataset(32, shuffle=shuffle, seed=0).take(4))
        assert [tuple(b[0].shape) for b in batches] == [(32, 4)] * 4
    a, b = s.take(64, seed=1), s.take(64, seed=1)
    assert a.shape == (64, 4) and np.array_equal(a, b)  # deterministic, from a bounded shuffle buffer
    assert s.first(3)[:, 0].tolist() == [0, 1, 2]
    # a whole pass does reach the bound: the calls above really did stop early
    inputerror(lambda: s.samples, "data.train", f"iterated past the bound of {bound} samples")
