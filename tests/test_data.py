"""Data sources (optimize_cli/data.py): each source type loads and streams the right shapes and labels; the
same samples as npz, image folder and TFRecord are identical; splits never materialise; bad data exits 3.

Every test builds its own small files in tmp_path.
"""
from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from optimize_cli import data as D
from optimize_cli.errors import EXIT_INPUT, EXIT_USAGE, InputError, RecipeError
from optimize_cli.recipe import (
    DataConfig,
    ImageDirSource,
    NpzSource,
    PythonSource,
    TfdsSource,
    TfrecordSource,
    load_recipe,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "recipes" / "examples").glob("*.yaml"))
HAVE_TFDS = importlib.util.find_spec("tensorflow_datasets") is not None

N, H, W, CLASSES = 24, 6, 5, 3


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


def _inputerror(fn, *parts: str) -> str:
    with pytest.raises(InputError) as info:
        fn()
    msg = str(info.value)
    assert info.value.exit_code == EXIT_INPUT == 3
    for p in parts:
        assert p in msg, f"{p!r} not in {msg!r}"
    return msg


def _all(split, bs=7):
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


# ------------------------------------------------------------------------------------ each source


def test_data_npz_streams_memory_mapped_arrays(tmp_path, samples):
    _, x, y = samples
    for compressed in (False, True):
        p = write_npz(tmp_path / f"d{compressed}.npz", compressed, x_train=x, y_train=y, other=np.zeros(3))
        s = D.load_split("train", NpzSource(path=str(p), x="x_train", y="y_train", start=2, stop=20))
        assert isinstance(s._xa, np.memmap) is (not compressed)  # uncompressed members are memory-mapped
        assert (s.samples, s.element_shape, s.label_shape) == (18, (H, W, 1), ())
        xs, ys = _all(s)
        assert xs.dtype == np.float32 and np.array_equal(xs, x[2:20]) and np.array_equal(ys, y[2:20])
        b = next(iter(s.dataset(5, shuffle=True, seed=1)))
        assert tuple(b[0].shape) == (5, H, W, 1) and tuple(b[1].shape) == (5,)
        assert np.array_equal(s.x, x[2:20]) and np.array_equal(s.y, y[2:20])


def test_data_image_dir_sorted_classes_grayscale_rgb_and_resize(tmp_path, tf, samples):
    u8, x, y = samples
    root = write_image_dir(tf, tmp_path / "img", u8, y, names=["b_dog", "a_cat", "c_eel"])
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(H, W),
                                             color_mode="grayscale"))
    assert s.class_names == ["a_cat", "b_dog", "c_eel"]  # sorted folder names, not creation order
    xs, ys = _all(s)
    remap = np.array([1, 0, 2])  # label 0 was written to b_dog, which sorts second
    order = np.argsort(remap[y], kind="stable")
    assert np.array_equal(ys, remap[y][order]) and np.array_equal(xs, x[order])
    # class_names fixes the order (and may pick a subset)
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(H, W),
                                             color_mode="grayscale", class_names=["c_eel", "b_dog"]))
    xs, ys = _all(s)
    assert s.samples == 16 and ys.tolist() == [0] * 8 + [1] * 8
    # rgb, resized, scale/offset
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(3, 4), color_mode="rgb",
                                             scale="1/127.5", offset=-1))
    xs, _ = _all(s)
    assert s.element_shape == (3, 4, 3) and xs.shape == (N, 3, 4, 3)
    assert xs.min() >= -1.0 - 1e-6 and xs.max() <= 1.0 + 1e-6
    assert np.allclose(xs[..., 0], xs[..., 2])  # gray images as rgb: equal channels


