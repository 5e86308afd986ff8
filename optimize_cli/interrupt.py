"""Ctrl-C and SIGTERM during a run: the signal handler only records the signal; the run stops at the next
safe point, where `check()` raises KeyboardInterrupt in plain Python code.

A handler that raises at once can raise inside TensorFlow's native code (a Keras fit, a conversion) and
end the run with `SystemError: ... bad argument to internal function` (exit 1) instead of 130. Safe
points: a Keras callback at every batch end (training/fit.py), after every conversion and measurement,
between stages (run/path.py), and before the results are moved into place (run/__init__.py).
"""
from __future__ import annotations

import contextlib
import signal

_received: list[int] = []  # the signals received since the innermost `signals_to_flag()` began


def requested() -> bool:
    """A Ctrl-C or SIGTERM arrived during the run."""
    return bool(_received)


def check() -> None:
    """A safe point: raise KeyboardInterrupt when a Ctrl-C or SIGTERM arrived."""
    if _received:
        raise KeyboardInterrupt


def _record(signum, frame) -> None:
    _received.append(signum)


def set_handlers(handler) -> dict:
    """Install `handler` for SIGINT and SIGTERM; returns the previous handlers (for `restore_handlers`).
    Outside the main thread (no handlers can be set) nothing changes."""
    saved = {}
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            saved[sig] = signal.signal(sig, handler)
    return saved


def restore_handlers(saved: dict) -> None:
    for sig, handler in saved.items():
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)


@contextlib.contextmanager
def signals_to_flag():
    """Within: SIGINT and SIGTERM only record themselves (`requested()`, `check()`); the previous
    handlers are put back on exit."""
    saved = set_handlers(_record)
    before = list(_received)
    _received.clear()
    try:
        yield
    finally:
        restore_handlers(saved)
        _received[:] = before
