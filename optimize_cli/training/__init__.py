"""Training: the one place that fits models (`fit.py`); distillation and distribution strategies plug in
there so that every stage gets them at once. Importing this package never imports TensorFlow."""
from __future__ import annotations

from .fit import FitHistory, fit

__all__ = ["FitHistory", "fit"]