def test_data_tfrecord_float_lists_raw_bytes_and_jpeg(tmp_path, tf, samples):
    u8, x, y = samples
    jpgs = [tf.io.encode_jpeg(u8[i], quality=95).numpy() for i in range(N)]
    p = write_tfrecord(tf, tmp_path / "a.tfrecord",
                       [{"pixels": x[i], "raw": u8[i].tobytes(), "jpg": jpgs[i],
                         "label": y[i], "target": np.float32([i, -i])} for i in range(N)])
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="pixels", y="label", features={
        "pixels": {"dtype": "float32", "shape": [H, W, 1]}, "label": {"dtype": "int64"}}))
    xs, ys = _all(s)
    assert (s.samples, s.element_shape, s.label_shape) == (N, (H, W, 1), ())
    assert np.array_equal(xs, x) and np.array_equal(ys, y)
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="raw", y="target", scale=1 / 255,
                                             features={"raw": {"dtype": "uint8", "shape": [H, W, 1], "encoding": "raw"},
                                                       "target": {"shape": [2]}}))
    xs, ys = _all(s)
    assert np.array_equal(xs, u8.astype(np.float32) * np.float32(1 / 255)) and ys.shape == (N, 2) and ys[3, 1] == -3
    s = D.load_split("train", TfrecordSource(type="tfrecord", path=str(tmp_path / "*.tfrecord"), x="jpg", y="label",
                                             features={"jpg": {"encoding": "jpeg", "shape": [H, W, 1]},
                                                       "label": {"dtype": "int64"}}))
    xs, _ = _all(s)
    assert np.array_equal(xs, np.stack([tf.io.decode_jpeg(j).numpy() for j in jpgs]))  # unscaled here


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
        xs, ys = _all(s)
        assert np.array_equal(xs, x) and np.array_equal(ys, y)
    rep = D.load_split("representative", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
                                                      kwargs={"x_only": True}), allow_code=True)
    assert not rep.has_labels and rep.take(4, 0).shape == (4, H, W, 1)
    _inputerror(lambda: D.load_split("train", PythonSource(type="python", function=f"{mod}:load", path=str(tmp_path),
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


@pytest.mark.skipif(not HAVE_TFDS, reason="tensorflow-datasets is not installed")
def test_data_tfds_reads_a_prepared_data_dir(tmp_path, samples):
    import tensorflow_datasets as tfds

    u8, _, y = samples
    with tfds.core.registered.skip_registration():
        class TinyImages(tfds.core.GeneratorBasedBuilder):
            VERSION = tfds.core.Version("1.0.0")
            pkg_dir_path = tmp_path  # no package resources for a builder defined in a test

            def _info(self):
                return tfds.core.DatasetInfo(
                    builder=self, features=tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(H, W, 1)),
                                                         "label": tfds.features.ClassLabel(num_classes=CLASSES)}),
                    supervised_keys=("image", "label"))

            def _split_generators(self, dl_manager):
                return {"train": self._generate_examples()}

            def _generate_examples(self):
                for i in range(N):
                    yield i, {"image": u8[i], "label": int(y[i])}

    TinyImages(data_dir=str(tmp_path)).download_and_prepare()
    s = D.load_split("train", TfdsSource(type="tfds", name="tiny_images", split="train[:12]", data_dir=str(tmp_path)))
    assert (s.samples, s.element_shape, s.label_shape) == (12, (H, W, 1), ())
    xs, ys = _all(s)
    label_of = {u8[i].tobytes(): int(y[i]) for i in range(N)}  # tfds stores examples in its own order
    assert [label_of[xi.astype(np.uint8).tobytes()] for xi in xs] == ys.tolist()
    s = D.load_split("eval", TfdsSource(type="tfds", name="tiny_images:1.0.0", split="train", x="image", y="label",
                                        scale=1 / 255, data_dir=str(tmp_path)))
    assert s.samples == N and _all(s)[0].max() <= 1.0
    _inputerror(lambda: D.load_split("train", TfdsSource(type="tfds", name="tiny_images", split="test",
                                                         data_dir=str(tmp_path))), "data.train.split", "'test'")


def test_data_tfds_missing_dataset_names_where_it_looked(tmp_path, monkeypatch):
    src = TfdsSource(type="tfds", name="mnist", split="train", data_dir=str(tmp_path))
    if HAVE_TFDS:
        _inputerror(lambda: D.load_split("train", src), "data.train", "'mnist' is not prepared in",
                    str(tmp_path / "mnist"), "never downloads")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # as if not installed
    _inputerror(lambda: D.load_split("train", src), "data.train", "pip install tensorflow-datasets")


