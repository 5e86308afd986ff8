"""The command line: a thin click shell over the library. No TensorFlow import at module level.

run.py · validate.py · catalog.py (recipes, tree, schema) · inspect.py · compare.py · options.py (the
options several commands share, declared once).

Exit codes (DESIGN.md): 0 ok · 1 internal error · 2 usage/recipe · 3 model/data · 4 stage failed ·
5 gate missed · 130 interrupted.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys

import click

from .. import __version__
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, Interrupted, OptimizeError, one_line


def print_error(message: str) -> None:
    """`error: MESSAGE` on stderr (bold red on a terminal), as it is."""
    from rich.markup import escape

    from ..progress import stderr_console

    stderr_console().print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, highlight=False)


def _fail(message: str, code: int, as_json: bool = False) -> None:
    line = one_line(message, limit=sys.maxsize)  # one line, always
    print_error(line)
    if as_json:
        json_error(line, code)
    sys.exit(code)


def json_error(message: str, code: int) -> None:
    """`--json`: the error as a JSON object on stdout too, `{"error": ..., "exit_code": N}` (nothing if
    stdout cannot be written: the line on stderr has said it)."""
    import json

    try:
        sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


_PROGRAM: list[str] = ["optimize-cli"]  # how this program was invoked (`program()`)
_OWN_PROCESS: list[bool] = [False]  # main() runs as the program itself, not called in-process


def program() -> list[str]:
    """The program as it was invoked, for a command to paste: `<python> -m optimize_cli`, the console
    script's absolute path, or bare `optimize-cli` when that is what PATH finds (or when called
    in-process)."""
    return list(_PROGRAM)


def invoked_as(argv0: str) -> list[str]:
    """The program for `sys.argv[0]`: `python -m optimize_cli` for the package's __main__.py; a path as
    the bare name when PATH finds that very file, else made absolute; a bare name as it is."""
    if os.path.basename(argv0) == "__main__.py":  # python -m optimize_cli
        return [sys.executable, "-m", __package__.split(".")[0]]
    if os.sep not in argv0:
        return [argv0 or "optimize-cli"]
    found = shutil.which(os.path.basename(argv0))
    if found and os.path.realpath(found) == os.path.realpath(argv0):
        return [os.path.basename(argv0)]
    return [os.path.abspath(argv0)]


def _own_signals() -> None:
    """The program itself: SIGTERM (what CI and `timeout` send) behaves like Ctrl-C outside a run (a run
    turns both into a flag, interrupt.py)."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _ignore_signals() -> None:
    """Once the exit code is decided, a further Ctrl-C / SIGTERM must not change it (143, a traceback)."""
    if _OWN_PROCESS[0]:
        for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
            if sig is not None:
                signal.signal(sig, signal.SIG_IGN)


class _Group(click.Group):
    """Maps OptimizeError to its exit code and one line; tracebacks only with --debug."""

    def main(self, args=None, *rest, **kwargs):
        if args is None:  # the console script or `python -m optimize_cli` (callers in-process pass args)
            _OWN_PROCESS[0] = True
            _PROGRAM[:] = invoked_as(sys.argv[0] if sys.argv else "")
            _own_signals()
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            _ignore_signals()

    def invoke(self, ctx):
        debug = bool(ctx.params.get("debug")) or "--debug" in sys.argv[1:]
        as_json = "--json" in ctx.args  # the command's own arguments
        try:
            return super().invoke(ctx)
        except OptimizeError as e:
            if debug:
                raise
            _fail(str(e), e.exit_code, as_json)
        except KeyboardInterrupt as e:
            # Ctrl-C or SIGTERM: one line on stderr; after a run it names the kept stages and the exact
            # command that resumes it (errors.Interrupted)
            from rich.markup import escape

            from ..progress import stderr_console

            _ignore_signals()  # a second signal during teardown still ends with 130
            message = str(e) if isinstance(e, Interrupted) else "interrupted"
            stderr_console().print(f"[bold red]{escape(message)}[/bold red]", markup=True, highlight=False)
            if as_json:
                json_error(one_line(message, limit=sys.maxsize), EXIT_INTERRUPTED)
            sys.exit(EXIT_INTERRUPTED)
        except click.UsageError as e:  # a bad option or argument: one line too, not click's usage block
            if debug:
                raise
            where = " ".join(["optimize-cli", *(e.ctx.command_path.split()[1:] if e.ctx is not None else [])])
            _fail(f"{e.format_message()} (see '{where} --help')", e.exit_code, as_json)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the one place that catches everything
            if debug:
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)",
                  EXIT_INTERNAL, as_json)


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
