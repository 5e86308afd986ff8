"""The command line: a thin click shell over the library. No TensorFlow import at module level.

run.py · validate.py · catalog.py (recipes, tree, schema) · inspect.py · compare.py · options.py (the
options several commands share, declared once).

Exit codes (DESIGN.md): 0 ok · 1 internal error · 2 usage/recipe · 3 model/data · 4 stage failed ·
5 gate missed · 130 interrupted.
"""
from __future__ import annotations

import contextlib
import signal
import sys

import click

from .. import __version__
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, Interrupted, OptimizeError, one_line
from .shell import invoked_as, print_error, program, set_program  # noqa: F401 - program, invoked_as: re-exported


def _fail(message: str, code: int, as_json: bool = False) -> None:
    line = one_line(message, limit=sys.maxsize)  # one line, always
    print_error(line)
    if as_json:
        json_error(line, code)
    sys.exit(code)


def _quiet_broken_pipe() -> None:
    """stdout's reader went away (`optimize-cli recipes | head -1`): point fd 1 at /dev/null so that the
    final flush cannot fail again, then end quietly with exit 0."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.exit(0)


def hoist_debug(args: list[str]) -> list[str]:
    """`--debug` is a group option that is accepted anywhere before `--`: `optimize-cli run x.yaml --debug`
    is `optimize-cli --debug run x.yaml`."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug"] + [a for a in args[:end] if a != "--debug"] + args[end:]


def json_error(message: str, code: int) -> None:
    """`--json`: the error as a JSON object on stdout too, `{"error": ..., "exit_code": N}` (nothing if
    stdout cannot be written: the line on stderr has said it)."""
    import json

    try:
        sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


_OWN_PROCESS: list[bool] = [False]  # main() runs as the program itself, not called in-process


def _own_signals() -> None:
    """The program itself: SIGTERM (what CI and `timeout` send) behaves like Ctrl-C outside a run (a run
    turns both into a flag, interrupt.py); Ctrl-C is honoured even when the shell started the program with
    it ignored (a background job of a script), as `run` always did, so `search` stops the same way."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
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

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, hoist_debug(list(args)))

    def main(self, args=None, *rest, **kwargs):
        if args is None:  # the console script or `python -m optimize_cli` (callers in-process pass args)
            _OWN_PROCESS[0] = True
            set_program(invoked_as(sys.argv[0] if sys.argv else ""))
            _own_signals()
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            _ignore_signals()

    def invoke(self, ctx):
        debug = bool(ctx.params.get("debug")) or "--debug" in sys.argv[1:]
        as_json = "--json" in ctx.args  # the command's own arguments
        try:
            out = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return out
        except BrokenPipeError:
            _quiet_broken_pipe()
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
            with contextlib.suppress(BrokenPipeError):
                sys.stdout.flush()
            raise
        except Exception as e:  # noqa: BLE001 - the one place that catches everything
            if debug:
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)",
                  EXIT_INTERNAL, as_json)


#: the libraries `--version` names, read from their installed metadata (TensorFlow is not imported)
VERSION_OF = (("tensorflow", "tensorflow"), ("tf_keras", "tf-keras"), ("tfmot", "tensorflow-model-optimization"),
              ("litert", "ai-edge-litert"))
#: the optional libraries (targets, search, Keras 3 models, int4), named only when installed: bug reports
#: about arena bytes, NPU cycles, a search or a .keras file need them
OPTIONAL_VERSION_OF = (("tflite-micro", "tflite-micro"), ("vela", "ethos-u-vela"), ("optuna", "optuna"),
                       ("keras", "keras"), ("ai-edge-quantizer", "ai-edge-quantizer"))


def version_text() -> str:
    """"optimize-cli, version 0.1.0", one line per library that does the work, then the optional ones that
    are installed."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    lines = [f"optimize-cli, version {__version__}"]
    for label, dist in VERSION_OF:
        try:
            lines.append(f"  {label:<17} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"  {label:<17} not installed")
    for label, dist in OPTIONAL_VERSION_OF:
        try:
            lines.append(f"  {label:<17} {version(dist)}")
        except PackageNotFoundError:
            pass
    lines.append(f"  {'python':<17} {platform.python_version()}")
    return "\n".join(lines)


def _print_version(ctx, _param, value) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Run 'optimize-cli COMMAND --help' for a command's options and an example. Shell "
                    "completion: 'optimize-cli completion --help'.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the versions of optimize-cli, TensorFlow, tf_keras, tfmot, LiteRT and the optional libraries "
                   "installed (tflite-micro, Vela, Optuna, Keras 3, ai-edge-quantizer), and exit.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (also accepted after the command).")
def main(debug: bool) -> None:
    """Optimize a TensorFlow model into a small, fast .tflite by walking a path of the
    collaborative-optimization tree (prune → cluster → QAT → TFLite) from a YAML recipe,
    and report what each step cost and bought."""


#: each command's --help ends with an example (click's epilog; compare and completion set their own)
EXAMPLES = {
    "run": "optimize-cli run ptq-int8 --output runs/ptq-int8\noptimize-cli run my.yaml --set stages.0.epochs=2 --json",
    "validate": "optimize-cli validate my.yaml\noptimize-cli validate recipes/*.yaml --json",
    "recipes": "optimize-cli recipes\noptimize-cli recipes --json",
    "tree": "optimize-cli tree",
    "schema": "optimize-cli schema --output recipe.schema.json\n"
              "then, first line of a recipe: # yaml-language-server: $schema=recipe.schema.json",
    "inspect": "optimize-cli inspect runs/ptq-int8/model.tflite\noptimize-cli inspect sample_models/digits_cnn --json",
}


#: each command's line in `optimize-cli --help`: whole at 80 columns (click cuts a longer docstring with "...")
SHORT_HELP = {
    "run": "Run a recipe: stages, export, measurement, report.",
    "validate": "Check recipes: schema, tree rules, model and data paths.",
    "recipes": "List the built-in recipes: name, path, description.",
    "tree": "Draw the deployment tree and the recipes that walk it.",
    "schema": "Print the JSON Schema of the recipe or of report.json.",
    "inspect": "Show a model's layers, sizes, sparsity, unique weights.",
    "compare": "One table across runs from their report.json files.",
    "completion": "Print the shell completion script (bash, zsh, fish).",
    "search": "Search a recipe's spaces for the best recipes (Optuna).",
}


#: the commands that run TensorFlow for a while: their native logging goes to a file (quiet.native_logs_to_file)
NATIVE_LOG_COMMANDS = ("run", "search", "inspect")


def _native_logs_kept_off_the_terminal(callback):
    """The command's callback with fd 2 pointed at a log file for its whole run (not with --debug)."""
    import functools

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        from ..quiet import native_logs_to_file

        ctx = click.get_current_context()
        with native_logs_to_file(keep_on_terminal=bool(ctx.find_root().params.get("debug"))):
            return callback(*args, **kwargs)

    return wrapper


def _register() -> None:
    from . import catalog, compare, completion, inspect, run, search, validate

    for command in (run.run, validate.validate, catalog.recipes, catalog.tree, catalog.schema,
                    inspect.inspect, compare.compare, completion.completion, search.search,
                    search.search_sensitivity):
        if command.name in EXAMPLES and not command.epilog:
            lines = EXAMPLES[command.name].splitlines()
            command.epilog = "\b\nExample" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(
                f"  {line}" for line in lines)
        if command.name in SHORT_HELP and not command.short_help:
            command.short_help = SHORT_HELP[command.name]
        if command.name in NATIVE_LOG_COMMANDS:
            command.callback = _native_logs_kept_off_the_terminal(command.callback)
        main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
