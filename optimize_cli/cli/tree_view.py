"""What `optimize-cli tree` draws and `recipes` lists: the deployment tree built from the stage registry
(`render_tree`) and the paths a recipe may take (`recipe_paths`). Never imports TensorFlow."""
from __future__ import annotations

from typing import Iterable

from ..stages import stage_module
from ..stages.order import fixed_export, next_stages, path_key
from ..tree import QUANTIZATIONS


def recipe_paths(path) -> tuple[bool, list]:
    """(whether it is a search recipe, [(the values that lead there, Recipe)] with one entry per distinct
    path the recipe may take: a plain recipe has one, a search recipe one per choice of its optional
    stages and export.quantization). Paths are not checked."""
    from ..recipe import load_recipe
    from ..recipe.space import SearchRecipeError, load_space

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
        for t in next_stages(prefix):
            label = stage_module(t).tree_label(list(prefix))
            if fixed_export([t]):
                node.add(leaf(label, prefix + (t,)))
            else:
                grow(node.add(label), prefix + (t,))

    root = Tree("[bold]SavedModel[/bold]")
    grow(root, ())
    return root
