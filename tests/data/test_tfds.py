"""type: tfds — a prepared data_dir, never a download."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from data_helpers import CLASSES, HAVE_TFDS, H, N, W, inputerror, read_all

from optimize_cli import data as D
from optimize_cli.data import TfdsSource


def prepare_tiny_images(tmp_path, u8, y) -> None:
    """Prepare the dataset tiny_images (N uint8 images and labels) in data_dir tmp_path."""
    import tensorflow_datasets as tfds

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


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TFDS, reason="tensorflow-datasets is not installed")
def test_data_tfds_reads_a_prepared_data_dir(tmp_path, samples):
    u8, _, y = samples
    prepare_tiny_images(tmp_path, u8, y)
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


@pytest.mark.skipif(not HAVE_TFDS, reason="tensorflow-datasets is not installed")
def test_data_tfds_refuses_a_feature_class_from_outside_tfds(tmp_path, samples, monkeypatch, capsys):
    """features.json names the class tfds imports to decode a feature: a module planted next to the data
    (on sys.path, as the working directory of `python -m` is) must not run, nor may `this` print its poem."""
    u8, _, y = samples
    prepare_tiny_images(tmp_path, u8, y)
    marker = tmp_path / "marker"
    (tmp_path / "planted_feature.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    features = tmp_path / "tiny_images" / "1.0.0" / "features.json"
    spec = json.loads(features.read_text())
    src = TfdsSource(type="tfds", name="tiny_images", split="train", data_dir=str(tmp_path))
    for cls in ("planted_feature.ClassLabel", "this.ClassLabel"):
        spec["featuresDict"]["features"]["label"]["pythonClassName"] = cls
        features.write_text(json.dumps(spec))
        inputerror(lambda: D.load_split("train", src), "data.train", f"'{cls}'", "--allow-code")
    assert not marker.exists()
    assert "Zen of Python" not in capsys.readouterr().out
