"""The study: Optuna multi-objective (objectives minimized, gates as constraints), its storage (SQLite in
the output directory by default, `--resume` continues it; storage.py), a worker asking for trials until the
study holds `trials` finished ones (K local workers are K such processes: workers.py), and the outputs
written at the end (front.py)."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import EXIT_INTERRUPTED, RecipeError
from ..recipe.space import SearchSpace
from . import front, samplers, seeding, session, storage
from .objective import Outcome, objective_value, run_trial, stop_limit, violations
from .progress import SearchProgress, Silent, search_started, started, trial_start
from .samplers import grid_size, make_sampler
from .space import sample
from .trial_worker import RECYCLE_AFTER, TrialProcess


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
    heartbeat: Optional[int] = None  # seconds between heartbeats (storage.HEARTBEAT_S)
    #: this worker's index among the local worker processes (its sampler's seed: session.py); None: a
    #: worker of unknown index (on another machine)
    worker_index: Optional[int] = 0
    #: trials one long-lived trial process runs before a fresh one (trial_worker.py); 1: a fresh
    #: subprocess per trial
    recycle_after: int = RECYCLE_AFTER


def trial_cache(opts: SearchOptions) -> Optional[Path]:
    """The trials' baseline cache (`run --cache-dir`): the baselines are measured by the first trial and
    reused by the others through it — the user's (None: the trial's default), or with --no-cache one of
    the study's own in DIR/cache."""
    return (opts.output / "cache").resolve() if opts.no_cache else None


def storage_url(opts: SearchOptions) -> str:
    """The study's storage: --storage, else the SQLite file DIR/study.db."""
    return opts.storage or f"sqlite:///{(opts.output / 'study.db').resolve()}"


