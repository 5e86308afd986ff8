"""measure.sizes: raw and ZIP_DEFLATED sizes of files, bytes and directories."""
from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from optimize_cli import measure

# -------------------------------------------------------------------------------------- sizes


def test_file_sizes_zip_matches_independent_zipfile(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 4, 50_000, dtype=np.uint8)).tobytes() + bytes(20_000)
    f = tmp_path / "model.tflite"
    f.write_bytes(data)
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("independent.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write("model.tflite")
    expected = os.path.getsize("independent.zip")
    for arg in (data, f, str(f)):
        s = measure.file_sizes(arg)
        assert s["tflite_bytes"] == len(data)
        assert s["compressed_bytes"] == expected
        assert s["compression_saved_percent"] == pytest.approx(100 * (1 - expected / len(data)), abs=1e-3)


def test_path_sizes_directory_sums_files_and_zips_the_tree(tmp_path):
    (tmp_path / "d" / "variables").mkdir(parents=True)
    (tmp_path / "d" / "saved_model.pb").write_bytes(b"a" * 1000)
    (tmp_path / "d" / "variables" / "v").write_bytes(b"b" * 3000)
    s = measure.path_sizes(tmp_path / "d")
    assert s["bytes"] == 4000
    assert 0 < s["compressed_bytes"] < 4000