# ------------------------------------------------------------------------------------ equivalence


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
        xs, ys = _all(s, bs=5)
        assert xs.dtype == np.float32 and np.array_equal(xs, x) and np.array_equal(ys, y)
        assert np.array_equal(s.take(8, seed=3), splits[0].take(8, seed=3)) or type(s).__name__ == "StreamSplit"
        preds = np.concatenate([model(b[0]).numpy() for b in s.batches(5)])
        accs.append(compute_metric(preds, ys, "accuracy"))
        D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True)
    assert accs[0] == accs[1] == accs[2]


# ------------------------------------------------------------------------------------ streaming


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
    monkeypatch.setattr(D, "SHUFFLE_BUFFER", 400)  # smaller than the default 10_000, to keep the test fast
    bound = D.SHUFFLE_BUFFER + 400  # a shuffle reads its buffer ahead, and no more
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
    _inputerror(lambda: s.samples, "data.train", f"iterated past the bound of {bound} samples")


# ------------------------------------------------------------------------------------ splits


def test_data_validation_split_is_deterministic_exact_and_disjoint(tmp_path, tf, samples):
    u8, x, y = samples
    npz = write_npz(tmp_path / "d.npz", x=x, y=y)
    rec = write_tfrecord(tf, tmp_path / "d.tfrecord", [{"x": x[i], "y": y[i]} for i in range(N)])
    feats = {"x": {"shape": [H, W, 1]}, "y": {"dtype": "int64"}}
    for train in ({"path": str(npz)}, {"type": "tfrecord", "path": str(rec), "features": feats}):
        data = DataConfig(train=train, eval={"validation_split": 0.25, "seed": 5})
        sp = D.load_splits(data)
        tr, ev = sp["train"], sp["eval"]
        assert (tr.samples, ev.samples) == (18, 6)
        held = np.sort(np.random.default_rng(5).permutation(N)[:6])
        xt, yt = _all(tr)
        xe, ye = _all(ev)
        assert np.array_equal(xe, x[held]) and np.array_equal(ye, y[held])  # in source order
        assert np.array_equal(xt, np.delete(x, held, axis=0))
        assert ev.where == "data.eval (validation_split of data.train)"
        again = D.load_split("eval", data.train, validation=data.eval)
        assert np.array_equal(_all(again)[0], xe)
    with pytest.raises(InputError, match="leaves no samples to evaluate"):
        D.load_splits(DataConfig(train={"path": str(npz)}, eval={"validation_split": 0.01}))


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


# ------------------------------------------------------------------------------------ model checks


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
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output="score", output_names=names),
                "data.eval: labels have shape (3,)", "(None, 1)")
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output="nope", output_names=names),
                "evaluation.output: 'nope' is not an output of the model (outputs: score, label)")
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), outs, True, output=2, output_names=names),
                "evaluation.output: 2 is out of range")


# ------------------------------------------------------------------------------------ bad data: exit 3


def test_data_bad_missing_path(tmp_path):
    _inputerror(lambda: D.load_split("train", NpzSource(path=str(tmp_path / "no.npz"))), "data.train.path",
                str(tmp_path / "no.npz"), "no such file")
    _inputerror(lambda: D.load_split("eval", ImageDirSource(type="image_dir", path=str(tmp_path / "imgs"),
                                                            image_size=(2, 2))),
                "data.eval.path", str(tmp_path / "imgs"), "no such folder")
    _inputerror(lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(tmp_path / "*.tfrecord"),
                                                             features={"x": {}, "y": {}})),
                "data.train.path: no file matches", str(tmp_path / "*.tfrecord"))


def test_data_bad_empty_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    src = ImageDirSource(type="image_dir", path=str(tmp_path / "imgs"), image_size=(2, 2))
    _inputerror(lambda: D.load_split("train", src), "data.train.path", str(tmp_path / "imgs"), "no class subfolders")
    (tmp_path / "imgs" / "cat").mkdir()
    (tmp_path / "imgs" / "cat" / "notes.txt").write_text("not an image")
    _inputerror(lambda: D.load_split("train", src), "data.train.path", "no images", "(cat)")