def open_study(space: SearchSpace, name: str, opts: SearchOptions, join: bool = False):
    """Create (or join) the study. `join`: a worker process of a search that opened it already."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = opts.output / "study.db"
    if not join and opts.storage is None and db.exists() and not opts.resume:
        raise RecipeError(f"{opts.output}: holds a study already; use --resume to continue it, or another --output")
    rdb = storage.open_storage(storage_url(opts), opts.heartbeat)
    study = optuna.create_study(storage=rdb, study_name=opts.study or name, load_if_exists=True,
                                directions=["minimize"] * len(space.config.objectives))
    # a seed of the session's own (the study's trial count, the worker): a resumed or second worker's
    # sampler never re-draws another session's trials. Not the grid's: its seed shuffles the grid, and
    # trial number N takes the shuffled grid's point N, so every session and worker must share it
    held = len(study.get_trials(deepcopy=False))
    seed = space.config.seed if space.config.sampler == "grid" else session.session_seed(
        space.config.seed, held, opts.worker_index)
    study.sampler = make_sampler(space, seed)
    if join:
        return study
    storage.remember_space(study, space)
    if opts.resume and opts.storage is None:  # this search owns DIR/study.db: what ran is no longer running
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return study


def _total(space: SearchSpace, opts: SearchOptions) -> int:
    total = opts.trials or space.config.trials
    return min(total, grid_size(space)) if space.config.sampler == "grid" else total


class _Workers:
    """One worker: asks for a trial while the study is short of its total, runs it, tells its outcome."""

    def __init__(self, study, space: SearchSpace, opts: SearchOptions, total: int, progress: SearchProgress):
        self.study, self.space, self.opts, self.total, self.progress = study, space, opts, total, progress
        self.stop, self.procs = threading.Event(), []
        self.deadline = time.monotonic() + opts.timeout if opts.timeout else None
        self.url = storage_url(opts)
        self.rdb = storage.open_storage(self.url, opts.heartbeat)  # heartbeats and the lock: own connections
        self.poll = float(self.rdb.heartbeat_interval)
        self.runner = TrialProcess(opts.recycle_after) if opts.recycle_after > 1 else None

    def ask(self):
        """The next trial, or None once the study holds its total of finished trials (or on stop or the
        deadline). While the trials left are running elsewhere it waits: one may die, its heartbeat stop,
        and its retry come back here."""
        while not self.stop.is_set() and (self.deadline is None or time.monotonic() < self.deadline):
            optuna_fail_stale(self.study)
            with storage.study_lock(self.rdb, self.study._study_id, self.url):
                counted, finished = storage.tally(self.study)
                if finished >= self.total:
                    return None
                if counted < self.total:
                    with storage.quiet_experimental():  # ask-and-tell with heartbeats: ours (_Heartbeat)
                        trial = self.study.ask()
                    self.rdb.record_heartbeat(trial._trial_id)
                    if storage.rank(self.study, trial.number) < self.total:
                        return trial
                    self._surplus(trial)
                    return None
            if self.stop.wait(self.poll):
                break
        return None

    def _surplus(self, trial) -> None:
        import optuna

        trial.set_user_attr("reason", "surplus: the study held its total of trials already")
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def loop(self) -> None:
        try:
            self._loop()
        finally:
            if self.runner is not None:
                self.runner.close()

    def _loop(self) -> None:
        while (trial := self.ask()) is not None:
            beat = _Heartbeat(self.rdb, trial._trial_id)
            try:
                if self.stop.is_set():  # stopped while asking: told as interrupted, not run
                    self.tell(trial, Outcome(EXIT_INTERRUPTED, 0.0, reason="interrupted"))
                else:
                    self.one(trial)
            finally:
                beat.stop()

    def one(self, trial) -> None:
        from ..recipe import load_recipe

        values = sample(trial, self.space)
        trials_dir = self.opts.output / "trials"
        trials_dir.mkdir(parents=True, exist_ok=True)
        nnnn = f"{trial.number:04d}"
        recipe_path = trials_dir / f"{nnnn}.yaml"
        try:
            r = load_recipe(self.space.source, check_paths=False, raw_hook=lambda raw: self.space.concrete(values))
        except RecipeError as e:
            out = Outcome(2, 0.0, reason=str(e))
        else:
            text = r.resolved_yaml()
            recipe_path.write_text(text, encoding="utf-8")
            trial.set_user_attr("recipe", str(recipe_path))
            trial.set_user_attr("recipe_yaml", text)  # for --report-only on a machine without the file
            earlier = ran_before(self.study, trial.number, text)
            if earlier is not None:  # the sampler proposed a recipe that ran: its outcome, not a second run
                self.tell_repeat(trial, earlier)
                return
            started(self.progress, trial_start(self.study, trial.number, values, self.total, trials_dir, self.space))
            out = run_trial(recipe_path, trials_dir / nnnn, trials_dir / f"{nnnn}.log", self.procs,
                            early_stop=stop_limit(r, self.space.config.early_stop), cache_dir=trial_cache(self.opts),
                            runner=self.runner)
        self.tell(trial, out)

    def tell(self, trial, out: Outcome) -> None:
        """The trial's outcome into the study (its figures and gates as user attrs; objectives and
        constraints; a run stopped early as PRUNED, a failed or stopped one as FAIL), then
        `progress.trial(trial, study)`."""
        import optuna

        if self.stop.is_set():
            trial.set_user_attr("interrupted", True)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        for k, v in (("seconds", round(out.seconds, 3)), ("figures", out.figures),
                     ("gates", [g.dump() for g in out.gates]),
                     ("passed", out.passed), ("reason", out.reason), ("exit_code", out.exit_code)):
            trial.set_user_attr(k, v)
        objs = [objective_value(out.figures, k) for k in self.space.config.objectives]
        if out.completed and any(v is None for v in objs):
            trial.set_user_attr("reason", "an objective was not measured (accuracy_drop needs data.eval)")
        if out.completed and trial.user_attrs.get("reason") is None:
            set_constraints(trial, out.gates)
            self.study.tell(trial, [float(v) for v in objs])
        elif out.pruned:  # stopped early: could not meet the accuracy gate any more
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        done = [t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number]
        self.progress.trial(done[0], self.study)

    def tell_repeat(self, trial, earlier) -> None:
        """Tell `trial` with the outcome of the `earlier` trial that ran the same recipe (same values and
        constraints, so the sampler learns nothing false; `duplicate_of` names it; no time spent)."""
        import optuna

        a = earlier.user_attrs
        for k in ("figures", "gates", "passed", "reason", "exit_code", "constraints"):
            trial.set_user_attr(k, a.get(k))
        trial.set_user_attr("seconds", 0.0)
        trial.set_user_attr(storage.DUPLICATE_OF, earlier.number)
        if earlier.state == optuna.trial.TrialState.COMPLETE:
            if samplers.trial_constraints():
                names = [g.get("name") for g in a.get("gates") or [] if isinstance(g, dict)] or ["gates"]
                for name, v in zip(names, a.get("constraints") or [0.0], strict=False):
                    trial.set_constraint(name, v)
            self.study.tell(trial, list(earlier.values))
        else:
            self.study.tell(trial, state=earlier.state)
        done = [t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number]
        self.progress.trial(done[0], self.study)

    def interrupt(self) -> None:
        self.stop.set()
        for p in list(self.procs):
            try:
                p.send_signal(signal.SIGINT)
            except OSError:
                pass


def ran_before(study, number: int, recipe_yaml: str):
    """The first finished trial (complete or stopped early, not itself a repeat) that ran exactly this
    resolved recipe, or None."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for t in study.get_trials(deepcopy=False, states=states):
        a = t.user_attrs
        if (t.number != number and a.get("exit_code") is not None and a.get(storage.DUPLICATE_OF) is None
                and a.get("recipe_yaml") == recipe_yaml):
            return t
    return None


