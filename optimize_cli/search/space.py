"""A trial's concrete values, sampled from an Optuna trial over a recipe's SearchSpace."""
from __future__ import annotations

from ..recipe.space import Param, SearchSpace


def suggest(trial, p: Param):
    """One value of `p` from the Optuna trial (the distribution follows the parameter's kind)."""
    if p.kind == "optional":
        return trial.suggest_categorical(p.name, [True, False])
    if p.kind == "choice":
        return trial.suggest_categorical(p.name, p.choices)
    if p.kind == "int":
        return trial.suggest_int(p.name, p.low, p.high, log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def sample(trial, space: SearchSpace) -> dict:
    """name → value for one trial; a stage that is off has its values left unsampled."""
    values: dict = {}
    for p in space.params:  # optional stages come first (parse_space orders them)
        if p.stage is not None and values.get(f"stages.{p.stage}.enabled") is False:
            continue
        values[p.name] = suggest(trial, p)
    return values


def grid(space: SearchSpace) -> dict:
    """The search space of Optuna's GridSampler: name → every value."""
    return {p.name: p.grid() for p in space.params}
