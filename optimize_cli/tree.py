"""The deployment tree (DESIGN.md): which stage order a path may take, the QAT scheme that follows from
the path, the one renderer of a path's label, and the drawing of `optimize-cli tree`.

The stage types and their order come from the stage registry (`optimize_cli.stages`); importing this
module never imports TensorFlow (nor the registry: it is read when a function is called).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

#: QAT scheme name → tfmot scheme class, chosen from what came before (DESIGN.md)
SCHEMES = {
    "QAT": "Default8BitQuantizeScheme",
    "PQAT": "Default8BitPrunePreserveQuantizeScheme",
    "CQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)",
    "PCQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)",
}
#: how the tree names each scheme
SCHEME_TITLES = {
    "QAT": "QAT",
    "PQAT": "PQAT (prune-preserving QAT)",
    "CQAT": "CQAT (cluster-preserving QAT)",
    "PCQAT": "PCQAT (sparsity- and cluster-preserving QAT)",
}
#: export quantizations, in the order the tree lists them
QUANTIZATIONS = ("none", "dynamic", "float16", "int8", "int16x8")


def scheme_for(previous: Sequence[str]) -> str:
    """The QAT scheme that preserves what the earlier stages made."""
    pruned, clustered = "prune" in previous, "cluster" in previous
    if pruned and clustered:
        return "PCQAT"
    if clustered:
        return "CQAT"
    if pruned:
        return "PQAT"
    return "QAT"


def scheme_note(name: str) -> str:
    """'CQAT (Default8BitClusterPreserveQuantizeScheme, preserve_sparsity=False)': the scheme and its class."""
    cls = SCHEMES[name]
    return f"{name} ({cls.replace('(', ', ').rstrip(')')})"


def stage_order() -> list[str]:
    """The only order stages may take in a path: the registry's order (prune → cluster → qat)."""
    from .stages import STAGE_ORDER

    return list(STAGE_ORDER)


def fixed_export(types: Iterable[str]) -> Optional[tuple[str, str]]:
    """(type, quantization) of the first stage in `types` that decides the export (qat → int8), else None."""
    from .stages import stage_module

    for t in types:
        q = getattr(stage_module(t), "EXPORT", None)
        if q:
            return t, q
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


def quant_label(quantization: Optional[str]) -> str:
    """The export mode as shown: "float32" for none."""
    return "float32" if quantization in (None, "none") else str(quantization)


def stage_name(stage_type: str, scheme: Optional[str] = None) -> str:
    """A stage as shown in a path: its type, with the QAT scheme when it is not plain QAT ("qat (PCQAT)")."""
    if stage_type == "qat" and scheme and scheme.upper() != "QAT":
        return f"qat ({scheme})"
    return str(stage_type)


def path_label(stages: Iterable, quantization: Optional[str], style: str = "report") -> str:
    """The one renderer of a path's label.

    `stages` holds stage types, or records with `type` and `scheme` (report.json's stages). style
    "report": "prune → cluster → qat (PCQAT) → int8" (report.md, the summary, compare); style "listing":
    "prune → cluster → qat → tflite(int8)" (`optimize-cli recipes`, `validate`).
    """
    types, schemes = [], []
    for st in stages:
        types.append(str(st if isinstance(st, str) else st.get("type")))
        schemes.append(None if isinstance(st, str) else (st.get("scheme") or ""))
    if style == "listing":
        return " → ".join(types + [f"tflite({quantization or 'none'})"])
    parts = [stage_name(t, scheme_for(types[:i]) if scheme is None and t == "qat" else scheme)
             for i, (t, scheme) in enumerate(zip(types, schemes, strict=True))]
    q = quant_label(quantization)
    if not parts:
        return "float32 (no optimization)" if q == "float32" else f"PTQ → {q}"
    return " → ".join(parts + [q])


def path_key(types: Sequence[str], quantization: Optional[str]) -> tuple:
    """Where a recipe sits in the tree: its stage types, then `ptq-<q>` unless a stage fixes the export."""
    return tuple(types) + (() if fixed_export(types) else (f"ptq-{quantization}",))


def recipe_paths(path) -> tuple[bool, list]:
    """(whether it is a search recipe, [(the values that lead there, Recipe)] with one entry per distinct
    path the recipe may take: a plain recipe has one, a search recipe one per choice of its optional
    stages and export.quantization). Paths are not checked."""
    from .recipe import load_recipe
    from .recipe.space import SearchRecipeError, load_space

    try:
        return False, [("", load_recipe(path, check_paths=False))]
    except SearchRecipeError:
        every: list = []
        load_space(path, check_paths=False, every=every)
    seen, out = set(), []
    for label, r in every:
        key = path_key(r.stage_types, r.export.quantization)
        if key not in seen:
            seen.add(key)
            out.append((label, r))
    return True, out


def render_tree(recipes: Iterable, empty: str = "[dim](no built-in recipe)[/dim]"):
    """The `optimize-cli tree` drawing (a rich Tree) built from the stage registry, naming the recipes in
    `recipes` (Recipe objects; None entries are skipped) at the path each walks; `empty` marks a path no
    recipe walks."""
    from rich.markup import escape
    from rich.tree import Tree

    from .stages import stage_module

    by_path: dict[tuple, list[str]] = {}
    for r in recipes:
        if r is not None:
            by_path.setdefault(path_key(r.stage_types, r.export.quantization), []).append(r.name)

    def leaf(label: str, key: tuple) -> str:
        names = by_path.get(key)
        return f"{label}  [green]{escape(', '.join(names))}[/green]" if names else f"{label}  {empty}".rstrip()

    def grow(node, prefix: tuple) -> None:
        p = node.add("PTQ (post-training quantization)")
        for q in QUANTIZATIONS:
            if q == "none" and prefix:
                continue
            p.add(leaf(q if q != "none" else "none (float32)", prefix + (f"ptq-{q}",)))
        order = stage_order()
        start = order.index(prefix[-1]) + 1 if prefix else 0
        nexts = order[start:]
        for t in [t for t in nexts if fixed_export([t])] + [t for t in nexts if not fixed_export([t])]:
            label = stage_module(t).tree_label(list(prefix))
            if fixed_export([t]):
                node.add(leaf(label, prefix + (t,)))
            else:
                grow(node.add(label), prefix + (t,))

    root = Tree("[bold]SavedModel[/bold]")
    grow(root, ())
    return root
