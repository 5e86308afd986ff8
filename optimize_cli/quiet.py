"""Silence C++ logging (TensorFlow's CUDA probing, LiteRT's "Created XNNPACK delegate") that writes
straight to file descriptor 2 and would drown the tool's own stderr lines."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr_silenced():
    """Redirect fd 2 to a temporary file for the block; replay what it caught if the block raised."""
    if os.environ.get("OPTIMIZE_CLI_NATIVE_LOGS"):
        yield
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                with contextlib.suppress(Exception):
                    sys.stderr.write(sink.read().decode("utf-8", "replace")[-4000:])
