"""Options that several commands share, each declared once (the help text may be worded for the
command: `help=` overrides the default)."""
from __future__ import annotations

from pathlib import Path

import click

#: said by --set and --model: where a path typed on the command line is taken from
CLI_PATHS = ("Paths given here are relative to the current directory; paths in the recipe file, to the recipe's "
             "folder.")


def set_option(help: str = "Override a recipe value, e.g. stages.0.epochs=2."):
    from .completion import complete_set

    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=f"{help} {CLI_PATHS}",
                        shell_complete=complete_set)


def model_option(help: str = "Model path; overrides the recipe's `model`."):
    return click.option("--model", "model", type=str, help=f"{help} Relative to the current directory.")


def json_option(help: str = "JSON on stdout."):
    return click.option("--json", "as_json", is_flag=True, help=help)


def quiet_option(help: str = "No progress; only errors on stderr."):
    return click.option("--quiet", "-q", is_flag=True, help=help)


def output_option(help: str, **path_kw):
    return click.option("--output", "-o", type=click.Path(path_type=Path, **path_kw), help=help)


def mlflow_option(help: str = "Log to MLflow (extra [mlflow]): a tracking server's URL, file:///folder or a "
                  "folder; overrides the recipe's tracking.mlflow."):
    return click.option("--mlflow", "mlflow_uri", metavar="URI", help=help)
