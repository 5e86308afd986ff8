"""File sizes: raw bytes and the ZIP_DEFLATED size (DESIGN.md, report.json contract).

``compressed_bytes`` is the size of a ZIP_DEFLATED archive holding the file (the tfmot tutorials'
``get_gzipped_model_size``). The archive member is named after the file's base name (``model.tflite``
for bytes), so the figure does not depend on the directory the file happens to lie in.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Union

from .metrics import saved_percent

BytesOrPath = Union[bytes, bytearray, memoryview, str, os.PathLike]


def zip_size(path: Union[str, os.PathLike]) -> int:
    """Bytes of a ZIP_DEFLATED archive holding ``path`` (a file, or every file under a directory).

    Exactly the tutorials' ``zipfile.ZipFile(zip, 'w', compression=ZIP_DEFLATED).write(file)``, with the
    member named by its base name (files) or its path relative to the directory (directories).
    """
    p = Path(path)
    with tempfile.TemporaryDirectory(prefix="optimize-cli-zip-") as tmp:
        zpath = os.path.join(tmp, "model.zip")
        with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            if p.is_dir():
                for f in sorted(p.rglob("*")):
                    if f.is_file():
                        zf.write(f, arcname=f.relative_to(p).as_posix())
            else:
                zf.write(p, arcname=p.name)
        return os.path.getsize(zpath)


def path_sizes(path: Union[str, os.PathLike]) -> dict:
    """{"bytes", "compressed_bytes", "compression_saved_percent"} of a file or a directory (sum of files)."""
    p = Path(path)
    raw = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
    comp = zip_size(p)
    return {"bytes": int(raw), "compressed_bytes": int(comp),
            "compression_saved_percent": round(saved_percent(raw, comp), 4)}


def file_sizes(path_or_bytes: BytesOrPath) -> dict:
    """{"tflite_bytes", "compressed_bytes", "compression_saved_percent"} of a .tflite file or its bytes.

    ``compression_saved_percent`` = 100 * (1 - compressed_bytes / tflite_bytes).
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        with tempfile.TemporaryDirectory(prefix="optimize-cli-size-") as tmp:
            f = os.path.join(tmp, "model.tflite")
            with open(f, "wb") as fh:
                fh.write(data)
            comp = zip_size(f)
        raw = len(data)
    else:
        raw = os.path.getsize(path_or_bytes)
        comp = zip_size(path_or_bytes)
    return {"tflite_bytes": int(raw), "compressed_bytes": int(comp),
            "compression_saved_percent": round(saved_percent(raw, comp), 4)}


def as_bytes(model: BytesOrPath) -> bytes:
    """The bytes of a model given as bytes or as a path."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()
