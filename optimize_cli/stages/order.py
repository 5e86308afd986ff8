"""The deployment tree's rules that read the stage registry: the one order stages may take in a path,
the stage that decides the export, the scheme that follows from the path, and where a recipe sits in
the tree. Never imports TensorFlow."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from . import STAGE_ORDER, stage_module


def stage_order() -> list[str]:
    """The only order stages may take in a path: the registry's order (filter_prune → prune → cluster → qat)."""
    return list(STAGE_ORDER)


def fixed_export(types: Iterable[str]) -> Optional[tuple[str, str]]:
    """(type, quantization) of the first stage in `types` that decides the export (qat → int8), else None."""
    for t in types:
        q = getattr(stage_module(t), "EXPORT", None)
        if q:
            return t, q
    return None


def path_scheme(types: Sequence[str]) -> Optional[str]:
    """The scheme that follows from the path (the QAT scheme: QAT, PQAT, CQAT or PCQAT), from the first
    stage whose module has `path_scheme(previous)`; None when no stage of the path has one."""
    for i, t in enumerate(types):
        scheme = getattr(stage_module(t), "path_scheme", None)
        if scheme is not None:
            return scheme(list(types[:i]))
    return None


def order_problems(types: Sequence[str]) -> list[tuple[int, str]]:
    """(index, message) for each stage type that repeats or comes out of order."""
    order = stage_order()
    last = [t for t in order if fixed_export([t])]
    note = f" ({' and '.join(last)} is always the last training stage)" if last else ""
    out: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(types):
        if t in seen:
            out.append((i, f"'{t}' appears twice (first at stages[{seen[t]}]); each stage may appear at most once"))
            continue
        later = [u for u in seen if order.index(u) > order.index(t)]
        if later:
            out.append((i, f"'{t}' cannot come after '{later[0]}': the order is {' → '.join(order)}{note}"))
        seen[t] = i
    return out


def path_key(types: Sequence[str], quantization: Optional[str]) -> tuple:
    """Where a recipe sits in the tree: its stage types, then `ptq-<q>` unless a stage fixes the export."""
    return tuple(types) + (() if fixed_export(types) else (f"ptq-{quantization}",))


def next_stages(prefix: Sequence[str]) -> list[str]:
    """The stage types that may follow the path `prefix`, those that end a path (they fix the export)
    first, as `optimize-cli tree` draws them."""
    order = stage_order()
    nexts = order[order.index(prefix[-1]) + 1:] if prefix else order
    return [t for t in nexts if fixed_export([t])] + [t for t in nexts if not fixed_export([t])]
