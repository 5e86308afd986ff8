"""`--workers K`: K local worker processes, each an independent Optuna worker on the study's storage (as a
worker on another machine is: `optimize-cli search RECIPE --storage URL --study NAME --worker`). The parent
starts them, forwards Ctrl-C and SIGTERM to them, shows each trial they finish (its progress callback, from
the study), and then writes the outputs (study.py)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import EXIT_INTERRUPTED, EXIT_OK
from .trial_worker import RECYCLE_AFTER


def worker_command(source: Path, study: str, url: str, total: int, opts, index: int = 0) -> list[str]:
    """The command line of worker process number `index` (its sampler's seed differs: session.py)."""
    cmd = [sys.executable, "-m", "optimize_cli", "search", str(source), "--worker", "--output", str(opts.output),
           "--storage", url, "--study", study, "--trials", str(total), "--worker-index", str(index)]
    if opts.timeout is not None:
        cmd += ["--timeout", str(opts.timeout)]
    if opts.heartbeat is not None:
        cmd += ["--heartbeat", str(opts.heartbeat)]
    if opts.no_cache:
        cmd.append("--no-cache")
    if opts.recycle_after != RECYCLE_AFTER:
        cmd += ["--recycle-after", str(opts.recycle_after)]
    return cmd + ["--quiet"]  # the parent shows the trials


def run_processes(study, source: Path, url: str, total: int, opts, progress, space=None) -> bool:
    """Run opts.workers worker processes to the end; True when interrupted. Each runs in its own session,
    so a Ctrl-C on the terminal reaches the parent only, which passes exactly one SIGINT to each.
    `progress.trial_started(start)` for each trial a worker starts (once its recipe is written) and
    `progress.trial(trial, study)` for each that finishes meanwhile, `progress.warn(line)` for a worker
    that ended badly (progress.SearchProgress)."""
    seen = _finished(study)
    running = _Running(study, total, opts.output / "trials", space, progress)
    err = _stderr_fd()
    procs = [subprocess.Popen(worker_command(source, study.study_name, url, total, opts, i + 1),
                              stdin=subprocess.DEVNULL, stderr=err, start_new_session=True)
             for i in range(opts.workers)]
    interrupted = False
    try:
        while any(p.poll() is None for p in procs):
            time.sleep(0.5)
            running.poll(seen)
            seen = _show_new(study, seen, progress)
    except KeyboardInterrupt:
        interrupted = True
        old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in procs:
                p.wait()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
    _show_new(study, seen, progress)
    for i, p in enumerate(procs):
        if p.returncode == EXIT_INTERRUPTED:
            interrupted = True
        elif p.returncode != EXIT_OK:
            progress.warn(f"worker {i + 1} ended with exit code {p.returncode}")
    return interrupted


class _Running:
    """Tells the progress of each trial the workers started (RUNNING, its recipe written), once."""

    def __init__(self, study, total: int, trials_dir: Path, space, progress):
        self.study, self.total, self.dir, self.space, self.progress = study, total, trials_dir, space, progress
        self.told: set[int] = set()

    def poll(self, finished: set[int]) -> None:
        from .progress import started, trial_start

        if self.space is None:
            return
        for t in self.study.get_trials(deepcopy=False):
            if t.state.name == "RUNNING" and t.number not in self.told | finished and "recipe" in t.user_attrs:
                self.told.add(t.number)
                started(self.progress, trial_start(self.study, t.number, t.params, self.total, self.dir, self.space))


def _finished(study) -> set[int]:
    return {t.number for t in study.get_trials(deepcopy=False) if t.state.name not in ("RUNNING", "WAITING")}


def _show_new(study, seen: set[int], progress) -> set[int]:
    """progress.trial() for each trial finished since `seen`; the trials finished now."""
    now = _finished(study)
    for t in study.get_trials(deepcopy=False):
        if t.number in now - seen:
            progress.trial(t, study)
    return now


def _stderr_fd():
    """Where the workers' lines go: this process's sys.stderr (fd 2 itself holds the native-log file while
    a command runs, quiet.native_logs_to_file), when it has a descriptor."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
