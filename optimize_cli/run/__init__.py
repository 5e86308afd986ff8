"""Running a recipe: `run(recipe, options) -> RunResult`.

path.py (run_path, the only loop over stages) · run_dir.py (the atomic output directory) ·
fingerprint.py (what a checkpoint was made from) · resume.py (--resume) · records.py (the typed records;
report.json is their dump) · inputs.py · measurements.py · checks.py.

Nothing here prints to stdout or appends to the CI step summary: progress goes to stderr through the
Reporter, and the caller (the CLI) prints the summary from the RunResult.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import Interrupted
from ..interrupt import check, signals_to_flag
from ..progress import Reporter
from .records import RunResult
from .run_dir import RunDir, signals_deferred


@dataclass
class RunOptions:
    output: Optional[Path] = None
    resume: bool = False
    force: bool = False
    quiet: bool = False
    as_json: bool = False
    trust_model: bool = False
    allow_code: bool = False  # python data sources may run (run --allow-code)
    no_cache: bool = False  # neither read nor write the baseline cache (run --no-cache)
    # what a search gives its trials (hidden run options): the drop past which the run stops early
    # (run/early_stop.py), and the baseline cache's folder (run/baseline_cache.py; default the user's)
    early_stop_drop: Optional[float] = None
    cache_dir: Optional[Path] = None


def inputs_of(recipe) -> list[str]:
    """Files and folders the run reads: an output directory that holds one of them must not be replaced."""
    out = [str(recipe.source)] if recipe.source else []
    if recipe.model:
        out.append(str(recipe.model))
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split, None)
        out += inputs_of_source(src) if src is not None else []
    return out


def inputs_of_source(src) -> list[str]:
    """A data source's files and folders (a glob as its fixed leading part)."""
    paths = [getattr(src, attr, None) for attr in ("path", "data_dir")]
    return [str(p).split("*", 1)[0].split("?", 1)[0].split("[", 1)[0] for p in paths if p]


def input_folders(recipe) -> list[str]:
    """The inputs the run reads as folders (the model, data folders): no output may be written inside
    them. A python source's `path` is only where its module is found, not data, and is left out."""
    out = [str(recipe.model)] if recipe.model else []
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split, None)
        if src is not None and getattr(src, "type", None) != "python":
            out += inputs_of_source(src)
    return out


def _interrupted(out: RunDir) -> Interrupted:
    """Clean up after Ctrl-C / SIGTERM; the Interrupted names the output directory and the kept stages
    (the CLI adds the command that resumes or reruns the run)."""
    where, done = None, []
    try:
        with signals_deferred():  # a second Ctrl-C must not cut the cleanup short
            out.cleanup_scratch()
            done = out.finished()
            where = out.discard_if_useless()
    except KeyboardInterrupt:
        pass
    if where is not None and done:
        return Interrupted(f"interrupted: finished stages kept in {where} ({', '.join(done)})", output=out.given,
                           kept_in=where, stages=done)
    return Interrupted("interrupted: nothing to resume (no stage had finished)", output=out.given)


def start_strategy(recipe, reporter: Reporter) -> None:
    """Create training.distribute's strategy (multi_worker: wait for every worker in TF_CONFIG to join)."""
    from ..training.distribute import settings, start

    cfg = settings(recipe.training)
    if cfg is not None and cfg.strategy == "multi_worker":
        from ..training.distribute import worker_from_env

        reporter.log(f"{worker_from_env().describe()}: waiting for the workers in TF_CONFIG to join")
    if cfg is not None:
        start(recipe.training)


def run(recipe, opts: RunOptions, reporter: Optional[Reporter] = None) -> RunResult:
    """Run a validated recipe into its output directory (replaced only when the run succeeds) and return
    the records; `result.exit_code` is 0, or 5 when a gate was missed.

    Raises OptimizeError subclasses (exit 2/3/4) and, on Ctrl-C or SIGTERM, `Interrupted` naming the
    output directory and the kept stages."""
    from .path import run_path

    t_start = time.monotonic()
    reporter = reporter or Reporter(quiet=opts.quiet)
    final = Path(opts.output) if opts.output else Path("runs") / recipe.name
    start_strategy(recipe, reporter)  # training.distribute: before anything is written or TensorFlow starts
    # Ctrl-C and SIGTERM only set a flag; the run stops at the next safe point (interrupt.check)
    with signals_to_flag():
        out = RunDir(final, force=opts.force, resume=opts.resume, protect=tuple(inputs_of(recipe)),
                     read=tuple(input_folders(recipe)))
        try:
            try:
                check()
                result = run_path(recipe, opts, reporter, out, t_start)
                out.cleanup_scratch()
                check()  # the last safe point: not committed, finished stages kept
                out.commit()
            except KeyboardInterrupt:
                raise _interrupted(out) from None
            except BaseException:
                out.cleanup_scratch()
                out.discard_if_useless()
                raise
        finally:
            out.release()  # the lock on the output directory
    return result


__all__ = ["RunOptions", "RunResult", "RunDir", "run", "inputs_of"]
