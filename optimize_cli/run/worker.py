"""A non-chief worker of `training.distribute.strategy: multi_worker`: it trains along with the chief and
writes nothing where the outputs go (the chief writes them all)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..interrupt import signals_to_flag
from ..progress import Reporter
from . import start_strategy
from .run_dir import RunDir


def train_along_with_chief(recipe, opts, reporter: Reporter, worker) -> str:
    """Run the stages whose fits are distributed, up to the last one (after it there is no collective op
    left, so the chief never waits for this process), in a temporary directory that is removed; returns
    the one line to print."""
    from ..training.distribute import DISTRIBUTED_STAGES, last_distributed_stage
    from .path import train_along

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
               if p.type in DISTRIBUTED_STAGES]
    what = f"trained stage{'s' if len(trained) != 1 else ''} {', '.join(trained)}" if trained else "nothing to train"
    return (f"{worker.describe()}: {what} with the chief; the chief writes the outputs (nothing written "
            f"to {opts.output or 'runs/' + recipe.name})")
