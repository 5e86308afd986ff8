"""`optimize-cli search` on Optuna: space.py (a trial's values from an Optuna trial) · objective.py (one
trial: a normal run in its own subprocess) · study.py (the study, its workers, storage and outputs) ·
front.py (Pareto front, recommendation, search.json / search.md / best.yaml) · html.py, plots.py,
tables.py (search.html: the front plot, the trial and sensitivity tables). The library prints nothing: it
tells a SearchProgress (the CLI's live table or trial lines: cli/search_progress.py). The parent process
never imports TensorFlow: only the trials' subprocesses do."""
from __future__ import annotations

from .progress import SearchProgress, Silent, TrialStart
from .study import SearchOptions, run_search

__all__ = ["SearchOptions", "SearchProgress", "Silent", "TrialStart", "run_search"]
