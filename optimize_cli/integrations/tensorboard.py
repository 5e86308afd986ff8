"""TensorBoard logs of the training stages (`--tensorboard DIR`, `training.tensorboard`; extra [tensorboard]).

`fit()` adds `callbacks_for(ctx, stage, model)` to every fit: Keras' TensorBoard callback (loss and metrics
per epoch, `train/epoch_loss` ...) into DIR/NN_<type>/, the stage's folder name in the output's stages/; for
a model with tfmot pruning wrappers, tfmot's PruningSummaries instead (the same, plus each pruned weight's
sparsity and threshold over the optimizer's steps in DIR/NN_prune/metrics/), also logged once more when
training ends, so the last epoch's sparsity is there (tfmot logs at each epoch's start only).

The folder was checked to be writable before the run (integrations/session.py: exit 2 naming it). Imports
TensorFlow lazily.
"""
from __future__ import annotations

from pathlib import Path


def log_dir(ctx, stage: str):
    """DIR/NN_<type> for this stage, or None when no TensorBoard logs are asked for."""
    from ..run.run_dir import stage_dirname

    folder = getattr(getattr(ctx, "training", None), "tensorboard", None)
    if not folder:
        return None
    return Path(folder) / stage_dirname(int(getattr(ctx, "index", 0) or 0), stage)


def callbacks_for(ctx, stage: str, model) -> list:
    """The TensorBoard callbacks for one stage's fit (none when not asked for)."""
    where = log_dir(ctx, stage)
    if where is None:
        return []
    options = {"histogram_freq": 0, "write_graph": False, "profile_batch": 0, "update_freq": "epoch"}
    if _pruning(model):
        return [_pruning_summaries(str(where), options)]
    from ..tf import keras

    return [keras.callbacks.TensorBoard(log_dir=str(where), **options)]


def _pruning(model) -> bool:
    """Whether `model` (or a model inside it) holds tfmot pruning wrappers."""
    return any(hasattr(la, "pruning_vars") or (hasattr(la, "layers") and _pruning(la))
               for la in getattr(model, "layers", []))


def _pruning_summaries(where: str, options: dict):
    from ..tf import tfmot

    class _Summaries(tfmot.sparsity.keras.PruningSummaries):
        """tfmot's, plus the sparsity reached at the end of training (after the last epoch)."""

        def on_train_end(self, logs=None):
            self.on_epoch_begin(-1)  # logs=None: only the pruning summaries, at the current step
            super().on_train_end(logs)

    return _Summaries(log_dir=where, **options)
