"""What the commands share with the group without importing it: the `error:` line on stderr and the
program as it was invoked (for commands to paste). The group (cli/__init__.py) sets the program."""
from __future__ import annotations

import os
import shutil
import sys


def print_error(message: str) -> None:
    """`error: MESSAGE` on stderr (bold red on a terminal), as it is."""
    from rich.markup import escape

    from ..progress import stderr_console

    stderr_console().print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, highlight=False)


_PROGRAM: list[str] = ["optimize-cli"]  # how this program was invoked (`program()`)


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


def set_program(argv: list[str]) -> None:
    """Record how this program was invoked (the group does, when it runs as the program itself)."""
    _PROGRAM[:] = list(argv)

