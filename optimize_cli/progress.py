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
        self._status = None  # the spinner of the current step (rich), and its text
        self._status_text = ""
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

    @property
    def step_text(self) -> str:
        """The words of the step being shown on a terminal ("" when none)."""
        return self._status_text if self._status is not None else ""

    # ---- a step of unknown length before the first task ("loading TensorFlow")
    @contextmanager
    def step(self, description: str):
        """What the run is doing while nothing else shows (importing TensorFlow, loading the model): a
        spinner on a terminal (rich status, erased when the step ends), one line elsewhere. A step inside a
        step takes over the spinner's text and gives it back when it ends."""
        if self.quiet:
            yield
            return
        text = f"{description}…"
        if not self.rich:
            self.log(text)
            yield
            return
        from rich.markup import escape

        if self._status is not None:  # nested: the same spinner, the inner step's words
            outer, self._status_text = self._status_text, text
            self._status.update(escape(text))
            try:
                yield
            finally:
                self._status_text = outer
                self._status.update(escape(outer))
            return
        self._status, self._status_text = self.console.status(escape(text)), text
        try:
            with self._status:
                yield
        finally:
            self._status = None

    # ---- a unit of work with epochs
    @contextmanager
    def task(self, description: str, total: Optional[int] = None):
        """A stage or step; `advance(info)` once per epoch, `advance.batch(done, of)` within an epoch (a
        long epoch shows its batches). A finished task leaves one line marked ✓ (rich) or "done in"."""
        start = time.monotonic()
        if self.rich:
            with self._rich_task(description, total, start) as advance:
                yield advance
        else:
            self.log(f"{description} ...")
            advance = _PlainAdvance(self, description, total, start)
            yield advance
            self.log(f"{description} done in {time.monotonic() - start:.1f}s")

    @contextmanager
    def _rich_task(self, description: str, total: Optional[int], start: float):
        from rich.markup import escape
        from rich.progress import Progress

        prog = Progress(*progress_columns(self.console.width, total, description), console=self.console, transient=True)
        label = fit_label(description, label_width(self.console.width, total, description)) if total else description
        tid = prog.add_task(label, total=total, info="", batch="")
        mark = "[green]✓[/green]"
        try:
            with prog:
                yield _RichAdvance(prog, tid)
        except KeyboardInterrupt:
            mark = None  # the live line is erased; the interruption message follows, no frozen duplicate
            raise
        except BaseException:
            mark = "[red]✗[/red]"
            raise
        finally:
            # the live line is erased on the way out (transient); one line remains: ✓ done, ✗ failed
            if mark is not None:
                task = prog.tasks[0]
                count = f"  {int(task.completed)}/{total}" if total else ""
                info = task.fields.get("info", "") if mark.endswith("✓[/green]") else ""
                self.console.print(f"{mark} {escape(description)}{count}  {fmt_elapsed(time.monotonic() - start)}"
                                   + (f"  {escape(info)}" if info else ""), highlight=False)


def fmt_elapsed(seconds: float) -> str:
    """"0:07", "12:03", "1:02:03"."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


#: below this terminal width the bar is left out first; the counts, elapsed time and ETA stay
BAR_MIN_WIDTH = 100
#: the cells the last epoch's figures keep before the label is cut ("loss 0.0234 accuracy 0.99")
INFO_WIDTH = 24


def _counts_width(total: int) -> int:
    """The cells of the columns that always stay: n/N, batches, elapsed, "eta", remaining (with gaps)."""
    return (2 * len(str(total)) + 2) + 16 + 8 + 4 + 6


def _widths(width: int, total: int, description: str) -> tuple[int, bool]:
    """(label cells, whether the bar is shown) of a task's live line: the bar only where the label (up to
    30 cells) and the figures still fit beside it; the label is shortened first, the last epoch's figures
    keep INFO_WIDTH cells ("loss 0.0234 accuracy …")."""
    kept = _counts_width(total)
    bar = width >= BAR_MIN_WIDTH and width - kept - 21 - INFO_WIDTH - 2 >= min(len(description) or 48, 30)
    kept += 21 if bar else 0
    return max(12, min(len(description) or 48, width - kept - INFO_WIDTH - 2)), bar


def label_width(width: int, total: int, description: str) -> int:
    """The cells a task's label gets on a terminal ``width`` columns wide."""
    return _widths(width, total, description)[0]


