"""The stage registry: recipe `type` → the module that owns it.

A stage module is a `base.StageModule`: its parameter model (`Params`, with a `type` Literal),
`resolve(params, previous, training)`, `run(model, params, ctx) -> StageResult`, `tree_label(previous)`,
`DISTRIBUTED` (its fit runs under training.distribute) and, where the export can lose what it made,
`export_check(params, record, tflite_layers)`; a stage that decides the export says so in `EXPORT` /
`EXPORT_REASON` (qat → int8). Adding a stage is one module and its place in `MODULES` below, which is
also its place in the order of a path. The recipe's stage union, the tree rules (`stages/order.py`),
`optimize-cli tree`, the JSON Schema and the run loop all read this registry.

Tests add a throw-away stage with `registered(module, before=...)` (or `register` / `unregister`): the
registry is then that tuple with the module in it, and the readers see it the next time they read it
(the recipe's stage union is rebuilt on demand, recipe/model.py).

Importing this package never imports TensorFlow: each module's `run` imports it when called.
"""
from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Iterator, Optional

from . import cluster, filter_prune, prune, qat
from .base import StageContext, StageModule, StageParams, StageResult, check_stage_module
from .checks import layers_by_name
from .cluster import ClusterStage
from .filter_prune import FilterPruneStage
from .prune import PruneStage
from .qat import QatStage

#: the built-in stage modules, in the only order allowed in a path (like data/config.SOURCES)
MODULES: tuple[ModuleType, ...] = (filter_prune, prune, cluster, qat)

#: the registry as it is now: MODULES, plus what a test registered
_current: list[tuple[ModuleType, ...]] = [MODULES]
#: recipe `type` → parameter model, in path order (a view of the registry, kept in step with it)
STAGES: dict[str, type[StageParams]] = {}
#: the stage types in path order (a view of the registry, kept in step with it)
STAGE_ORDER: list[str] = []


def stage_modules() -> tuple[ModuleType, ...]:
    """The registered stage modules in path order (a new tuple whenever the registry changes)."""
    return _current[0]


def _set(modules: tuple[ModuleType, ...]) -> None:
    _current[0] = modules
    STAGE_ORDER[:] = [m.Params.model_fields["type"].default for m in modules]
    STAGES.clear()
    STAGES.update({t: m.Params for t, m in zip(STAGE_ORDER, modules, strict=True)})


def register(module: ModuleType, before: Optional[str] = None) -> str:
    """Add the stage `module` (at the end of the order, or just before the stage type `before`); returns
    its type. A module that is not a `StageModule` is refused with a TypeError saying what it lacks."""
    typ = check_stage_module(module)
    mods = [m for m in stage_modules() if m.Params.model_fields["type"].default != typ]
    at = len(mods) if before is None else [m.Params.model_fields["type"].default for m in mods].index(before)
    mods.insert(at, module)
    _set(tuple(mods))
    return typ


def unregister(typ: str) -> None:
    """Remove a stage type again (tests that register a throw-away stage)."""
    _set(tuple(m for m in stage_modules() if m.Params.model_fields["type"].default != typ))


@contextlib.contextmanager
def registered(module: ModuleType, before: Optional[str] = None) -> Iterator[str]:
    """`with registered(module, before="qat"):` the registry holds `module` (its type is yielded), and
    only the built-in and earlier registrations again afterwards."""
    saved = stage_modules()
    try:
        yield register(module, before)
    finally:
        _set(saved)


def stage_module(typ: str) -> StageModule:
    """The module that owns stage `typ` (its `run`, `resolve`, `export_check`, ...); KeyError if none."""
    for m in stage_modules():
        if m.Params.model_fields["type"].default == typ:
            return m
    raise KeyError(typ)


def run_stage(model, params: StageParams, ctx: StageContext) -> StageResult:
    """Run one stage through the registry, its parameters resolved here once for `ctx` (a copy: a loaded
    recipe's stages were resolved already, and the copy is what the stage runs, fits and records with)."""
    module = stage_module(params.type)
    resolved = params.model_copy(deep=True)
    module.resolve(resolved, list(ctx.previous), ctx.training)
    return module.run(model, resolved, ctx)


def export_checks(recipe, stage_records: list[dict], tflite_layers: list[dict]) -> list[dict]:
    """One check ({name, passed, message}) per stage whose module has `export_check`, compared per layer
    in the .tflite weight buffers (`tflite_layers`: measure's layers, keyed by their Keras layer name)."""
    by_layer = layers_by_name(tflite_layers)
    out = []
    for st, rec in zip(recipe.stages, stage_records, strict=False):
        check = getattr(stage_module(st.type), "export_check", None)
        if check is not None:
            out.append(check(st, rec, by_layer))
    return out


for _module in MODULES:
    check_stage_module(_module)
_set(MODULES)

__all__ = ["MODULES", "STAGES", "STAGE_ORDER", "ClusterStage", "FilterPruneStage", "PruneStage", "QatStage",
           "StageContext", "StageModule", "StageParams", "StageResult", "export_checks", "register", "registered",
           "run_stage", "stage_module", "stage_modules", "unregister"]
