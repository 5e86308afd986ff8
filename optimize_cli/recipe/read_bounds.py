"""The recipe file read within bounds: a regular file (a FIFO or a device named as the recipe neither
blocks nor streams), at most MAX_RECIPE_BYTES; and its YAML composed once per text, so that a search
recipe checked as many concrete recipes (recipe/space.py) parses its file once. Never imports TensorFlow."""
from __future__ import annotations

import copy
import errno
import os
import stat
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, RecipeError
from ..safe_files import open_regular

#: the largest recipe file read (recipes are a few KB; a search space of many choices stays well under it)
MAX_RECIPE_BYTES = 256 * 1024

_last: list = []  # [(file, text, root, raw)] of the last composed recipe


def read_recipe_bytes(path: Path, file: str) -> bytes:
    """The recipe's bytes; FileNotFoundError / IsADirectoryError / OSError as `Path.read_bytes` raises
    them, RecipeError for something that is not a regular file or is over MAX_RECIPE_BYTES."""
    st = os.stat(path)  # FileNotFoundError
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    try:
        fd = open_regular(path)
    except InputError as e:  # a FIFO, a device, a socket
        raise RecipeError(f"{file}: cannot read recipe: {str(e).removeprefix(f'{path}: ')}") from None
    try:
        size = os.fstat(fd).st_size
        if size > MAX_RECIPE_BYTES:
            raise RecipeError(f"{file}: the recipe is {size:,} bytes, over the {MAX_RECIPE_BYTES:,} bytes this tool "
                              "reads")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_RECIPE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{file}: the recipe is over the {MAX_RECIPE_BYTES:,} bytes this tool reads")
    return data


def composed(file: str, text: str, compose: Callable[[str, str], tuple[Any, Any]]) -> tuple[Any, Any]:
    """compose(file, text), reused while the same text is read again (its raw mapping deep-copied, since
    overrides change it; the node tree is only read)."""
    if _last and _last[0][0] == file and _last[0][1] == text:
        _, _, root, raw = _last[0]
        return root, copy.deepcopy(raw)
    root, raw = compose(file, text)
    _last[:] = [(file, text, root, copy.deepcopy(raw))]
    return root, raw
