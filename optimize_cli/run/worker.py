"""A non-chief worker of `training.distribute.strategy: multi_worker`: it trains along with the chief and
writes nothing where the outputs go (the chief writes them all)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import stages as stage_registry
from ..interrupt import signals_to_flag
from ..progress import Reporter
from . import start_strategy
from .run_dir import RunDir


def distributed(params) -> bool:
    """Stage `params`' fit runs under the strategy: its module says DISTRIBUTED and it trains at all."""
    return bool(stage_registry.stage_module(params.type).DISTRIBUTED) and int(getattr(params, "epochs", 1) or 0) > 0


def last_distributed_stage(recipe) -> int:
    """1-based index of the last stage whose fit runs under the strategy (0: none): after it a non-chief
    worker has no collective op left to take part in."""
    return max((i for i, params in enumerate(recipe.stages, start=1) if distributed(params)), default=0)


def train_along(recipe, opts, reporter: Reporter, out: RunDir, last: int) -> None:
    """Stages 1..`last` run as the chief runs them, through the same loop (`path.run_stages`: their fits
    take part in the same collective ops, in the same order); nothing is measured, converted or kept.
    `out` is a throw-away directory (the stages' scratch folders)."""
    from .inputs import check_skip_layers
    from .path import run_stages, start_state

    run = start_state(recipe, opts, reporter, out)
    check_skip_layers(recipe, run.inputs.keras_model)
    run_stages(run, run.inputs.keras_model, 1, last)


def train_along_with_chief(recipe, opts, reporter: Reporter, worker) -> str:
    """Run the stages whose fits are distributed, up to the last one (after it there is no collective op
    left, so the chief never waits for this process), in a temporary directory that is removed; returns
    the one line to print. The entry point of a non-chief worker: it starts the strategy, once."""
    start_strategy(recipe, reporter)
    last = last_distributed_stage(recipe)
    with signals_to_flag(), tempfile.TemporaryDirectory(prefix="optimize-cli-worker-") as tmp:
        out = RunDir(Path(tmp) / "run", force=True, resume=False)
        try:
            train_along(recipe, opts, reporter, out, last)
        finally:
            out.cleanup_scratch()
            out.release()
    trained = [f"{i} ({p.type})" for i, p in enumerate(recipe.stages[:last], start=1)
               if stage_registry.stage_module(p.type).DISTRIBUTED]
    what = f"trained stage{'s' if len(trained) != 1 else ''} {', '.join(trained)}" if trained else "nothing to train"
    return (f"{worker.describe()}: {what} with the chief; the chief writes the outputs (nothing written "
            f"to {opts.output or 'runs/' + recipe.name})")