def set_constraints(trial, gates) -> None:
    """The gates as the trial's constraints (<= 0: met; Optuna 5's trial.set_constraint, one per gate,
    "gates" when there is none), and as its user attr `constraints` (the list, for Optuna 4's samplers)."""
    from .samplers import trial_constraints

    miss = violations(gates) or [0.0]
    trial.set_user_attr("constraints", miss)
    if trial_constraints():
        for name, v in zip([g.name for g in gates] or ["gates"], miss, strict=True):
            trial.set_constraint(name, v)


class _Heartbeat:
    """Records the running trial's heartbeat every interval (a thread) until stopped."""

    def __init__(self, rdb, trial_id: int):
        self.rdb, self.trial_id, self.done = rdb, trial_id, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.done.wait(self.rdb.heartbeat_interval):
            try:
                self.rdb.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 - a lost beat is retried next interval; the trial goes on
                pass

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def optuna_fail_stale(study) -> None:
    """Fail the RUNNING trials whose worker stopped sending heartbeats (their retries then wait)."""
    import optuna

    with storage.quiet_experimental():
        optuna.storages.fail_stale_trials(study)


def work(study, space: SearchSpace, opts: SearchOptions, progress: SearchProgress) -> bool:
    """Run one worker on the study until it holds its total; True when interrupted (Ctrl-C, SIGTERM): the
    running trial's run is stopped and told as interrupted (not counted)."""
    workers = _Workers(study, space, opts, _total(space, opts), progress)
    done = threading.Event()  # not Thread.join: on Python 3.11 a Ctrl-C inside join() marks the thread ended

    def loop() -> None:
        try:
            workers.loop()
        finally:
            done.set()

    threading.Thread(target=loop, daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        with _signals_ignored():  # a second Ctrl-C must not leave the trial untold
            workers.interrupt()
            done.wait()
        return True
    return False


class _signals_ignored:  # noqa: N801 - used as a context manager
    def __enter__(self):
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)


