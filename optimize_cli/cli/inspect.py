"""`optimize-cli inspect`: a model's layers, parameters, sparsity, unique values and sizes."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .options import json_option


class TargetName(click.ParamType):
    """A name of the target registry (`tflm`, an Ethos-U accelerator, …), read when the option is given
    (importing the CLI loads no registry)."""

    name = "target"

    def convert(self, value, param, ctx):
        from ..targets import INSPECT_NAMES

        if value in INSPECT_NAMES:
            return value
        self.fail(f"{value!r} is not one of {', '.join(INSPECT_NAMES)}", param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        from ..targets import INSPECT_NAMES

        return [CompletionItem(n) for n in INSPECT_NAMES if n.startswith(incomplete)]


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@json_option()
@click.option("--trust-model", is_flag=True,
              help="Allow .h5/.keras/SavedModel models with Lambda layers or custom code (runs it).")
@click.option("--target", "targets", multiple=True, type=TargetName(),
              help="Also measure a .tflite on a deployment target: tflm (arena bytes, unsupported ops) or an "
              "Ethos-U accelerator (Vela: SRAM, flash, NPU/CPU ops, cycles). Repeatable.")
def inspect(model, as_json, trust_model, targets) -> None:
    """Show a model's layers, parameters, dtypes, sparsity, unique values and sizes (.tflite, SavedModel, .h5)."""
    from ..inspect import inspect_model

    if targets and model.suffix.lower() != ".tflite":
        raise click.UsageError("--target measures a .tflite file; convert the model first (optimize-cli run)")
    info = inspect_model(model, trust_model=trust_model)
    if targets:
        from ..targets import inspect_targets

        info["targets"] = inspect_targets(model.read_bytes(), targets)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        from ..targets import summary_line

        print_inspection(info)
        for name, figures in info.get("targets", {}).items():
            click.echo(summary_line(name, figures))


def print_inspection(info: dict) -> None:
    """inspect_model's `info` as text on stdout, the layer table fitted to the terminal (140 columns in
    pipes and CI logs, or $COLUMNS)."""
    from ..inspect import inspection_text
    from ..progress import stdout_console

    console = stdout_console(soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = 140  # pipes and CI logs: don't fold the table at 80 columns
    console.print(inspection_text(info, console.width))
