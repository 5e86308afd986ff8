"""`optimize-cli search` on Optuna: space.py (a trial's values from an Optuna trial) · objective.py (one
trial: a normal run in its own subprocess) · study.py (the study, its workers, storage and outputs) ·
front.py (Pareto front, recommendation, search.json / search.md / best.yaml) · html.py, plots.py,
tables.py (search.html: the front plot, the trial and sensitivity tables) · live.py (progress: a live table
on a terminal, one line per trial elsewhere). The parent process never imports TensorFlow: only the
trials' subprocesses do."""
from __future__ import annotations

from .study import SearchOptions, run_search

__all__ = ["SearchOptions", "run_search"]
