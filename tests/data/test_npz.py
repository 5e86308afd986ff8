"""type: npz — arrays, memory-mapped where stored uncompressed."""
from __future__ import annotations

import numpy as np
from data_helpers import H, W, read_all, write_npz

from optimize_cli import data as D
from optimize_cli.data import NpzSource


def test_data_npz_streams_memory_mapped_arrays(tmp_path, samples):
    _, x, y = samples
    for compressed in (False, True):
        p = write_npz(tmp_path / f"d{compressed}.npz", compressed, x_train=x, y_train=y, other=np.zeros(3))
        s = D.load_split("train", NpzSource(path=str(p), x="x_train", y="y_train", start=2, stop=20))
        assert isinstance(s._xa, np.memmap) is (not compressed)  # uncompressed members are memory-mapped
        assert (s.samples, s.element_shape, s.label_shape) == (18, (H, W, 1), ())
        xs, ys = read_all(s)
        assert xs.dtype == np.float32 and np.array_equal(xs, x[2:20]) and np.array_equal(ys, y[2:20])
        b = next(iter(s.dataset(5, shuffle=True, seed=1)))
        assert tuple(b[0].shape) == (5, H, W, 1) and tuple(b[1].shape) == (5,)
        assert np.array_equal(s.x, x[2:20]) and np.array_equal(s.y, y[2:20])


def test_data_npz_array_headers_give_names_and_shapes_without_reading_arrays(tmp_path):
    from optimize_cli.data.npz import array_headers

    for compressed in (False, True):
        p = write_npz(tmp_path / f"a{compressed}.npz", compressed, x=np.zeros((5, 3), np.float32),
                      y=np.arange(5, dtype=np.int64))
        got = array_headers(p)
        assert {k: (s, d) for k, (s, d) in got.items()} == {"x": ((5, 3), np.dtype(np.float32)),
                                                          "y": ((5,), np.dtype(np.int64))}
