"""Silence C++ logging (TensorFlow's CUDA probing, LiteRT's "Created XNNPACK delegate", the TFLite
converter's MLIR diagnostics) that writes straight to file descriptors 1 and 2 and would drown the tool's
own stderr lines. The one fd-silencing helper of the package."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Optional

ENV_KEEP_NATIVE_LOGS = "OPTIMIZE_CLI_NATIVE_LOGS"  # set: native logs are not silenced (debugging)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _open_sink(log_path: Optional[Path], keep_log: bool):
    """(binary file to write the caught output to, its path or None)."""
    if log_path is None and keep_log:
        fd, name = tempfile.mkstemp(prefix="tflite-convert-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    if log_path is None:
        return tempfile.TemporaryFile(), None
    return open(log_path, "w+b"), Path(log_path)


@contextlib.contextmanager
def native_output_silenced(fds: tuple[int, ...] = (2,), log_path: Optional[Path] = None, keep_log: bool = False,
                           replay_on_error: bool = True, ignore_warnings: bool = False,
                           honour_env: bool = True) -> Iterator[Optional[Path]]:
    """Redirect the file descriptors `fds` into a sink for the block; yields the sink's path.

    - `log_path`: write the caught output there (kept); else `keep_log` keeps it in a new temporary
      `tflite-convert-*.log`, else it goes to an anonymous temporary file (yields None);
    - `replay_on_error`: if the block raised, the last 4,000 characters caught are written to stderr;
    - `ignore_warnings`: Python warnings raised in the block are dropped too;
    - `honour_env`: with OPTIMIZE_CLI_NATIVE_LOGS set nothing is silenced."""
    if honour_env and os.environ.get(ENV_KEEP_NATIVE_LOGS):
        yield None
        return
    _flush_streams()
    sink, path = _open_sink(log_path, keep_log)
    saved = []
    with sink:
        for fd in fds:
            try:
                dup = os.dup(fd)
            except OSError:
                continue
            saved.append((fd, dup))
            os.dup2(sink.fileno(), fd)
        failed = False
        try:
            with (warnings.catch_warnings() if ignore_warnings else contextlib.nullcontext()):
                if ignore_warnings:
                    warnings.simplefilter("ignore")
                yield path
        except BaseException:
            failed = True
            raise
        finally:
            _flush_streams()
            for fd, dup in saved:
                os.dup2(dup, fd)
                os.close(dup)
            if failed and replay_on_error and saved:
                sink.seek(0)
                with contextlib.suppress(Exception):
                    sys.stderr.write(sink.read().decode("utf-8", "replace")[-4000:])


@contextlib.contextmanager
def native_stderr_silenced():
    """Redirect fd 2 to a temporary file for the block; replay what it caught if the block raised."""
    with native_output_silenced(fds=(2,)):
        yield


#: how much of the native log an internal error replays
REPLAY_CHARS = 4000


@contextlib.contextmanager
def native_logs_to_file(keep_on_terminal: bool = False) -> Iterator[Optional[Path]]:
    """For a whole command (`run`): native writes to fd 2 (TensorFlow's C++ logging, absl before
    InitializeLog, oneDNN notices) go to a temporary log file instead of the terminal or CI log, while
    the tool's own stderr (sys.stderr: the progress, warnings and the error line) keeps the real one.
    Python warnings raised by the libraries go to the log too. An internal error (any exception but an
    OptimizeError, Ctrl-C or an exit) replays the log's tail on the real stderr. Yields the log's path.

    Nothing is redirected with ``keep_on_terminal`` (--debug) or OPTIMIZE_CLI_NATIVE_LOGS set."""
    if keep_on_terminal or os.environ.get(ENV_KEEP_NATIVE_LOGS):
        yield None
        return
    from .errors import OptimizeError

    _flush_streams()
    try:
        real = os.dup(2)
    except OSError:  # no fd 2 at all: nothing to protect
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="optimize-cli-native-", suffix=".log")
    log = os.fdopen(fd, "w+b")
    saved_stderr = sys.stderr
    try:
        if _is_fd(saved_stderr, 2):  # the tool's own writes keep the terminal (CliRunner's stream stays)
            sys.stderr = open(real, "w", buffering=1, encoding=getattr(saved_stderr, "encoding", None) or "utf-8",
                              errors="backslashreplace", closefd=False)
        os.dup2(log.fileno(), 2)
        with warnings.catch_warnings():
            warnings.showwarning = lambda m, c, f, n, file=None, line=None: _log_write(
                log, warnings.formatwarning(m, c, f, n, line))
            yield Path(name)
    except BaseException as e:
        if not isinstance(e, (OptimizeError, KeyboardInterrupt, SystemExit)) and type(e).__module__ != "click.exceptions":
            _flush_streams()
            log.flush()
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-REPLAY_CHARS:]
            if tail.strip():
                os.write(real, ("--- native log (tail) ---\n" + tail + "\n--- end of native log ---\n").encode())
        raise
    finally:
        _flush_streams()
        os.dup2(real, 2)
        if sys.stderr is not saved_stderr:
            with contextlib.suppress(Exception):
                sys.stderr.close()
            sys.stderr = saved_stderr
        os.close(real)
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(name)


def _is_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


def _log_write(log, text: str) -> None:
    with contextlib.suppress(Exception):
        log.write(text.encode("utf-8", "replace"))
        log.flush()
