"""`optimize-cli recipes`, `tree` and `schema`: what the tool offers. Never imports TensorFlow."""
from __future__ import annotations

import json
import sys

import click

from ..builtin import recipe_files
from ..errors import EXIT_USAGE
from .completion import RECIPE
from .options import json_option, output_option
from .tables import print_table, stdout_console
from .validate import path_label


def builtin_recipes():
    """(path, Recipe or None, error, paths) for each built-in recipe, without checking paths: `paths` is
    None for a plain recipe, and for a search recipe one Recipe per path it may take (the first is the
    Recipe)."""
    from ..errors import RecipeError
    from .tree_view import recipe_paths

    out = []
    for p in recipe_files():
        try:
            is_search, found = recipe_paths(p)
        except RecipeError as e:
            out.append((p, None, str(e), None))
        else:
            out.append((p, found[0][1], None, [r for _, r in found] if is_search else None))
    return out


class _Named:
    """A recipe as the tree names it ("search-quantization (search)")."""

    def __init__(self, r, name: str):
        self.name, self.stage_types, self.export = name, r.stage_types, r.export


@click.command()
@json_option("JSON list on stdout.")
def recipes(as_json) -> None:
    """List the built-in recipes: name, path of the tree (every path a search recipe may take),
    description."""
    rows = []
    for p, r, err, paths in builtin_recipes():
        if r is None:
            rows.append({"name": p.stem, "file": str(p), "path": None, "paths": [], "search": False,
                         "description": f"INVALID: {err}"})
        else:
            labels = [path_label(x) for x in (paths or [r])]
            rows.append({"name": r.name, "file": str(p), "path": " | ".join(labels), "paths": labels,
                         "search": paths is not None, "description": r.description})
    rows.sort(key=lambda row: row["name"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = stdout_console()
    print_table(console, _recipes_table(rows, console))


def _recipes_table(rows: list[dict], console):
    """The table of `recipes`. On a terminal the name never wraps and the other columns wrap at spaces; in a
    pipe each recipe is one line, nothing cut (`optimize-cli recipes | grep distill`)."""
    from rich.markup import escape
    from rich.table import Table

    terminal = console.is_terminal
    t = Table(show_edge=False, box=None, pad_edge=False)
    t.add_column("name", no_wrap=True)
    for c in ("path", "description"):
        t.add_column(c, no_wrap=not terminal, overflow="fold" if terminal else "ignore")
    for row in rows:
        name = escape(row["name"]) + (" [cyan](search)[/cyan]" if row["search"] else "")
        paths = ("\n" if terminal else " | ").join(row["paths"]) or "-"
        t.add_row(name, escape(paths), escape(row["description"]))
    return t


@click.command()
@click.argument("recipe", required=False, type=RECIPE)
def tree(recipe) -> None:
    """Draw the deployment tree, naming the built-in recipe that walks each path; with RECIPE (a file or a
    built-in name), the paths that recipe walks: every path a search recipe may take."""
    from ..progress import stdout_console
    from .tree_view import render_tree

    if recipe is not None:
        _recipe_tree(recipe)
        return
    named = []
    for _p, r, _e, paths in builtin_recipes():
        named += [_Named(x, f"{x.name} (search)") for x in paths] if paths else [r]
    stdout_console().print(render_tree(named))


def _recipe_tree(recipe) -> None:
    """`tree RECIPE`: the tree with RECIPE named at each path it may take, then those paths listed."""
    from rich.markup import escape

    from ..builtin import recipe_path
    from ..errors import RecipeError
    from ..progress import stdout_console
    from .shell import print_error
    from .tree_view import recipe_paths, render_tree

    try:
        is_search, found = recipe_paths(recipe_path(recipe))
    except RecipeError as e:
        print_error(str(e))
        sys.exit(EXIT_USAGE)
    console = stdout_console()
    console.print(render_tree([r for _, r in found], empty=""))
    name = found[0][1].name
    if not is_search:
        console.print(f"{escape(name)}: {escape(path_label(found[0][1]))}")
        return
    console.print(f"{escape(name)} (search recipe) may take {len(found)} path{'s' * (len(found) != 1)}:")
    for label, r in found:
        console.print(f"  {escape(path_label(r))}  [dim]({escape(label)})[/dim]")


@click.command()
@output_option("Write to a file instead of stdout.", dir_okay=False)
@click.option("--report", "report_schema", is_flag=True, help="The JSON Schema of report.json instead.")
def schema(output, report_schema) -> None:
    """Print the JSON Schema of the recipe (for editors and CI linting), or with --report of report.json.

    \b
    For editors with yaml-language-server (VS Code's YAML extension, Neovim, Helix, …): save it with
    `optimize-cli schema -o recipe.schema.json` and make this the recipe's first line:
      # yaml-language-server: $schema=recipe.schema.json
    (a path relative to the recipe, or a URL). CI: validate recipes with any JSON Schema validator
    (draft 2020-12), or with `optimize-cli validate`."""
    if report_schema:  # the file the package ships (report/schema.py validates every report against it)
        from importlib.resources import files

        text = files("optimize_cli").joinpath("report.schema.json").read_text(encoding="utf-8").rstrip("\n")
    else:
        from ..recipe import json_schema

        text = json.dumps(json_schema(), indent=2)
    if output:
        output.write_text(text + "\n")
    else:
        click.echo(text)
