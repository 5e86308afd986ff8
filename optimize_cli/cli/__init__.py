"""The command line: a thin click shell over the library. No TensorFlow import at module level.

run.py · validate.py · catalog.py (recipes, tree, schema) · inspect.py · compare.py · options.py (the
options several commands share, declared once).

Exit codes (DESIGN.md): 0 ok · 1 internal error · 2 usage/recipe · 3 model/data · 4 stage failed ·
5 gate missed · 130 interrupted.
"""
from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, Interrupted, OptimizeError, one_line


def print_error(message: str) -> None:
    """`error: MESSAGE` on stderr (bold red on a terminal), as it is."""
    from rich.markup import escape

    from ..progress import stderr_console

    stderr_console().print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, highlight=False)


def _fail(message: str, code: int) -> None:
    print_error(one_line(message, limit=sys.maxsize))  # one line, always
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

            from ..progress import stderr_console

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


def _register() -> None:
    from . import catalog, compare, inspect, run, validate

    for command in (run.run, validate.validate, catalog.recipes, catalog.tree, catalog.schema,
                    inspect.inspect, compare.compare):
        main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