def test_data_bad_unreadable_or_corrupt_image(tmp_path, tf, samples):
    u8, _, y = samples
    root = write_image_dir(tf, tmp_path / "img", u8[:6], np.array([0, 0, 0, 1, 1, 1]))
    bad = root / "class1" / "004.png"
    good = bad.read_bytes()
    bad.write_bytes(b"this is not a png")
    src = ImageDirSource(type="image_dir", path=str(root), image_size=(H, W), color_mode="grayscale")
    _inputerror(lambda: D.load_split("train", src), "data.train: cannot read image", str(bad), "not a PNG")
    bad.write_bytes(good[:40])  # a PNG header, then nothing: found while streaming, named with its index
    s = D.load_split("train", src)
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, 2), True),
                "data.train: cannot read sample 4", str(bad))
    _inputerror(lambda: list(s.batches(2)), "sample 4", str(bad))


def test_data_bad_feature_spec(tmp_path, tf, samples):
    _, x, y = samples
    p = write_tfrecord(tf, tmp_path / "d.tfrecord", [{"pixels": x[i], "label": y[i]} for i in range(4)])

    def load(**features):
        return lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="pixels", y="label",
                                                            features={"label": {"dtype": "int64"}, **features}))

    _inputerror(load(pixels={"dtype": "int64", "shape": [H, W, 1]}), "data.train.features.pixels",
                "the records hold a float list but the spec says an int64 list of shape [6, 5, 1]")
    _inputerror(load(pixels={"shape": [H, W, 3]}), "data.train.features.pixels",
                "has 30 values but the spec's shape [6, 5, 3] needs 90")
    _inputerror(load(pixels={"encoding": "png", "shape": [H, W, 1]}), "data.train.features.pixels",
                "the records hold a float list but the spec says a png image")
    _inputerror(lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(p), x="image", y="label",
                                                             features={"image": {}, "label": {"dtype": "int64"}})),
                "data.train.features.image: the records have no feature 'image'", "has: label, pixels")


def test_data_bad_shape_mismatch_with_model(tmp_path, samples):
    _, x, y = samples
    s = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=x, y=y))))
    _inputerror(lambda: D.check_against_model(s, (None, 8, 8, 1), (None, CLASSES), True),
                "data.eval: samples have shape (6, 5, 1) but the model's input is (None, 8, 8, 1)")
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, 4, 2), False),
                "data.eval: labels have shape () but the model's output is (None, 4, 2)")


def test_data_bad_labels_out_of_range(tmp_path, samples):
    _, x, y = samples
    bad = y.copy()
    bad[13] = 7
    s = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=x, y=bad))))
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True),
                "data.train: sample 13 has label 7 but the model has 3 outputs (labels must be 0..2)")
    b = D.load_split("train", NpzSource(path=str(write_npz(tmp_path / "b.npz", x=x, y=np.float32(y)))))
    _inputerror(lambda: D.check_against_model(b, (None, H, W, 1), (None, 1), True),
                "data.train: sample 16 has label 2.0 but binary classification labels must be in 0..1")


def test_data_bad_nan_in_inputs(tmp_path, samples):
    _, x, y = samples
    xn = x.copy()
    xn[17, 2, 3, 0] = np.nan
    s = D.load_split("eval", NpzSource(path=str(write_npz(tmp_path / "d.npz", x=xn, y=y))))
    _inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, CLASSES), True),
                "data.eval: sample 17 has NaN or infinite input values")
    tr, ev = s.split_off(0.5, 0)
    part = tr if 17 in tr._index else ev
    _inputerror(lambda: D.check_against_model(part, (None, H, W, 1), (None, CLASSES), True),
                "NaN or infinite input values", "(row 17 of d.npz[x])")


# ------------------------------------------------------------------------------------ examples


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_data_example_recipes_validate(path):
    r = load_recipe(path)
    assert r.data.eval is not None and (r.data.train is not None or r.data.representative is not None)


def test_data_example_recipes_exist_and_are_small():
    assert {p.stem for p in EXAMPLES} >= {"binary", "regression", "multi_output"}
    files = [p for p in (ROOT / "recipes" / "examples" / "data").rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) < 200_000


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_data_example_recipes_match_the_json_schema(path):
    import jsonschema
    import yaml

    from optimize_cli.recipe import json_schema

    jsonschema.Draft202012Validator(json_schema()).validate(yaml.safe_load(path.read_text()))
