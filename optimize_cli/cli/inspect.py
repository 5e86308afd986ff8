"""`optimize-cli inspect`: a model's layers, parameters, sparsity, unique values and sizes."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .options import json_option


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@json_option()
@click.option("--trust-model", is_flag=True,
              help="Allow .h5/.keras/SavedModel models with Lambda layers or custom code (runs it).")
def inspect(model, as_json, trust_model) -> None:
    """Show a model's layers, parameters, dtypes, sparsity, unique values and sizes (.tflite, SavedModel, .h5)."""
    from ..inspect import inspect_model, render_inspection

    info = inspect_model(model, trust_model=trust_model)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        render_inspection(info)
