"""The command line: a thin click shell over the library. No TensorFlow import at module level.

Exit codes (DESIGN.md): 0 ok · 1 internal error · 2 usage/recipe · 3 model/data · 4 stage failed ·
5 gate missed · 130 interrupted.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
import click

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, OptimizeError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    from .progress import stderr_console

    message = " ".join(str(message).splitlines())  # one line, always
    stderr_console().print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, highlight=False)
    sys.exit(code)


class _Group(click.Group):
    """Maps OptimizeError to its exit code and one line; tracebacks only with --debug."""

    def invoke(self, ctx):
        debug = bool(ctx.params.get("debug")) or "--debug" in sys.argv[1:]
        try:
            return super().invoke(ctx)
        except OptimizeError as e:
            if debug:
                raise
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt as e:
            # Ctrl-C or SIGTERM: one line on stderr; after a run it names the kept stages and the exact
            # command that resumes it (errors.Interrupted)
            from rich.markup import escape

            from .progress import stderr_console

            message = str(e) if isinstance(e, Interrupted) else "interrupted"
            stderr_console().print(f"[bold red]{escape(message)}[/bold red]", markup=True, highlight=False)
            sys.exit(EXIT_INTERRUPTED)
        except click.UsageError as e:  # a bad option or argument: one line too, not click's usage block
            if debug:
                raise
            where = " ".join(["optimize-cli", *(e.ctx.command_path.split()[1:] if e.ctx is not None else [])])
            _fail(f"{e.format_message()} (see '{where} --help')", e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the one place that catches everything
            if debug:
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)",
                  EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="optimize-cli")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Optimize a TensorFlow model into a small, fast .tflite by walking a path of the
    collaborative-optimization tree (prune → cluster → QAT → TFLite) from a YAML recipe,
    and report what each step cost and bought."""


# ------------------------------------------------------------------------------------------- run


@main.command()
@click.argument("recipe", type=click.Path(path_type=Path))  # load_recipe says what is wrong with it, in one line
@click.option("--model", "model", type=str, help="Model path; overrides the recipe's `model`.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Output directory (default runs/<recipe name>).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, e.g. stages.0.epochs=2.")
@click.option("--seed", type=int, help="Seed (overrides training.seed).")
@click.option("--resume", is_flag=True, help="Continue after the last finished stage in DIR/stages/.")
@click.option("--force", is_flag=True, help="Replace an existing output directory from another run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report summary as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress; only errors on stderr.")
@click.option("--trust-model", is_flag=True, help="Allow .h5/.keras models with Lambda layers or custom code (runs it).")
@click.option("--allow-code", is_flag=True, help="Allow python data sources (data.*.type: python) to run the code the recipe names.")
def run(recipe: Path, model, output, sets, seed, resume, force, as_json, quiet, trust_model, allow_code) -> None:
    """Run RECIPE: stages, export, measurement, report."""
    from .recipe import load_recipe

    overrides = list(sets) + ([f"training.seed={seed}"] if seed is not None else [])
    r = load_recipe(recipe, overrides, model=model)
    r.data.require_allow_code(allow_code)  # exit 2 before TensorFlow is imported
    from .pipeline import RunOptions, run_recipe  # imports TensorFlow lazily inside

    # the command again, from what was parsed (not sys.argv): the interruption message completes it with
    # --output DIR --resume into the exact command that continues the run
    again = ["optimize-cli", "run", str(recipe)]
    if model is not None:
        again += ["--model", str(model)]
    for s in sets:
        again += ["--set", s]
    if seed is not None:
        again += ["--seed", str(seed)]
    again += [flag for flag, on in (("--json", as_json), ("--quiet", quiet), ("--trust-model", trust_model),
                                    ("--allow-code", allow_code)) if on]
    opts = RunOptions(output=output, resume=resume, force=force, quiet=quiet, as_json=as_json,
                      trust_model=trust_model, allow_code=allow_code, argv=again)
    code = run_recipe(r, opts)
    sys.exit(code)


