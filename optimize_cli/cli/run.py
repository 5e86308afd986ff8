"""`optimize-cli run`: run the recipe (the library prints nothing on stdout), then print the summary or
JSON, append the Markdown report to $GITHUB_STEP_SUMMARY, say which gate was missed, and exit 0 or 5."""
from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from ..errors import Interrupted
from .completion import RECIPE
from .options import json_option, mlflow_option, model_option, output_option, quiet_option, set_option
from .shell import program
from .step_summary import append_step_summary, summary_report


@click.command()
@click.argument("recipe", type=RECIPE)  # load_recipe says what is wrong with it, in one line
@model_option()
@output_option("Output directory (default runs/<recipe name>).")
@set_option()
@click.option("--seed", type=int, help="Seed (overrides training.seed).")
@click.option("--resume", is_flag=True, help="Continue after the last finished stage in DIR/stages/.")
@click.option("--force", is_flag=True, help="Replace an existing output directory from another run.")
@json_option("Print the report summary as JSON on stdout.")
@quiet_option()
@click.option("--trust-model", is_flag=True, help="Allow .h5/.keras models with Lambda layers or custom code (runs it).")
@click.option("--allow-code", is_flag=True, help="Allow python data sources (data.*.type: python) to run the code the recipe names.")
@click.option("--no-cache", is_flag=True, help="Convert and measure the baselines again: neither read nor write the "
              "baseline cache (~/.cache/optimize-cli, or $OPTIMIZE_CLI_CACHE_DIR).")
# what `search` gives each trial (RunOptions): hidden, not part of the command a user types
@click.option("--early-stop-drop", type=click.FloatRange(min=0), hidden=True,
              help="Stop after a stage whose Keras accuracy drop is past this (a search trial; exit 6).")
@click.option("--cache-dir", type=click.Path(path_type=Path), hidden=True,
              help="The baseline cache's folder (a search trial: the study's own with search --no-cache).")
@mlflow_option()
@click.option("--tensorboard", type=click.Path(path_type=Path), metavar="DIR", help="TensorBoard logs of the "
              "training stages, one DIR/NN_<type>/ each (extra [tensorboard]; overrides training.tensorboard).")
def run(recipe: Path, model, output, sets, seed, resume, force, as_json, quiet, trust_model, allow_code,
        no_cache, early_stop_drop, cache_dir, mlflow_uri, tensorboard) -> None:
    """Run RECIPE (a recipe file, or a built-in recipe's name such as ptq-int8): stages, export, measurement,
    report."""
    from ..builtin import recipe_path
    from ..recipe import load_recipe

    given, recipe = recipe, recipe_path(recipe)  # a built-in recipe's name is its file
    overrides = list(sets) + ([f"training.seed={seed}"] if seed is not None else [])
    r = load_recipe(recipe, overrides, model=model)
    r.data.require_allow_code(allow_code)  # exit 2 before TensorFlow is imported
    from ..training.distribute import worker_of

    worker = worker_of(r, resume)  # multi_worker: TF_CONFIG checked (exit 2), before TensorFlow too
    from ..integrations import session

    tracking = session.before_run(r, mlflow_uri, tensorboard, _warn)  # exit 2 without an extra; a warning
    from ..progress import Reporter
    from ..run import RunOptions
    from ..run import run as run_recipe  # imports TensorFlow lazily inside

    opts = RunOptions(output=output, resume=resume, force=force, quiet=quiet, as_json=as_json,
                      trust_model=trust_model, allow_code=allow_code, no_cache=no_cache,
                      early_stop_drop=early_stop_drop, cache_dir=cache_dir)
    reporter = Reporter(quiet=quiet)
    if worker is not None and not worker.is_chief:  # trains along with the chief, writes nothing
        from ..run.worker import train_along_with_chief

        click.echo(train_along_with_chief(r, opts, reporter, worker))
        sys.exit(0)
    try:
        result = run_recipe(r, opts, reporter)
    except Interrupted as e:  # the library names the kept stages; the command that continues is said here
        flags = {"--json": as_json, "--quiet": quiet, "--trust-model": trust_model, "--allow-code": allow_code,
                 "--no-cache": no_cache}
        again = command_again(given, recipe, model, sets, seed, flags)
        again += [*(["--mlflow", mlflow_uri] if mlflow_uri else []),
                  *(["--tensorboard", str(r.training.tensorboard)] if tensorboard is not None else [])]
        e.advice = resume_advice(e, again, force or resume)
        raise
    code = announce(result, as_json, reporter)
    said = session.after_run(tracking, result.output, _warn, quiet)  # after the results; never changes the exit code
    if said:
        click.echo(said, err=True)
    sys.exit(code)


def command_again(given, recipe: Path, model, sets, seed, flags: dict) -> list[str]:
    """The command that was run, from what was parsed (not sys.argv), without --output, --resume and
    --force: the program as invoked, absolute paths, pastable from any directory."""
    again = [*program(), "run", str(given) if recipe != Path(given) else os.path.abspath(recipe)]
    if model is not None:
        again += ["--model", os.path.abspath(os.path.expanduser(str(model))) if str(model) else ""]
    for s in sets:
        again += ["--set", s]
    if seed is not None:
        again += ["--seed", str(seed)]
    return again + [flag for flag, on in flags.items() if on]


def resume_advice(e, again: list[str], rerun_with_force: bool) -> str | None:
    """What to type after an interruption: `again` (the command that was run, without --output, --resume
    and --force) with the output directory as an absolute path and --resume when stages were kept, else
    the command that runs it again (--force when the first one needed it). None without the facts."""
    if e.output is None:
        return None
    args = [*again, "--output", os.path.abspath(e.output)]
    if e.stages:
        return f"resume with: {shlex.join([*args, '--resume'])}"
    return f"run again with: {shlex.join([*args, '--force'] if rerun_with_force else args)}"


def announce(result, as_json: bool, reporter) -> int:
    """Once the results are in DIR: the CI summary, the summary (or JSON) on stdout, a missed gate on
    stderr. Returns the exit code: 0, or 5 when a gate was missed."""
    from .. import report

    rep = result.dump()
    append_step_summary(report.render_markdown(summary_report(report.json_ready(rep))), warn=_warn)
    if as_json:
        _stdout(json.dumps(report.json_summary(rep, out_dir=os.path.abspath(result.output)), indent=2), result)
    else:
        _stdout(report.summary_lines(rep, out_dir=result.output), result)
    if result.missed_gates:
        from ..report.gates import fmt_gate

        failed = ", ".join(f"{g.name} (limit {fmt_gate(rep, g.name, g.limit)}, got {fmt_gate(rep, g.name, g.value)})"
                           for g in result.missed_gates)
        reporter.console.print(f"[bold red]gate missed:[/bold red] {failed}", highlight=False)
    return result.exit_code


def _warn(message: str) -> None:
    """A warning that is shown even with --quiet (the CI summary could not be written)."""
    print(f"optimize-cli: warning: {message}", file=sys.stderr)


def _stdout(text: str, result) -> None:
    """Print the summary; stdout that cannot be written (a full disk, /dev/full) is exit 4, one line."""
    from ..errors import StageError
    from ..run.run_dir import os_reason

    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        try:  # what is still buffered goes nowhere, rather than failing again when the program exits
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        raise StageError(f"stdout: cannot write the summary ({os_reason(e)}); the results are complete in "
                         f"{result.output}") from None
