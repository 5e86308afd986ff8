"""Tables on stdout: on a terminal they fit its width, wrapping only at spaces; into a pipe or a file
each row is one line, nothing wrapped or cut (`optimize-cli recipes | grep distill`). Rich's own options
do it: `no_wrap`, `overflow`, and a console as wide as the rows when stdout is not a terminal."""
from __future__ import annotations

from ..progress import stdout_console as _terminal_console

#: the width of a table printed into a pipe or a file: wider than any row, so that none is wrapped or cut
PIPE_WIDTH = 100_000


def stdout_console(**kw):
    """The stdout console (NO_COLOR respected); when stdout is not a terminal, one as wide as any row."""
    console = _terminal_console(**kw)
    if not console.is_terminal and "width" not in kw:
        console = _terminal_console(width=PIPE_WIDTH, **kw)
    return console


def print_table(console, table) -> None:
    """Print a rich table; into a pipe, without the spaces rich pads the last column with."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as cap:
        console.print(table)
    text = "\n".join(line.rstrip() for line in cap.get().splitlines())
    console.file.write(text + "\n")
    console.file.flush()