def fit_label(description: str, cells: int) -> str:
    """The label in ``cells``: whole, or cut after its last whole word that fits, with "…" ("stage 1
    prune: fine-tune 20 epochs" in 14 cells is "stage 1 prune…")."""
    if len(description) <= cells:
        return description
    head = description[: cells - 1]
    whole = description[cells - 1] in " :,;"  # the cut falls at the end of a word
    cut = head if whole or " " not in head else head.rsplit(" ", 1)[0]
    return cut.rstrip(" :,;") + "…"


def progress_columns(width: int, total: Optional[int], description: str = "") -> list:
    """The rich columns of a task's live line for a terminal ``width`` columns wide: description, "n/N"
    epochs, batches within the epoch, elapsed, ETA, then the bar (only when there is room) and the
    last epoch's figures (cut first)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    if not total:  # a step of unknown length (a conversion): a spinner and the elapsed time
        return [SpinnerColumn(), TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
                TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7))]

    def cut(n: int) -> Column:  # a text cut with … at n cells
        return Column(no_wrap=True, overflow="ellipsis", max_width=max(n, 1))

    desc, bar = _widths(width, total, description)
    digits = len(str(total))
    counts = [(MofNCompleteColumn(table_column=Column(no_wrap=True, width=2 * digits + 1)), 2 * digits + 1),
              (TextColumn("{task.fields[batch]}", table_column=cut(15)), 15),
              (TimeElapsedColumn(table_column=Column(no_wrap=True, width=7)), 7),
              (TextColumn("eta", table_column=Column(no_wrap=True, width=3)), 3),
              (TimeRemainingColumn(compact=True, table_column=Column(no_wrap=True, width=5)), 5)]
    kept = sum(w + 1 for _, w in counts) + (21 if bar else 0)
    cols = [TextColumn("{task.description}", table_column=cut(desc))] + [c for c, _ in counts]
    if bar:
        cols.insert(1, BarColumn(bar_width=20))
    cols.append(TextColumn("{task.fields[info]}", table_column=cut(width - kept - desc - 2)))
    return cols


class _RichAdvance:
    """`advance(info)`: one epoch done; `advance.batch(done, of)`: progress within the epoch."""

    per_batch = True  # the fit reports batches to it (a terminal); plain logs stay one line per epoch

    def __init__(self, prog, tid):
        self.prog, self.tid = prog, tid

    def __call__(self, info: str = "") -> None:
        self.prog.update(self.tid, advance=1, info=info, batch="")

    def batch(self, done: int, of: Optional[int] = None) -> None:
        self.prog.update(self.tid, batch=f"batch {done}/{of}" if of else f"batch {done}")


class _PlainAdvance:
    """One line per epoch for CI logs, with an ETA from the epochs so far."""

    def __init__(self, reporter: Reporter, description: str, total: Optional[int], start: float):
        self.reporter, self.description, self.total, self.start, self.n = reporter, description, total, start, 0

    def __call__(self, info: str = "") -> None:
        self.n += 1
        of = f"/{self.total}" if self.total else ""
        eta = ""
        if self.total and self.n < self.total:
            eta = f" (eta {fmt_elapsed((time.monotonic() - self.start) / self.n * (self.total - self.n))})"
        self.reporter.log(f"  {self.description}: epoch {self.n}{of} {info}".rstrip() + eta)

    def batch(self, done: int, of: Optional[int] = None) -> None:
        """Nothing in a log: one line per epoch is enough there."""
