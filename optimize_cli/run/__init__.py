"""Running a recipe: `run(recipe, options) -> RunResult`.

path.py (run_path, the only loop over stages) · run_dir.py (the atomic output directory) ·
fingerprint.py (what a checkpoint was made from) · resume.py (--resume) · records.py (the typed records;
report.json is their dump) · inputs.py · measurements.py · checks.py.

Nothing here prints to stdout or appends to the CI step summary: progress goes to stderr through the
Reporter, and the caller (the CLI) prints the summary from the RunResult.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import Interrupted
from ..progress import Reporter
from .records import RunResult
from .resume import resume_command
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
    # the command that was run, as a list without --output/--resume/--force (the CLI builds it from the
    # parsed options): the interruption message turns it into the exact command that resumes the run
    argv: Optional[list] = None


def inputs_of(recipe) -> list[str]:
    """Files and folders the run reads: an output directory that holds one of them must not be replaced."""
    out = [str(recipe.source)] if recipe.source else []
    if recipe.model:
        out.append(str(recipe.model))
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split, None)
        for attr in ("path", "data_dir"):
            p = getattr(src, attr, None) if src is not None else None
            if p:
                out.append(str(p).split("*", 1)[0].split("?", 1)[0].split("[", 1)[0])
    return out


def _interrupted(opts: RunOptions, out: RunDir) -> Interrupted:
    """Clean up after Ctrl-C / SIGTERM; the message names the kept stages and the command that resumes."""
    where, done = None, []
    try:
        with signals_deferred():  # a second Ctrl-C must not cut the cleanup short
            out.cleanup_scratch()
            done = out.finished()
            where = out.discard_if_useless()
    except KeyboardInterrupt:
        pass
    kept = (f"finished stages kept in {where} ({', '.join(done)})" if where is not None and done else
            "no stage had finished")
    return Interrupted(f"interrupted: {kept}; resume with: {resume_command(opts.argv, opts.output, out)}")


def run(recipe, opts: RunOptions, reporter: Optional[Reporter] = None) -> RunResult:
    """Run a validated recipe into its output directory (replaced only when the run succeeds) and return
    the records; `result.exit_code` is 0, or 5 when a gate was missed.

    Raises OptimizeError subclasses (exit 2/3/4) and, on Ctrl-C or SIGTERM, `Interrupted` whose message
    names the kept stages and the command that resumes the run."""
    from .path import run_path

    t_start = time.monotonic()
    reporter = reporter or Reporter(quiet=opts.quiet)
    final = Path(opts.output) if opts.output else Path("runs") / recipe.name
    out = RunDir(final, force=opts.force, resume=opts.resume, protect=tuple(inputs_of(recipe)))

    def _on_term(signum, frame):  # SIGTERM behaves like Ctrl-C: stop cleanly, keep finished stages
        raise KeyboardInterrupt

    try:
        old_term = signal.signal(signal.SIGTERM, _on_term) if hasattr(signal, "SIGTERM") else None
    except ValueError:  # not the main thread
        old_term = None
    try:
        result = run_path(recipe, opts, reporter, out, t_start)
        out.cleanup_scratch()
        out.commit()
    except KeyboardInterrupt:
        raise _interrupted(opts, out) from None
    except BaseException:
        out.cleanup_scratch()
        out.discard_if_useless()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return result


__all__ = ["RunOptions", "RunResult", "RunDir", "run", "resume_command", "inputs_of"]
