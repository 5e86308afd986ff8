"""`optimize-cli recipes`, `tree` and `schema`: what the tool offers. Never imports TensorFlow."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .options import json_option, output_option
from .validate import path_label

RECIPES_DIR = Path(__file__).resolve().parent.parent.parent / "recipes"


def builtin_recipes():
    """(path, Recipe or None, error) for each built-in recipe, without checking paths."""
    from ..errors import RecipeError
    from ..recipe import load_recipe

    out = []
    for p in sorted(RECIPES_DIR.glob("*.yaml")):
        try:
            out.append((p, load_recipe(p, check_paths=False), None))
        except RecipeError as e:
            out.append((p, None, str(e)))
    return out


@click.command()
@json_option("JSON list on stdout.")
def recipes(as_json) -> None:
    """List the built-in recipes: name, path of the tree, description."""
    rows = []
    for p, r, err in builtin_recipes():
        if r is None:
            rows.append({"name": p.stem, "file": str(p), "path": None, "description": f"INVALID: {err}"})
        else:
            rows.append({"name": r.name, "file": str(p), "path": path_label(r), "description": r.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(show_edge=False, box=None, pad_edge=False)
    for c in ("name", "path", "description"):
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(row["name"], row["path"] or "-", row["description"])
    Console(highlight=False).print(t)


@click.command()
def tree() -> None:
    """Draw the deployment tree, naming the built-in recipe that walks each path."""
    from rich.console import Console
    from rich.tree import Tree

    by_path: dict[tuple, list[str]] = {}
    for _p, r, _e in builtin_recipes():
        if r is None:
            continue
        key = tuple(r.stage_types) + (() if "qat" in r.stage_types else (f"ptq-{r.export.quantization}",))
        by_path.setdefault(key, []).append(r.name)

    def leaf(label: str, key: tuple) -> str:
        names = by_path.get(key)
        return f"{label}  [green]{', '.join(names)}[/green]" if names else f"{label}  [dim](no built-in recipe)[/dim]"

    def ptq(node, prefix: tuple):
        p = node.add("PTQ (post-training quantization)")
        for q in ("none", "dynamic", "float16", "int8", "int16x8"):
            if q == "none" and prefix:
                continue
            p.add(leaf(q if q != "none" else "none (float32)", prefix + (f"ptq-{q}",)))

    root = Tree("[bold]SavedModel[/bold]")
    ptq(root, ())
    root.add(leaf("QAT → int8", ("qat",)))
    pr = root.add("prune")
    ptq(pr, ("prune",))
    pr.add(leaf("PQAT (prune-preserving QAT) → int8", ("prune", "qat")))
    prc = pr.add("cluster (sparsity-preserving)")
    ptq(prc, ("prune", "cluster"))
    prc.add(leaf("PCQAT (sparsity- and cluster-preserving QAT) → int8", ("prune", "cluster", "qat")))
    cl = root.add("cluster")
    ptq(cl, ("cluster",))
    cl.add(leaf("CQAT (cluster-preserving QAT) → int8", ("cluster", "qat")))
    Console(highlight=False, no_color=bool(os.environ.get("NO_COLOR"))).print(root)


@click.command()
@output_option("Write to a file instead of stdout.", dir_okay=False)
def schema(output) -> None:
    """Print the JSON Schema of the recipe (for editors and CI linting)."""
    from ..recipe import json_schema

    text = json.dumps(json_schema(), indent=2)
    if output:
        output.write_text(text + "\n")
    else:
        click.echo(text)
