"""type: tfds — a prepared data_dir, never a download."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from data_helpers import CLASSES, HAVE_TFDS, H, N, W, inputerror, read_all

from optimize_cli import data as D
from optimize_cli.data import TfdsSource


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
    xs, ys = read_all(s)
    label_of = {u8[i].tobytes(): int(y[i]) for i in range(N)}  # tfds stores examples in its own order
    assert [label_of[xi.astype(np.uint8).tobytes()] for xi in xs] == ys.tolist()
    s = D.load_split("eval", TfdsSource(type="tfds", name="tiny_images:1.0.0", split="train", x="image", y="label",
                                        scale=1 / 255, data_dir=str(tmp_path)))
    assert s.samples == N and read_all(s)[0].max() <= 1.0
    inputerror(lambda: D.load_split("train", TfdsSource(type="tfds", name="tiny_images", split="test",
                                                         data_dir=str(tmp_path))), "data.train.split", "'test'")


def test_data_tfds_missing_dataset_names_where_it_looked(tmp_path, monkeypatch):
    src = TfdsSource(type="tfds", name="mnist", split="train", data_dir=str(tmp_path))
    if HAVE_TFDS:
        inputerror(lambda: D.load_split("train", src), "data.train", "'mnist' is not prepared in",
                    str(tmp_path / "mnist"), "never downloads")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # as if not installed
    inputerror(lambda: D.load_split("train", src), "data.train", "pip install tensorflow-datasets")
