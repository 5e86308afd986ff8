"""`optimize-cli compare`: one table across runs from their report.json files."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from .options import json_option
from .tables import PIPE_WIDTH

EPILOG = """\b
Examples:
  optimize-cli compare runs/ptq-int8 runs/prune-cluster-pcqat
  optimize-cli compare runs/*/report.json --format md >> results.md
"""


@click.command(epilog=EPILOG)
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "table", "json"]), default=None,
              help="md: a Markdown table; table: an aligned table; json: one object per run. "
                   "Default: table on a terminal, md otherwise.")
@json_option("Same as --format json.")
def compare(reports, fmt, as_json) -> None:
    """One table across runs from their report.json files (or run directories)."""
    from ..compare import compare_reports

    if fmt is None:
        fmt = "json" if as_json else ("table" if sys.stdout.isatty() else "md")
    width = None
    if fmt == "table":  # into a pipe: one line per row, nothing wrapped
        width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else PIPE_WIDTH
    click.echo(compare_reports(list(reports), as_json=as_json, fmt=fmt, width=width))
