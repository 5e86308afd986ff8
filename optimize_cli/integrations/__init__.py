"""Connections to the tools the users already run, each optional (an extra) and each a consumer of what a
run already produces, so that the library's run loop stays untouched.

config.py (the recipe keys `tracking:` and `training.tensorboard`; never imports the tools) · mlflow.py
(a finished run's or search's records into MLflow: params, metrics, step metrics, artifacts, tags) ·
tensorboard.py (the Keras callbacks a training stage adds: per-epoch scalars, tfmot's pruning summaries).

The repo-root files `.pre-commit-hooks.yaml` (recipes validated by `optimize-cli validate`) and `action.yml`
(a composite GitHub Action around `optimize-cli run --json`) need no code here.
"""