# -------------------------------------------------------------------------------------- validate


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a recipe value before checking.")
@click.option("--model", "model", type=str, help="Model path; overrides the recipes' `model`.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per recipe on stdout.")
def validate(recipes, sets, model, as_json) -> None:
    """Check RECIPE files: schema, tree rules, model and data paths. Never imports TensorFlow."""
    from .errors import RecipeError
    from .recipe import RecipeProblems, load_recipe

    failed = 0
    for path in recipes:
        try:
            r = load_recipe(path, list(sets), model=model)
        except RecipeError as e:
            failed += 1
            if as_json:
                problems = (
                    [{"path": p.loc, "line": p.line, "message": p.message} for p in e.problems]
                    if isinstance(e, RecipeProblems) else [{"path": "", "line": None, "message": str(e)}]
                )
                click.echo(json.dumps({"recipe": str(path), "valid": False, "error": str(e), "problems": problems}))
            else:
                from rich.markup import escape

                from .progress import stderr_console

                stderr_console().print(f"[bold red]error:[/bold red] {escape(str(e))}", highlight=False)
            continue
        if as_json:
            click.echo(json.dumps({
                "recipe": str(path), "valid": True, "name": r.name, "stages": r.stage_types,
                "scheme": r.qat_scheme, "quantization": r.export.quantization, "problems": [],
            }))
        else:
            path_desc = " → ".join(r.stage_types + [f"tflite({r.export.quantization})"])
            click.echo(f"{path}: ok ({path_desc})")
    sys.exit(EXIT_USAGE if failed else 0)


# ------------------------------------------------------------------------------- tree / recipes


def _builtin_recipes():
    """(path, Recipe or None, error) for each built-in recipe, without checking paths."""
    from .errors import RecipeError
    from .recipe import load_recipe

    out = []
    for p in sorted(RECIPES_DIR.glob("*.yaml")):
        try:
            out.append((p, load_recipe(p, check_paths=False), None))
        except RecipeError as e:
            out.append((p, None, str(e)))
    return out


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON list on stdout.")
def recipes(as_json) -> None:
    """List the built-in recipes: name, path of the tree, description."""
    rows = []
    for p, r, err in _builtin_recipes():
        if r is None:
            rows.append({"name": p.stem, "file": str(p), "path": None, "description": f"INVALID: {err}"})
        else:
            rows.append({"name": r.name, "file": str(p), "path": " → ".join(r.stage_types + [f"tflite({r.export.quantization})"]),
                         "description": r.description})
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


@main.command()
def tree() -> None:
    """Draw the deployment tree, naming the built-in recipe that walks each path."""
    from rich.console import Console
    from rich.tree import Tree

    by_path: dict[tuple, list[str]] = {}
    for _p, r, _e in _builtin_recipes():
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
    import os

    Console(highlight=False, no_color=bool(os.environ.get("NO_COLOR"))).print(root)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
def schema(output) -> None:
    """Print the JSON Schema of the recipe (for editors and CI linting)."""
    from .recipe import json_schema

    text = json.dumps(json_schema(), indent=2)
    if output:
        output.write_text(text + "\n")
    else:
        click.echo(text)


# ------------------------------------------------------------------------------ inspect / compare


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def inspect(model, as_json) -> None:
    """Show a model's layers, parameters, dtypes, sparsity, unique values and sizes (.tflite, SavedModel, .h5)."""
    from .inspect import inspect_model, render_inspection

    info = inspect_model(model)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        render_inspection(info)


@main.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def compare(reports, as_json) -> None:
    """One table across runs from their report.json files (Markdown, or --json)."""
    from .compare import compare_reports

    out = compare_reports(list(reports), as_json=as_json)
    click.echo(out)


if __name__ == "__main__":  # pragma: no cover
    main()
