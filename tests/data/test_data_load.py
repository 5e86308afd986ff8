"""Loading a split: a missing path is exit 3 naming it, for every source type."""
from __future__ import annotations

from data_helpers import inputerror

from optimize_cli import data as D
from optimize_cli.data import ImageDirSource, NpzSource, TfrecordSource


def test_data_bad_missing_path(tmp_path):
    inputerror(lambda: D.load_split("train", NpzSource(path=str(tmp_path / "no.npz"))), "data.train.path",
                str(tmp_path / "no.npz"), "no such file")
    inputerror(lambda: D.load_split("eval", ImageDirSource(type="image_dir", path=str(tmp_path / "imgs"),
                                                            image_size=(2, 2))),
                "data.eval.path", str(tmp_path / "imgs"), "no such folder")
    inputerror(lambda: D.load_split("train", TfrecordSource(type="tfrecord", path=str(tmp_path / "*.tfrecord"),
                                                             features={"x": {}, "y": {}})),
                "data.train.path: no file matches", str(tmp_path / "*.tfrecord"))
