"""Progress and logs on stderr: rich bars on a terminal, one plain line per event elsewhere (CI logs),
nothing but errors with --quiet. Respects NO_COLOR. Never imports TensorFlow."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Optional

from rich.console import Console


def stderr_console() -> Console:
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


class _StdoutConsole(Console):
    """rich's Console exits 1 when stdout's reader has gone; this one raises BrokenPipeError for the CLI,
    which ends quietly with exit 0 (`optimize-cli recipes | head -1`)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def stdout_console(**kw) -> Console:
    """The console of a command's output on stdout (tables, the tree); NO_COLOR respected."""
    return _StdoutConsole(**{"highlight": False, "no_color": bool(os.environ.get("NO_COLOR")), **kw})


class Reporter:
    """What a run tells the user while it works (on stderr)."""

    def __init__(self, quiet: bool = False, console: Optional[Console] = None, rich_progress: Optional[bool] = None):
        self.console = console or stderr_console()
        self.quiet = quiet
        interactive = self.console.is_terminal and not os.environ.get("CI")
        self.rich = (not quiet) and (interactive if rich_progress is None else rich_progress)
        self._progress = None
        self._task = None
        self._t0 = time.monotonic()

    # ---- plain messages
    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self.rich:
            self.console.print(message)
        else:
            elapsed = time.monotonic() - self._t0
            print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        if self.quiet:
            return
        if self.rich:
            self.console.print(f"[yellow]warning:[/yellow] {message}")
        else:
            self.log(f"warning: {message}")

    # ---- a unit of work with epochs
    @contextmanager
    def task(self, description: str, total: Optional[int] = None):
        """A stage or step; `advance(logs)` once per epoch."""
        start = time.monotonic()
        if self.rich:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            # a bar with "epoch n/N" for a stage; a spinner for a step of unknown length (a conversion)
            middle = (BarColumn(), MofNCompleteColumn()) if total else (SpinnerColumn(),)
            with Progress(
                TextColumn("{task.description}"), *middle, TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(), console=self.console, transient=False,
            ) as prog:
                tid = prog.add_task(description, total=total, info="")

                def advance(info: str = ""):
                    prog.update(tid, advance=1, info=info)

                yield advance
                prog.update(tid, completed=total if total else None)
        else:
            self.log(f"{description} ...")
            counter = {"n": 0}

            def advance(info: str = ""):
                counter["n"] += 1
                of = f"/{total}" if total else ""
                self.log(f"  {description}: epoch {counter['n']}{of} {info}".rstrip())

            yield advance
            self.log(f"{description} done in {time.monotonic() - start:.1f}s")
