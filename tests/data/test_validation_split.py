"""data.eval: {validation_split} — held out of data.train, deterministic and exact."""
from __future__ import annotations

import numpy as np
import pytest
from data_helpers import H, N, W, read_all, write_npz, write_tfrecord

from optimize_cli import data as D
from optimize_cli.data import DataConfig
from optimize_cli.errors import InputError


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
        xt, yt = read_all(tr)
        xe, ye = read_all(ev)
        assert np.array_equal(xe, x[held]) and np.array_equal(ye, y[held])  # in source order
        assert np.array_equal(xt, np.delete(x, held, axis=0))
        assert ev.where == "data.eval (validation_split of data.train)"
        again = D.load_split("eval", data.train, validation=data.eval)
        assert np.array_equal(read_all(again)[0], xe)
    with pytest.raises(InputError, match="leaves no samples to evaluate"):
        D.load_splits(DataConfig(train={"path": str(npz)}, eval={"validation_split": 0.01}))
