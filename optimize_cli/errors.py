"""Errors a user can cause, each mapped to a documented exit code (DESIGN.md, CLI contract)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_STAGE = 4
EXIT_GATE = 5
EXIT_EARLY_STOP = 6  # only when `search` asks a trial's run to stop early (run/early_stop.py)
EXIT_INTERRUPTED = 130


class OptimizeError(Exception):
    """Base of every error the CLI turns into a one-line message and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split("\n")).strip()


class RecipeError(OptimizeError):
    """The recipe or the command line is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(OptimizeError):
    """The model or data cannot be loaded, or does not fit the recipe (exit 3)."""

    exit_code = EXIT_INPUT


class StageError(OptimizeError):
    """A stage failed: diverged, could not wrap a layer it was asked to, conversion failed (exit 4)."""

    exit_code = EXIT_STAGE


class GateError(OptimizeError):
    """A gate was missed; everything was still written (exit 5)."""

    exit_code = EXIT_GATE


class EarlyStopped(OptimizeError):
    """A trial's run stopped after a stage whose Keras accuracy already missed the accuracy gate by the
    margin `search` set (exit 6; only a search trial's run, see run/early_stop.py). The finished stages are
    kept, so `run --resume` continues the run."""

    exit_code = EXIT_EARLY_STOP


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run (exit 130). Its facts: `output` (the output directory as given),
    `kept_in` and `stages` (the folder holding the finished stages and their names; None and empty when
    none was kept); the message says them. The CLI adds `advice`, the exact command that resumes (or
    reruns) the run, and prints it all as one line on stderr."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str = "interrupted", output=None, kept_in=None, stages=()):
        super().__init__(message)
        self.message, self.output, self.kept_in, self.stages = message, output, kept_in, list(stages)
        self.advice: str | None = None

    def __str__(self) -> str:  # one line, always
        text = self.message + (f"; {self.advice}" if self.advice else "")
        return " ".join(text.split("\n")).strip()


def one_line(error: "BaseException | str", limit: "int | None" = 300) -> str:
    """An error (or text) as one line: whitespace runs, newlines included, become one space; longer than
    `limit` characters (None: no limit) ends in '…'; an exception without a message is named by its class."""
    text = " ".join(str(error).split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
