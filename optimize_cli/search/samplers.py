"""The study's sampler (`search.sampler`), in Optuna 5's idioms: the gates reach it as each trial's own
constraints (`trial.set_constraint`, set by the worker when it tells the trial: study.py), not through a
`constraints_func` (deprecated in Optuna 5.0).

- `tpe`: TPE with `multivariate=True, group=True` — our spaces are conditional (a stage's values exist
  only when the stage is on), and grouped multivariate TPE models each group of parameters that occur
  together jointly instead of each alone; `tpe-independent`: TPE as before (one parameter at a time);
- `gp`: Gaussian-process Bayesian optimization (optuna.samplers.GPSampler; needs PyTorch and SciPy);
- `nsga2`, `random`, `grid` as Optuna has them (grid without its `study.stop()`)."""
from __future__ import annotations

import importlib.util
from typing import Optional

from ..errors import RecipeError
from ..recipe.space import SearchSpace
from .space import grid

#: the packages each sampler needs beyond optuna (import name, what pip installs)
NEEDS = {"gp": (("torch", "torch"), ("scipy", "scipy"))}
#: whether this Optuna takes constraints from the trial (Optuna >= 5.0); else from a constraints_func
TRIAL_CONSTRAINTS: Optional[bool] = None


def missing(sampler: str) -> list[str]:
    """What pip must install for `sampler` (empty when nothing is missing)."""
    return [pip for mod, pip in NEEDS.get(sampler, ()) if importlib.util.find_spec(mod) is None]


def check(space: SearchSpace) -> None:
    """A RecipeError (exit 2, before any trial) when search.sampler needs a package that is not installed."""
    gone = missing(space.config.sampler)
    if gone:
        raise RecipeError(f"search.sampler: {space.config.sampler} needs {' and '.join(gone)}, which "
                          f"{'is' if len(gone) == 1 else 'are'} not installed: pip install {' '.join(gone)} "
                          "(or choose tpe, nsga2, random or grid)")


def trial_constraints() -> bool:
    """Whether trial.set_constraint exists (Optuna 5): samplers read the trials' constraints then."""
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def _constraints(trial) -> list[float]:  # Optuna 4: the samplers ask for them
    return trial.user_attrs.get("constraints", [0.0])


def make_sampler(space: SearchSpace, seed: Optional[int] = None):
    """The sampler of search.sampler, seeded with `seed` (default search.seed; a session's own seed comes
    from session.session_seed)."""
    import warnings

    import optuna

    cfg = space.config
    seed = cfg.seed if seed is None else seed
    check(space)
    extra = {} if trial_constraints() else {"constraints_func": _constraints}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        if cfg.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, **extra)
        if cfg.sampler == "tpe-independent":
            return optuna.samplers.TPESampler(seed=seed, **extra)
        if cfg.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed, **extra)
        if cfg.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, **extra)
        if cfg.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    return _AskTellGrid(grid(space), seed=seed)


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
