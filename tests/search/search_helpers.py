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
