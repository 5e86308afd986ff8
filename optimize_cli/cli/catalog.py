"""`optimize-cli recipes`, `tree` and `schema`: what the tool offers. Never imports TensorFlow."""
from __future__ import annotations

import json

import click

from ..builtin import recipe_files
from .options import json_option, output_option
from .validate import path_label

def builtin_recipes():
    """(path, Recipe or None, error) for each built-in recipe, without checking paths."""
    from ..errors import RecipeError
    from ..recipe import load_recipe

    out = []
    for p in recipe_files():
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
    from rich.table import Table

    from ..progress import stdout_console

    t = Table(show_edge=False, box=None, pad_edge=False)
    for c in ("name", "path", "description"):
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(row["name"], row["path"] or "-", row["description"])
    stdout_console().print(t)


@click.command()
def tree() -> None:
    """Draw the deployment tree, naming the built-in recipe that walks each path."""
    from ..progress import stdout_console
    from ..tree import render_tree

    drawing = render_tree(r for _p, r, _e in builtin_recipes())
    stdout_console().print(drawing)


@click.command()
@output_option("Write to a file instead of stdout.", dir_okay=False)
def schema(output) -> None:
    """Print the JSON Schema of the recipe (for editors and CI linting).

    \b
    For editors with yaml-language-server (VS Code's YAML extension, Neovim, Helix, …): save it with
    `optimize-cli schema -o recipe.schema.json` and make this the recipe's first line:
      # yaml-language-server: $schema=recipe.schema.json
    (a path relative to the recipe, or a URL). CI: validate recipes with any JSON Schema validator
    (draft 2020-12), or with `optimize-cli validate`."""
    from ..recipe import json_schema

    text = json.dumps(json_schema(), indent=2)
    if output:
        output.write_text(text + "\n")
    else:
        click.echo(text)
