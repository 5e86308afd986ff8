"""What a search tells its caller while it works (the library prints nothing; the CLI shows it:
cli/search_progress.py): the SearchProgress protocol, a Silent one, and the typed start of a trial."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Protocol


@dataclass
class TrialStart:
    """A trial that began running: its number, its parameters (name → value), its place in the study's
    total (1-based; the study counts trials, not numbers), the total, its run's log (DIR/trials/NNNN.log:
    its stage lines as the run says them), and what it repeats or was seeded from."""

    number: int
    params: dict
    place: int
    total: int
    log: Optional[Path] = None
    retry_of: Optional[int] = None
    builtin: Optional[str] = None
    labels: dict = field(default_factory=dict)  # param name → its short form (space.short_names)


class SearchProgress(Protocol):
    """What a search tells its caller while it works."""

    def search_started(self, study, total: int, workers: int, labels: dict) -> None:
        """The search begins on `study` (it may hold trials of earlier sessions) towards `total` finished
        trials with `workers` at once; `labels`: each parameter's short name (space.short_names)."""

    def trial_started(self, start: TrialStart) -> None:
        """A trial's run began."""

    def trial(self, trial, study) -> None:
        """A trial finished (an Optuna FrozenTrial); `study` holds the trials other workers finished."""

    def log(self, message: str) -> None:
        """A line about the search (the sensitivity pass, the built-ins it starts from, a --timeout)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the search (a worker that ended badly)."""


class Silent:
    """A SearchProgress that says nothing (the default of a search called from Python)."""

    def search_started(self, study, total: int, workers: int, labels: dict) -> None:
        pass

    def trial_started(self, start: TrialStart) -> None:
        pass

    def trial(self, trial, study) -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


def started(progress, start: TrialStart) -> None:
    """progress.trial_started(start), for a progress written before it existed too."""
    hook = getattr(progress, "trial_started", None)
    if hook is not None:
        hook(start)


def search_started(progress, study, total: int, workers: int, labels: dict) -> None:
    hook = getattr(progress, "search_started", None)
    if hook is not None:
        hook(study, total, workers, labels)


def trial_start(study, number: int, params: dict, total: int, trials_dir: Path, space) -> TrialStart:
    """The TrialStart of trial `number` (its place among the trials the study counts; `space`: the
    recipe's SearchSpace, for the parameters' short names)."""
    from . import seeding, session, storage

    t = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    return TrialStart(number, dict(params), storage.rank(study, number) + 1, total, trials_dir / f"{number:04d}.log",
                      session.retry_of(t), t.user_attrs.get(seeding.BUILTIN), space.short_names())
