"""Paths a recipe or the cache names, checked and read without ever blocking or reading without end: only
regular files (and directories where a folder is meant) are accepted — a device such as /dev/zero, a FIFO
or a socket is refused by its type before anything opens it — every open is non-blocking (a FIFO swapped
in after the check cannot hang the open) and re-checked on the open descriptor, and every read is bounded
by a size the caller names. Never imports TensorFlow (`validate` uses it)."""
from __future__ import annotations

import os
import stat
import zipfile
from typing import Optional

from .errors import InputError
from .models.files import path_problem

__all__ = ["path_problem", "file_problem", "input_problem", "open_regular", "read_bounded", "read_text_bounded",
           "read_zip_member", "BoundError"]

_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class BoundError(InputError):
    """A file (or a zip member) larger than what this tool reads into memory."""


def file_problem(path, limit: Optional[int] = None, dir_ok: bool = False) -> Optional[str]:
    """Why `path` cannot be read as an input ('no such file or directory', 'is a FIFO, not a regular file',
    'is 2,000,000 bytes, over the 1,048,576 bytes this tool reads'), or None. Opens nothing."""
    why = path_problem(path, dir_ok=dir_ok)
    if why is not None or limit is None:
        return why
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:  # gone meanwhile
        return f"cannot read ({getattr(e, 'strerror', None) or e})"
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        return f"is {st.st_size:,} bytes, over the {limit:,} bytes this tool reads"
    return None


def open_regular(path) -> int:
    """A read-only descriptor of the regular file `path`, opened without blocking (O_NONBLOCK: a FIFO does
    not wait for a writer) and checked on the descriptor itself; InputError naming the path otherwise."""
    why = path_problem(path, dir_ok=False)
    if why is not None:
        raise InputError(f"{path}: {why}")
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # swapped after the check
        os.close(fd)
        raise InputError(f"{path}: is not a regular file")
    return fd


def read_bounded(path, limit: int, what: str) -> bytes:
    """All of the regular file `path`, at most `limit` bytes (BoundError naming `what` and the bound when it
    is larger, or grows while it is read)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise BoundError(f"{path}: the {what} is {size:,} bytes, over the {limit:,} bytes this tool reads")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise BoundError(f"{path}: the {what} is over the {limit:,} bytes this tool reads")
    return data


def read_text_bounded(path, limit: int, what: str) -> str:
    """read_bounded as UTF-8 text (InputError when it is not UTF-8)."""
    try:
        return read_bounded(path, limit, what).decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: the {what} is not UTF-8 text (byte {e.start})") from None


def read_zip_member(z: zipfile.ZipFile, name: str, limit: int, where) -> bytes:
    """Member `name` of an open zip, at most `limit` bytes: its declared size (ZipInfo.file_size) is checked
    before anything is decompressed, and the read stops at the bound in case the declaration lies."""
    info = z.getinfo(name)
    if info.file_size > limit:
        raise BoundError(f"{where}: {name} declares {info.file_size:,} bytes, over the {limit:,} bytes this tool "
                         "reads")
    with z.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BoundError(f"{where}: {name} is over the {limit:,} bytes this tool reads")
    return data


def input_problem(p: str, limit: Optional[int] = None, dir_ok: bool = False) -> Optional[str]:
    """A recipe path's problem as `validate` words it: 'path does not exist: P', 'P: is a FIFO, not a
    regular file', 'P: is 2,000,000 bytes, over the ... bytes this tool reads'; None when it can be read."""
    why = file_problem(p, limit, dir_ok)
    if why is None:
        return None
    shown = p if p.isprintable() else repr(p)
    return f"path does not exist: {shown}" if why == "no such file or directory" else f"{shown}: {why}"
