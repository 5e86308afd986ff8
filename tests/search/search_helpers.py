"""Shared by the search tests: the head of a recipe on the sample model (absolute paths)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_models"
HEAD = f"""version: 1
name: sq
model: {SAMPLE / 'digits_cnn'}
data:
  train: {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_train, y: y_train}}
  eval:  {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_test,  y: y_test}}
"""


def search_subprocess(tmp_path: Path, recipe_text: str, *args: str):
    """`optimize-cli search` (a real subprocess, as a user runs it) on `recipe_text` written to tmp_path,
    into tmp_path/out: (the CompletedProcess, the output directory)."""
    import os
    import subprocess
    import sys

    (tmp_path / "s.yaml").write_text(recipe_text, encoding="utf-8")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(tmp_path / "s.yaml"), "--output",
                          str(out), *args], capture_output=True, text=True, env=os.environ.copy())
    return res, out
