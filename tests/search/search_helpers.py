"""Shared by the search tests: the head of a recipe on the sample model (absolute paths)."""
from __future__ import annotations

from pathlib import Path

from run_helpers import sample_head

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_models"
HEAD = sample_head("sq")


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
