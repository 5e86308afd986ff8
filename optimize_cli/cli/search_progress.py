"""What `optimize-cli search` shows while it works, on stderr (the search itself prints nothing: it calls
its progress, search.study.SearchProgress): on a terminal a live table of the best trials so far (rank,
trial, parameters, objectives, gates), redrawn after each trial, with each trial's line above it;
elsewhere (CI logs, --json) exactly one plain line per trial; nothing with --quiet. The search's own
lines (the sensitivity pass) and warnings (a worker process's exit code) go there too."""
from __future__ import annotations

import os
import threading
from typing import Optional

from rich.console import Console

from ..search import front
from ..search.tables import is_fraction, params_text, show

#: rows of the live table
TOP = 10


def log_line(t, objectives: list[str]) -> str:
    """The one stderr line per trial (an Optuna FrozenTrial)."""
    r = front.record(t, objectives)
    head = f"trial {r['number']:04d}{front.note(r)} {r['state']}"
    if r["seconds"] is not None:
        head += f" in {r['seconds']:.1f} s"
    if r["state"] != "complete":
        return f"{head}: {r['reason'] or 'stopped'}"
    figs = " ".join(f"{k}={front.show_value(v)}" for k, v in r["values"].items())
    return f"{head}: {figs}; gates {'passed' if r['passed'] else 'missed'}"


def best_first(records: list[dict], objectives: list[str]) -> list[dict]:
    """Completed trials, those that pass every gate first, then by their objectives (then number)."""
    done = [r for r in records if r["state"] == "complete" and r["values"]]
    return sorted(done, key=lambda r: (not r["passed"], [r["values"][k] for k in objectives], r["number"]))


def live_table(records: list[dict], objectives: list[str], top: int = TOP, fraction: bool = False):
    """The rich Table of the `top` best trials so far, with a caption counting every trial (`fraction`:
    drops in percentage points)."""
    from rich.markup import escape
    from rich.table import Table

    states: dict[str, int] = {}
    for r in records:
        states[r["state"]] = states.get(r["state"], 0) + 1
    caption = f"{len(records)} trials: " + ", ".join(f"{n} {s}" for s, n in states.items()) if records \
        else "waiting for the first trial"
    t = Table(title="best trials so far", caption=caption, title_justify="left", caption_justify="left",
              header_style="bold")
    for c in ("rank", "trial", "parameters", *objectives, "gates"):
        t.add_column(c, justify="right" if c in ("rank", *objectives) else "left",
                     overflow="fold", ratio=3 if c == "parameters" else None)
    for i, r in enumerate(best_first(records, objectives)[:top], 1):
        gates = "[green]passed[/green]" if r["passed"] else "[red]missed[/red]"
        t.add_row(str(i), f"{r['number']:04d}", escape(params_text(r)),
                  *(show(k, r["values"][k], fraction) for k in objectives), gates)
    return t


class TrialProgress:
    """The search's progress (search.study.SearchProgress): `trial(trial, study)` after each finished
    trial, `log(line)` and `warn(line)`. A context manager: on a terminal it holds the rich Live display
    while the search runs."""

    def __init__(self, objectives: list[str], console: Optional[Console] = None, quiet: bool = False,
                 live: Optional[bool] = None):
        from ..progress import stderr_console

        self.objectives, self.quiet = list(objectives), quiet
        self.console = console or stderr_console()
        interactive = self.console.is_terminal and not os.environ.get("CI")
        self.live = (not quiet) and (interactive if live is None else live)
        self._live = None
        self.records: dict[int, dict] = {}
        self.metric: Optional[dict] = None  # read from the first completed trial's report
        self._lock = threading.Lock()  # the workers are threads

    def __enter__(self) -> TrialProgress:
        if self.live:
            from rich.live import Live

            self._live = Live(live_table([], self.objectives), console=self.console, auto_refresh=False,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def trial(self, trial, study=None) -> None:
        """One finished trial (an Optuna FrozenTrial); `study`, when given, adds the trials other workers
        finished (a shared study) to the table."""
        if self.quiet:
            return
        with self._lock:
            self._show(trial, study)

    def log(self, message: str) -> None:
        """One line of the search's own (the sensitivity pass), as it is."""
        if not self.quiet:
            with self._lock:
                self._line(message)

    def warn(self, message: str) -> None:
        """A warning: shown even with --quiet (a worker process that ended badly)."""
        with self._lock:
            self._line(f"optimize-cli: warning: {message}")

    def _line(self, line: str) -> None:
        if self._live is None:
            print(line, file=self.console.file, flush=True)
        else:
            self._live.console.print(line, markup=False, highlight=False)

    def _show(self, trial, study) -> None:
        line = log_line(trial, self.objectives)
        if self._live is None:
            self._line(line)
            return
        if study is not None:
            for t in study.get_trials(deepcopy=False):
                if t.state.name != "RUNNING":
                    self.records[t.number] = front.record(t, self.objectives)
        self.records[trial.number] = front.record(trial, self.objectives)
        records = list(self.records.values())
        self.metric = self.metric or front.trial_metric(records)
        self._live.console.print(line, markup=False, highlight=False)
        self._live.update(live_table(records, self.objectives, fraction=is_fraction(self.metric)), refresh=True)
