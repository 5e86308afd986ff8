"""`optimize-cli compare`: one table across runs from their report.json files."""
from __future__ import annotations

from pathlib import Path

import click

from .options import json_option


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option()
def compare(reports, as_json) -> None:
    """One table across runs from their report.json files (Markdown, or --json)."""
    from ..compare import compare_reports

    out = compare_reports(list(reports), as_json=as_json)
    click.echo(out)
