"""`optimize-cli validate`: schema, tree rules and paths of recipe files. Never imports TensorFlow."""
from __future__ import annotations

import json
import sys

import click

from ..errors import EXIT_USAGE
from .completion import RECIPE
from .options import json_option, model_option, set_option


def path_label(r) -> str:
    """A recipe's path as `validate` and `recipes` list it: "prune → cluster → qat → tflite(int8)"."""
    from ..tree import path_label as label

    return label(r.stage_types, r.export.quantization, style="listing")


def _problem_lines(e) -> list[str]:
    """Every problem of a recipe, one line each (`file:line: key: message`); one line for other errors."""
    from ..recipe import RecipeProblems

    return [p.render(e.file) for p in e.problems] if isinstance(e, RecipeProblems) else [str(e)]


@click.command()
@click.argument("recipes", nargs=-1, required=True, type=RECIPE)
@set_option("Override a recipe value before checking.")
@model_option("Model path; overrides the recipes' `model`.")
@json_option("Print one JSON object per recipe on stdout.")
def validate(recipes, sets, model, as_json) -> None:
    """Check RECIPE files (or built-in recipe names): schema, tree rules, model and data paths. Never imports
    TensorFlow."""
    from ..builtin import recipe_path
    from ..errors import RecipeError
    from ..recipe import RecipeProblems, load_recipe
    from ..recipe.space import SearchRecipeError, load_space
    from ..training.distribute import worker_of

    failed = 0
    for path in recipes:
        space = None
        try:
            try:
                r = load_recipe(recipe_path(path), list(sets), model=model)
                worker_of(r)  # training.distribute multi_worker: is TF_CONFIG usable here?
            except SearchRecipeError:
                if sets:
                    raise RecipeError(f"{path}: --set is not supported for search recipes yet") from None
                space, r = load_space(recipe_path(path), model=model)
        except RecipeError as e:
            failed += 1
            if as_json:
                problems = (
                    [{"path": p.loc, "line": p.line, "message": p.message} for p in e.problems]
                    if isinstance(e, RecipeProblems) else [{"path": "", "line": None, "message": str(e)}]
                )
                click.echo(json.dumps({"recipe": str(path), "valid": False, "error": str(e), "problems": problems}))
            else:
                from .shell import print_error

                for line in _problem_lines(e):
                    print_error(line)
            continue
        if as_json:
            click.echo(json.dumps({
                "recipe": str(path), "valid": True, "name": r.name, "stages": r.stage_types,
                "scheme": r.qat_scheme, "quantization": r.export.quantization, "problems": [],
                **({"search": space.dump()} if space is not None else {}),
            }))
        elif space is not None:
            click.echo(f"{path}: ok (search over {len(space.params)} values; first path {path_label(r)})")
            if space.auto:
                click.echo("  the recipe names no stages: the space is the tool's, for this model: "
                           + " → ".join(f"{s['type']}{'?' if s.get('optional') else ''}" for s in space.raw["stages"]))
            for p in space.params:
                click.echo(f"  {p.describe()}")
        else:
            click.echo(f"{path}: ok ({path_label(r)})")
    sys.exit(EXIT_USAGE if failed else 0)
