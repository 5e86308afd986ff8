"""`optimize-cli search`: find the path and its parameters under the recipe's gates (Optuna). The parent
process never imports TensorFlow; every trial is a normal `run` in its own subprocess."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click

from .completion import RECIPE
from .options import json_option, mlflow_option, output_option, quiet_option
from .types import SECONDS

#: never rewrapped (click's \b): the package name is one word, not split at its hyphen
EPILOG = """\b
Workers on many machines share a PostgreSQL study; its driver is an extra:
  pip install 'optimize-cli[postgres]'
"""


@click.command(epilog=EPILOG)
@click.argument("recipe", type=RECIPE, required=False)
@click.option("--trials", type=click.IntRange(min=1), help="Finished trials the study holds in total "
              "(default: search.trials).")
@click.option("--timeout", type=SECONDS, help="Start no new trial after S seconds.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Trials run at once (local worker processes).")
@click.option("--storage", help="Optuna RDB storage URL, e.g. postgresql://USER@HOST:PORT/DB (the postgres "
              "extra, below) for workers on many machines (default: SQLite file DIR/study.db).")
@click.option("--study", "study_name", help="Study name in the storage (default: the recipe's name).")
@output_option("Output directory (default runs/<recipe name>).")
@click.option("--resume", is_flag=True, help="Continue the study in DIR.")
@click.option("--report-only", is_flag=True, help="Write the outputs of the study in --storage (trials run "
              "anywhere) into --output without running trials; RECIPE is optional.")
@click.option("--heartbeat", type=click.IntRange(min=1, max=3600), help="Seconds between a worker's "
              "heartbeats; a trial without one for 3 of them is failed and retried (default 10).")  # storage.py
@click.option("--recycle-after", type=click.IntRange(min=1, max=10_000), default=10, show_default=True,
              help="Trials one trial process runs (TensorFlow imported once) before a fresh one takes over; "
              "1: a fresh process per trial.")
@click.option("--worker", "worker", is_flag=True, hidden=True, help="One worker process of --workers K.")
@click.option("--worker-index", type=click.IntRange(min=0), hidden=True, help="Its index (its sampler's seed).")
@json_option("Print the search summary as JSON on stdout.")
@quiet_option("No per-trial lines; only errors on stderr.")
@click.option("--no-cache", is_flag=True, help="Leave the user's baseline cache alone: the trials share one of "
              "the study's own in DIR/cache (the baselines are still measured once per study).")
@mlflow_option("Log the search to MLflow (extra [mlflow]): one parent run, one child run per trial.")
def search(recipe, trials, timeout, workers, storage, study_name, output, resume, report_only, heartbeat,
           recycle_after, worker, worker_index, as_json, quiet, no_cache, mlflow_uri) -> None:
    """Search RECIPE's spaces ({search: [lo, hi]}, {search: {choices: [...]}}, optional stages) for the
    recipes that minimize its search.objectives under its gates."""
    from ..builtin import recipe_path
    from ..errors import RecipeError
    from ..recipe.space import load_space
    from ..search import SearchOptions, run_search
    from .search_progress import TrialProgress

    if report_only:
        return _report_only(recipe, storage, study_name, output, heartbeat, as_json)
    if recipe is None:
        raise RecipeError("search needs a RECIPE (or --report-only with --storage)")
    path = recipe_path(recipe)
    space, first = load_space(path)
    from ..search.samplers import check

    check(space)  # a sampler that needs a package not installed: exit 2 before any work
    out = Path(output) if output is not None else Path("runs") / first.name
    from ..integrations import session

    tracking = None if worker else session.before_search(first, mlflow_uri, _warn)
    opts = SearchOptions(output=out, trials=trials, timeout=timeout, workers=workers, storage=storage,
                         study=study_name, resume=resume, quiet=quiet, no_cache=no_cache, heartbeat=heartbeat,
                         worker_index=worker_index if worker_index is not None else (None if worker else 0),
                         recycle_after=recycle_after)
    # a worker shows one plain line per trial (the parent of --workers K passes --quiet and shows them itself)
    live = False if (worker or as_json) else None
    progress = TrialProgress(space.config.objectives, quiet=quiet, live=live)
    if space.config.sensitivity:  # the pre-pass (a TensorFlow subprocess) shapes every trial's recipe
        from ..search.shape import attach

        # the parent measures it (or reads it back on --resume); a worker reads the parent's, or, on a
        # machine of its own with another --output, measures the same pass itself
        attach(space, first, out, resume or worker, progress.log)  # its lines before the live table
    with progress:
        if worker:
            from ..search.study import run_worker

            interrupted = run_worker(space, Path(path).resolve(), first.name, opts, progress)
        else:
            doc = run_search(space, Path(path).resolve(), first.name, opts, progress)
    if worker:
        if interrupted:  # the parent says "interrupted" once
            from ..errors import EXIT_INTERRUPTED

            sys.exit(EXIT_INTERRUPTED)
        return
    said = session.after_search(tracking, out, doc, _warn, quiet)  # never changes the exit code
    if said:
        click.echo(said, err=True)
    _summary(doc, out, as_json, resume_command(recipe, path, opts, as_json))


def resume_command(given, path: Path, opts, as_json: bool) -> str:
    """The command that continues an interrupted search, pastable from any directory: the program as
    invoked, the recipe (a built-in by its name, a file by its absolute path), the options that were
    given, --output as an absolute path, and --resume (a storage URL's password is masked)."""
    import os
    import shlex

    from ..search import SearchOptions
    from ..search.storage import redact
    from .shell import program

    again = [*program(), "search", str(given) if Path(given) != path else os.path.abspath(path),
             "--output", os.path.abspath(opts.output)]
    for flag, value in (("--trials", opts.trials), ("--timeout", opts.timeout), ("--storage", opts.storage),
                        ("--study", opts.study), ("--heartbeat", opts.heartbeat)):
        if value is not None:
            again += [flag, redact(value) if flag == "--storage" else f"{value:g}" if isinstance(value, float)
                      else str(value)]
    if opts.workers > 1:
        again += ["--workers", str(opts.workers)]
    if opts.recycle_after != SearchOptions.recycle_after:
        again += ["--recycle-after", str(opts.recycle_after)]
    again += [flag for flag, on in (("--no-cache", opts.no_cache), ("--json", as_json), ("--quiet", opts.quiet))
              if on]
    return shlex.join([*again, "--resume"])


def _warn(message: str) -> None:
    print(f"optimize-cli: warning: {message}", file=sys.stderr)


def _report_only(recipe, storage, study_name, output, heartbeat, as_json) -> None:
    from ..builtin import recipe_path
    from ..errors import RecipeError
    from ..recipe.space import load_space
    from ..search import SearchOptions
    from ..search.study import report_only

    if storage is None or output is None:
        raise RecipeError("--report-only needs --storage URL and --output DIR")
    space = None
    if recipe is not None:
        path = recipe_path(recipe)
        space = load_space(path, check_paths=False)[0]
        space.source = Path(path).resolve()
    out = Path(output)
    doc = report_only(SearchOptions(output=out, storage=storage, study=study_name, heartbeat=heartbeat), space)
    _summary(doc, out, as_json)


def _summary(doc: dict, out: Path, as_json: bool, again: Optional[str] = None) -> None:
    best = doc["recommended"]
    if as_json:
        click.echo(json.dumps({"output_dir": str(out.resolve()), "search": str((out / "search.json").resolve()),
                               "trials": len(doc["trials"]), "recommended": best, "pareto": doc["pareto"],
                               "exit_code": doc["exit_code"], "stopped": doc.get("stopped")}, indent=2))
    else:
        click.echo(f"{len(doc['trials'])} trials in {out}; " + (
            f"recommended trial {best:04d}: {out / 'best.yaml'}" if best is not None
            else "no trial passed every gate") + (f" ({doc['stopped']})" if doc.get("stopped") else ""))
    if doc["interrupted"]:  # the study persists: say the command that continues it
        from ..errors import Interrupted

        e = Interrupted("interrupted", output=out)
        e.advice = f"resume with: {again}" if again else None
        raise e
    sys.exit(doc["exit_code"])


@click.command("search-sensitivity", hidden=True)
@click.argument("recipe", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@json_option("Print {\"sensitivity\": OUT, \"layers\": N} as JSON on stdout.")
@quiet_option()
def search_sensitivity(recipe, out, as_json, quiet) -> None:
    """The sensitivity pre-pass of `search` (search.sensitivity: true) on a plain RECIPE, into OUT.json:
    run by the search in a subprocess of its own."""
    from ..progress import Reporter
    from ..search.sensitivity import run_into

    doc = run_into(recipe, out, Reporter(quiet=quiet).log)
    if as_json:
        click.echo(json.dumps({"sensitivity": str(Path(out).resolve()), "layers": len(doc["layers"])}))
