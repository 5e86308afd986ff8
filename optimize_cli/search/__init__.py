"""`optimize-cli search` on Optuna: space.py (a trial's values from an Optuna trial) · samplers.py
(search.sampler in Optuna 5's idioms) · session.py (a session's seed, retries of interrupted trials) ·
seeding.py (the built-in recipes as first trials) · objective.py (one trial: a normal run in a trial
process of its own, or one after another in a long-lived one: trial_worker.py) · study.py (the study, its
workers, storage and outputs) · front.py (Pareto front, recommendation, search.json / search.md /
best.yaml) · answers.py (compact, balanced, quality) · committable.py (recipes a user can commit) ·
html.py, plots.py, tables.py (search.html: the front plot, the trial and sensitivity tables). The library
prints nothing: it tells a SearchProgress (progress.py; the CLI's live table or trial lines:
cli/search_progress.py). The parent process never imports TensorFlow: only the trials' processes do."""
from __future__ import annotations

from .progress import SearchProgress, Silent, TrialStart
from .study import SearchOptions, run_search

__all__ = ["SearchOptions", "SearchProgress", "Silent", "TrialStart", "run_search"]
