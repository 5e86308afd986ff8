"""The stage registry: recipe `type` → the module that owns it.

A stage module holds its parameter model (`Params`, with a `type` Literal), `resolve(params, previous,
training)`, `run(model, params, ctx) -> StageResult`, `tree_label(previous)` and, where the export can
lose what it made, `export_check(params, record, tflite_layers)`; a stage that decides the export says so
in `EXPORT` / `EXPORT_REASON` (qat → int8). Adding a stage is one module and one `register(...)` line
below; its place in that list is its place in the order of a path. The recipe's stage union, the tree
rules, `optimize-cli tree`, the JSON Schema and the run loop all read this registry.

Importing this package never imports TensorFlow: each module's `run` imports it when called.
"""
from __future__ import annotations

from types import ModuleType
from typing import Callable, Optional

from . import cluster, filter_prune, prune, qat
from .base import StageContext, StageParams, StageResult
from .checks import export_checks
from .cluster import ClusterStage
from .filter_prune import FilterPruneStage
from .prune import PruneStage
from .qat import QatStage

#: recipe `type` → parameter model, in the only order allowed in a path (kept in step by `register`)
STAGES: dict[str, type[StageParams]] = {}
#: the stage types in path order (the same list object throughout, so importers see registrations)
STAGE_ORDER: list[str] = []
_MODULES: dict[str, ModuleType] = {}
_LISTENERS: list[Callable[[], None]] = []


def register(module: ModuleType, before: Optional[str] = None) -> str:
    """Add the stage `module` (at the end of the order, or just before the stage type `before`) and tell
    the registry's readers (the recipe's stage union); returns its type."""
    typ = module.Params.model_fields["type"].default
    order = [t for t in STAGE_ORDER if t != typ]
    order.insert(order.index(before) if before is not None else len(order), typ)
    _MODULES[typ] = module
    _sync(order)
    return typ


def unregister(typ: str) -> None:
    """Remove a stage type again (tests that register a throw-away stage)."""
    _MODULES.pop(typ, None)
    _sync([t for t in STAGE_ORDER if t != typ])


def _sync(order: list[str]) -> None:
    STAGE_ORDER[:] = order
    STAGES.clear()
    STAGES.update({t: _MODULES[t].Params for t in order})
    for listener in _LISTENERS:
        listener()


def on_register(listener: Callable[[], None]) -> None:
    """Call `listener()` after every change of the registry."""
    _LISTENERS.append(listener)


def stage_module(typ: str) -> ModuleType:
    """The module that owns stage `typ` (its `run`, `resolve`, `export_check`, ...); KeyError if none."""
    return _MODULES[typ]


def run_stage(model, params: StageParams, ctx: StageContext) -> StageResult:
    """Run one stage through the registry: what the run loop calls for each stage of the path."""
    return stage_module(params.type).run(model, params, ctx)


register(filter_prune)
register(prune)
register(cluster)
register(qat)

__all__ = ["STAGES", "STAGE_ORDER", "ClusterStage", "FilterPruneStage", "PruneStage", "QatStage", "StageContext", "StageParams",
           "StageResult", "export_checks", "on_register", "register", "run_stage", "stage_module", "unregister"]