def run_search(space: SearchSpace, source: Path, name: str, opts: SearchOptions,
               progress: Optional[SearchProgress] = None) -> dict:
    """Run (or continue) the study with opts.workers local workers (one in this process, or that many
    worker processes: workers.py); write the outputs; return search.json's content (its exit_code too).
    `progress` hears of each finished trial and of the workers' warnings (default: Silent)."""
    from . import workers

    space.source = source
    samplers.check(space)  # a sampler's missing package: exit 2 before the study exists
    opts.output.mkdir(parents=True, exist_ok=True)
    (opts.output / "trials").mkdir(exist_ok=True)
    progress = progress or Silent()
    study = open_study(space, name, opts)
    total, start = _total(space, opts), time.monotonic()
    _first_trials(study, space, opts, total, progress)
    search_started(progress, study, total, opts.workers, space.short_names())
    if opts.workers <= 1:
        interrupted = work(study, space, opts, progress)
    else:
        interrupted = workers.run_processes(study, source, storage_url(opts), total, opts, progress, space)
    stopped = None
    if not interrupted and opts.timeout is not None and time.monotonic() - start >= opts.timeout:
        finished = storage.tally(study)[1]
        if finished < total:
            stopped = f"stopped by --timeout after {finished} of {total} trials"
            progress.log(stopped)
    return front.write_outputs(study, space, opts.output, interrupted, total, stopped)


def _first_trials(study, space: SearchSpace, opts: SearchOptions, total: int, progress: SearchProgress) -> None:
    """What the session puts first in the study's queue: on --resume one retry of each interrupted trial
    (session.py); in a new study the built-in recipes that fit the space, at most half the total
    (seeding.py). Records the total asked for (search.json's requested_trials, --report-only)."""
    study.set_user_attr(front.REQUESTED, total)
    counted, _ = storage.tally(study)
    if opts.resume:  # an interrupted trial's parameters are tried again, once, labelled retry_of
        counted += len(session.enqueue_retries(study, total - counted))
    if not study.get_trials(deepcopy=False):
        names = seeding.seed_builtins(study, space, min(total - counted, -(-total // 2)))
        if names:
            progress.log(f"first trials: the built-in recipes {', '.join(names)} (their values of the space)")


def run_worker(space: SearchSpace, source: Path, name: str, opts: SearchOptions,
               progress: Optional[SearchProgress] = None) -> bool:
    """`search --worker`: one worker process of a local `--workers K` search (no outputs: the parent
    writes them). True when interrupted."""
    space.source = source
    study = open_study(space, name, opts, join=True)
    progress = progress or Silent()
    search_started(progress, study, _total(space, opts), 1, space.short_names())
    return work(study, space, opts, progress)


def report_only(opts: SearchOptions, space: Optional[SearchSpace]) -> dict:
    """`--report-only`: the outputs of a shared study, from its records (the trials may have run on other
    machines: their files are copied only where they exist here)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = storage.open_storage(storage_url(opts), opts.heartbeat)
    names = [s.study_name for s in optuna.study.get_all_study_summaries(rdb)]
    name = opts.study or (names[0] if len(names) == 1 else None)
    if name not in names:
        raise RecipeError(f"--storage: no study {name!r} there (it holds: {', '.join(names) or 'none'})"
                          if name else f"--storage holds {len(names)} studies: name one with --study")
    study = optuna.load_study(study_name=name, storage=rdb)
    space = space or storage.stored_space(study)
    opts.output.mkdir(parents=True, exist_ok=True)
    doc = front.write_outputs(study, space, opts.output, False)
    _recipes_from_study(study, doc, opts.output)
    return doc


def _recipes_from_study(study, doc: dict, out: Path) -> None:
    """best.yaml and pareto/NN.yaml that write_outputs could not copy (their trials ran elsewhere): the
    trial's recipe as its worker recorded it in the study."""
    text = {t.number: t.user_attrs.get("recipe_yaml") for t in study.get_trials(deepcopy=False)}
    wanted = [(out / "pareto" / f"{i:02d}.yaml", n) for i, n in enumerate(doc["pareto"])]
    if doc["recommended"] is not None:
        wanted.append((out / "best.yaml", doc["recommended"]))
    for path, number in wanted:
        if not path.is_file() and text.get(number):
            path.write_text(text[number], encoding="utf-8")
