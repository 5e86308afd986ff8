"""The model path before anything is loaded: only regular files and directories are accepted (a device
such as /dev/zero, a FIFO or a socket would hang or exhaust memory), and every read is bounded. Never
imports TensorFlow (`validate` uses `path_problem`)."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

from ..errors import InputError

#: what a protobuf may hold (saved_model.pb, keras_metadata.pb): protobuf's own 2 GiB limit
MAX_PROTOBUF_BYTES = 2**31 - 1
#: the largest model config (.keras config.json, .h5 model_config) read into memory
MAX_CONFIG_BYTES = 256 * 2**20


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def path_problem(path, dir_ok: bool = True) -> Optional[str]:
    """Why `path` cannot be a model input ('no such file or directory', 'is a FIFO, not a regular file or
    a directory', ...), or None. Follows symlinks; reads nothing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file or directory"
    except (OSError, ValueError) as e:
        return f"cannot read ({getattr(e, 'strerror', None) or e})"
    if stat.S_ISREG(st.st_mode) or (dir_ok and stat.S_ISDIR(st.st_mode)):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    return f"is {_kind(st.st_mode)}, not a regular file" + (" or a directory" if dir_ok else "")


def check_path(path, dir_ok: bool = True) -> Path:
    """`path` as a Path, or InputError (exit 3) naming it when it is missing or not a regular file /
    directory."""
    why = path_problem(path, dir_ok)
    if why is not None:
        raise InputError(f"{path}: {why}")
    return Path(path)


def read_head(path, n: int = 16) -> bytes:
    """The first `n` bytes of a regular file (one bounded read); InputError naming it otherwise."""
    check_path(path, dir_ok=False)
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None


def read_bounded(path, limit: int, what: str) -> bytes:
    """The whole of a regular file of at most `limit` bytes (`what` names it in the error)."""
    check_path(path, dir_ok=False)
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise InputError(f"{path}: {what} of {size:,} bytes is larger than the {limit:,} bytes this tool reads")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > limit:  # grew while reading
        raise InputError(f"{path}: {what} is larger than the {limit:,} bytes this tool reads")
    return data
