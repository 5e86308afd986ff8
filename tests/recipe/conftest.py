"""Fixtures of the recipe tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with a stand-in model directory and data file (the validator only checks they exist)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "data.npz").write_bytes(b"")
    return tmp_path
