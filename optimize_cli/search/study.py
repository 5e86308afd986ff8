"""The study: Optuna multi-objective (objectives minimized, gates as constraints), its storage (SQLite in
the output directory by default, `--resume` continues it), K local workers asking for trials until the
study holds `trials` finished ones, and the outputs written at the end (front.py)."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import RecipeError
from ..recipe.space import SearchSpace
from . import front
from .objective import Outcome, run_trial, stop_limit, violations
from .space import grid, sample

_DONE = ("COMPLETE", "FAIL", "PRUNED")


@dataclass
class SearchOptions:
    output: Path
    trials: Optional[int] = None
    timeout: Optional[float] = None
    workers: int = 1
    storage: Optional[str] = None
    study: Optional[str] = None
    resume: bool = False
    quiet: bool = False
    no_cache: bool = False  # trials use a cache of the study's own (DIR/cache), not the user's


def trial_env(opts: SearchOptions) -> dict:
    """The trials' environment: the baselines are measured by the first trial and reused by the others
    through the baseline cache — the user's, or with --no-cache one of the study's own in DIR/cache."""
    import os

    env = os.environ.copy()
    if opts.no_cache:
        env["OPTIMIZE_CLI_CACHE_DIR"] = str((opts.output / "cache").resolve())
    return env


def _constraints(trial) -> list[float]:
    return trial.user_attrs.get("constraints", [0.0])


def make_sampler(space: SearchSpace):
    import optuna

    cfg = space.config
    if cfg.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=cfg.seed, constraints_func=_constraints)
    if cfg.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=cfg.seed, constraints_func=_constraints)
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=cfg.seed)
    return _AskTellGrid(grid(space), seed=cfg.seed)


def _grid_class():
    import optuna

    class AskTellGrid(optuna.samplers.GridSampler):
        """Optuna's grid, without its `study.stop()` once the grid is exhausted (which only works inside
        `optimize`): the workers stop at the study's total, which is at most the grid's size."""

        def after_trial(self, study, trial, state, values) -> None:
            return None

    return AskTellGrid


def _AskTellGrid(*args, **kwargs):  # noqa: N802 - a class, built when optuna is imported
    return _grid_class()(*args, **kwargs)


def grid_size(space: SearchSpace) -> int:
    n = 1
    for values in grid(space).values():
        n *= len(values)
    return n


def open_study(space: SearchSpace, name: str, opts: SearchOptions):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = opts.output / "study.db"
    if opts.storage is None and db.exists() and not opts.resume:
        raise RecipeError(f"{opts.output}: holds a study already; use --resume to continue it, or another --output")
    storage = opts.storage or f"sqlite:///{db}"
    study = optuna.create_study(storage=storage, study_name=opts.study or name, load_if_exists=True,
                                directions=["minimize"] * len(space.config.objectives), sampler=make_sampler(space))
    if opts.resume:  # trials left running by an interrupted search: failed, and not counted
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return study


def counted(study) -> int:
    """Trials that count towards the total: running, and finished ones whose run ended (a trial stopped by
    an interruption has no exit code and does not count)."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state.name == "RUNNING" or (t.state.name in _DONE and "exit_code" in t.user_attrs))


class _Workers:
    def __init__(self, study, space: SearchSpace, opts: SearchOptions, total: int, log):
        self.study, self.space, self.opts, self.total, self.log = study, space, opts, total, log
        self.lock, self.stop, self.procs = threading.Lock(), threading.Event(), []
        self.deadline = time.monotonic() + opts.timeout if opts.timeout else None

    def ask(self):
        with self.lock:
            if self.stop.is_set() or counted(self.study) >= self.total:
                return None
            if self.deadline is not None and time.monotonic() > self.deadline:
                return None
            return self.study.ask()

    def loop(self) -> None:
        while (trial := self.ask()) is not None:
            self.one(trial)

    def one(self, trial) -> None:
        import optuna

        from ..recipe import load_recipe

        values = sample(trial, self.space)
        trials_dir = self.opts.output / "trials"
        nnnn = f"{trial.number:04d}"
        recipe_path = trials_dir / f"{nnnn}.yaml"
        try:
            r = load_recipe(self.space.source, check_paths=False, raw_hook=lambda raw: self.space.concrete(values))
        except RecipeError as e:
            out = Outcome(2, 0.0, reason=str(e))
        else:
            recipe_path.write_text(r.resolved_yaml(), encoding="utf-8")
            trial.set_user_attr("recipe", str(recipe_path))
            out = run_trial(recipe_path, trials_dir / nnnn, trials_dir / f"{nnnn}.log", self.procs,
                            env=trial_env(self.opts), early_stop=stop_limit(r, self.space.config.early_stop))
        if self.stop.is_set():
            trial.set_user_attr("interrupted", True)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        for k, v in (("seconds", round(out.seconds, 3)), ("figures", out.figures), ("gates", out.gates),
                     ("passed", out.passed), ("reason", out.reason), ("exit_code", out.exit_code)):
            trial.set_user_attr(k, v)
        objs = [out.figures.get(k) for k in self.space.config.objectives]
        if out.completed and any(v is None for v in objs):
            trial.set_user_attr("reason", "an objective was not measured (accuracy_drop needs data.eval)")
        if out.completed and trial.user_attrs.get("reason") is None:
            trial.set_user_attr("constraints", violations(out.gates) or [0.0])
            self.study.tell(trial, [float(v) for v in objs])
        elif out.pruned:  # stopped early: could not meet the accuracy gate any more
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        done = [t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number]
        self.log(done[0], self.study)  # the progress callback (live.TrialProgress)

    def interrupt(self) -> None:
        self.stop.set()
        for p in list(self.procs):
            try:
                p.send_signal(signal.SIGINT)
            except OSError:
                pass


def run_search(space: SearchSpace, source: Path, name: str, opts: SearchOptions, log) -> dict:
    """Run (or continue) the study; write the outputs; return search.json's content (its exit_code too).
    `log(trial, study)` is called after each finished trial (live.TrialProgress)."""
    space.source = source
    opts.output.mkdir(parents=True, exist_ok=True)
    (opts.output / "trials").mkdir(exist_ok=True)
    study = open_study(space, name, opts)
    total = opts.trials or space.config.trials
    if space.config.sampler == "grid":
        total = min(total, grid_size(space))
    workers = _Workers(study, space, opts, total, log)
    threads = [threading.Thread(target=workers.loop, daemon=True) for _ in range(max(1, opts.workers))]
    interrupted = False
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        interrupted = True
        workers.interrupt()
        for t in threads:
            t.join()
    return front.write_outputs(study, space, opts.output, interrupted)
