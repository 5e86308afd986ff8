"""type: npz — arrays from a NumPy .npz file: the source model, its path check, its files, its loader.

Sample order is the file's rows. Arrays stored uncompressed (np.savez) are memory-mapped, compressed ones
(np.savez_compressed) are read, that array only."""
from __future__ import annotations

import difflib
import struct
import zipfile
from pathlib import Path
from typing import Iterator, Literal, Optional

import numpy as np
from pydantic import Field

from ..errors import InputError
from ..safe_files import input_problem
from ..strict import Strict
from .common import CHUNK, as_shape, shape_fits, shape_fix
from .common import tf as _tf
from .paths import DataFit, Finding, Show, resolve_path
from .split import Split

TYPE = "npz"


class NpzSource(Strict):
    """Arrays from a NumPy `.npz` file, picked by key; optionally a slice of them. Arrays stored
    uncompressed (np.savez) are memory-mapped, compressed ones are read into memory."""

    type: Literal["npz"] = "npz"
    path: str = Field(..., description="Path of the .npz file (relative to the recipe file).")
    x: str = Field("x", description="Key of the input array.")
    y: str = Field("y", description="Key of the label array.")
    start: Optional[int] = Field(None, ge=0, description="First sample to use (slice start).")
    stop: Optional[int] = Field(None, ge=1, description="One past the last sample to use (slice stop).")


MODEL = NpzSource


#: check() takes the model's input shape and the split's name (data/config.py passes them)
HINTS = True


def check(src: NpzSource, base: Path, check_paths: bool, show: Show, *, input_shape: Optional[tuple] = None,
          split: str = "") -> list[Finding]:
    """Resolve the path against the recipe's folder; it must exist, and stop come after start. From the
    arrays' headers: x and y must be keys of the file (a missing one gets the array that fits as its "did you
    mean": for x the one whose samples have the model's `input_shape`), with as many samples each, and x's
    samples the model's input shape (these two are DataFit findings: data that does not fit, exit 3)."""
    out: list[Finding] = []
    src.path = resolve_path(base, src.path)
    why = input_problem(src.path) if check_paths else None
    if why is not None:  # missing, or a device / FIFO / socket / folder that would hang or fail the loader
        out.append((["path"], why))
    elif check_paths:
        out += _key_findings(src, show, input_shape, split)
    if src.start is not None and src.stop is not None and src.stop <= src.start:
        out.append((["stop"], f"must be after start ({src.start})"))
    return out


def array_headers(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """key → (shape, dtype) of every array in an .npz, read from the members' .npy headers only (bounded
    reads, no TensorFlow, nothing decompressed beyond a header). Raises OSError/ValueError/BadZipFile."""
    out: dict[str, tuple[tuple, np.dtype]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read is None:
                    raise ValueError(f"{info.filename}: .npy format version {version} not supported")
                shape, _fortran, dtype = read(fh)
            out[info.filename[:-4]] = (tuple(shape), dtype)
    return out


def _key_findings(src: NpzSource, show: Show, input_shape: Optional[tuple], split: str) -> list[Finding]:
    """x and y must be arrays of the file (read from its headers), and fit each other and the model; an
    unreadable file is left to the loader (exit 3), which says what is wrong with it."""
    try:
        if not Path(src.path).is_file():
            return []
        arrays = array_headers(Path(src.path))
    except Exception:  # noqa: BLE001 - BadZipFile, OSError, ValueError from a broken header: the loader reports it
        return []
    out: list[Finding] = []
    name = Path(src.path).name
    for key_name in ("x", "y"):
        key = getattr(src, key_name)
        if key not in arrays:
            near = suggest(key_name, key, arrays, src, input_shape, split)
            hint = f"; did you mean '{near}'?" if near else ""
            if near and key_name == "x" and input_shape is not None:
                got = tuple(arrays[near][0][1:])
                hint += shape_fix(got, tuple(input_shape)).replace("; ", f" (its samples are {got}: ", 1) + ")" \
                    if not shape_fits(got, tuple(input_shape)) else ""
            has = ", ".join(f"{k} {list(shape)}" for k, (shape, _) in arrays.items()) or "no arrays"
            out.append(([key_name], f"key {show(key)} not in {name} (it has: {has}){hint}"))
    if out:
        return out
    (xs, _), (ys, _) = arrays[src.x], arrays[src.y]
    if not xs or not ys:
        return []  # a single value: the loader says so
    nx, ny = (len(range(n)[src.start:src.stop]) for n in (xs[0], ys[0]))
    if nx != ny:
        out.append(DataFit([], f"{name}: '{src.x}' has {nx} samples but '{src.y}' has {ny}; x and y need one row "
                               "per sample"))
    if input_shape is not None and not shape_fits(xs[1:], input_shape):
        want = tuple(input_shape)
        out.append(DataFit([], f"samples have shape {tuple(xs[1:])} but the model's input is {(None, *want)} "
                               f"(without the batch axis: {want}){shape_fix(tuple(xs[1:]), want)}"))
    return out


_SPLIT_WORDS = {"train": ("train",), "eval": ("test", "val", "eval"), "representative": ("train", "calib", "rep")}


def suggest(key_name: str, key: str, arrays: dict, src: NpzSource, input_shape: Optional[tuple],
            split: str = "") -> Optional[str]:
    """The array a missing `x` or `y` key most likely means, ranked by shape before name: for x, one whose
    samples have the model's input shape (without it: the most dimensions); for y, one with as many samples
    as x and at most one dimension per sample. Among those: the one named for the split first (x_train for
    data.train, x_test for data.eval), then the name closest to the key. None when nothing fits."""
    other = src.y if key_name == "x" else src.x
    cands = {k: shape for k, (shape, _) in arrays.items() if k != other and shape}
    if key_name == "x":
        if input_shape is not None:  # the samples that fit the model, else those a reshape makes fit
            want = tuple(input_shape)
            cands = ({k: s for k, s in cands.items() if shape_fits(s[1:], want)}
                     or {k: s for k, s in cands.items() if shape_fix(s[1:], want)})
        elif cands:
            most = max(len(s) for s in cands.values())
            cands = {k: s for k, s in cands.items() if len(s) == most and most >= 2}
    else:
        n = arrays[other][0][0] if other in arrays and arrays[other][0] else None
        cands = {k: s for k, s in cands.items() if len(s) <= 2 and (n is None or s[0] == n)}
    if not cands:
        return None
    words = _SPLIT_WORDS.get(split, ())

    def rank(k: str) -> tuple:
        return (not any(w in k.lower() for w in words), -difflib.SequenceMatcher(None, key.lower(), k.lower()).ratio(),
                k)

    return min(cands, key=rank)


def files(src: NpzSource) -> list[Path]:
    """The file the loader reads."""
    return [Path(src.path)]


class ArraySplit(Split):
    """npz: x and y arrays (memory-mapped where possible), optionally a subset of their rows."""

    random_access = True

    def __init__(self, name, source, x: np.ndarray, y: np.ndarray, index: Optional[np.ndarray] = None,
                 where: Optional[str] = None, label: str = ""):
        super().__init__(name, source, where)
        self._xa, self._ya, self._index, self._label = x, y, index, label

    def _count(self) -> int:
        return len(self._index) if self._index is not None else len(self._xa)

    def _specs(self) -> tuple:
        return as_shape(self._xa.shape[1:]), as_shape(self._ya.shape[1:]), self._ya.dtype

    def _rows(self, ids: np.ndarray) -> tuple:
        ids = np.asarray(ids, dtype=np.int64)
        rows = ids if self._index is None else self._index[ids]
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
            sl = slice(int(rows[0]), int(rows[-1]) + 1)  # contiguous: a slice reads a memmap sequentially
            x, y = self._xa[sl], self._ya[sl]
        else:
            x, y = self._xa[rows], self._ya[rows]
        return np.asarray(x, dtype=self.x_dtype or np.float32), np.asarray(y)

    def batches(self, batch_size: int = CHUNK) -> Iterator[tuple]:
        n, bs = self.samples, max(1, int(batch_size))
        for s in range(0, n, bs):
            yield self._rows(np.arange(s, min(n, s + bs)))

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0):
        tf = _tf()
        n = self.samples
        xshape, yshape, ydt = self._specs()
        ids = tf.data.Dataset.range(n)
        if shuffle:  # indices only: a full shuffle costs 8 bytes a sample
            ids = ids.shuffle(n, seed=int(seed), reshuffle_each_iteration=True)

        tdt = tf.as_dtype(ydt)

        def load(i):
            x, y = tf.numpy_function(self._rows, [i], (tf.as_dtype(self.x_dtype or np.float32), tdt), stateful=False)
            x.set_shape((None,) + xshape)
            y.set_shape((None,) + yshape)
            return x, y

        return ids.batch(int(batch_size)).map(load).prefetch(tf.data.AUTOTUNE)

    def _elements(self, shuffle: bool = False, seed: int = 0):
        return self.dataset(CHUNK, shuffle, seed).unbatch()

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        return self._rows(self.random_indices(n, seed))[0]

    def first(self, n: int = 1) -> np.ndarray:
        return self._rows(np.arange(min(int(n), self.samples)))[0]

    def _materialise(self) -> tuple:
        if self._cache is None:
            if self._index is None and self._xa.dtype == (self.x_dtype or np.float32) and not isinstance(self._xa, np.memmap):
                self._cache = (self._xa, np.asarray(self._ya))
            else:
                self._cache = self._rows(np.arange(self.samples))
        return self._cache

    def x_label(self) -> str:
        return self._label

    def sample_name(self, i: int) -> str:
        row = int(i if self._index is None else self._index[i])
        return f" (row {row} of {self._label})" if self._label and row != i else ""

    def _subset(self, mask, name, where):
        base = np.arange(self.samples) if self._index is None else self._index
        return ArraySplit(name, self.source, self._xa, self._ya, base[mask], where, self._label)


def _npz_member(path: Path, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    """One array of an .npz: memory-mapped when stored uncompressed, else read (that array only)."""
    if info.compress_type == zipfile.ZIP_STORED and info.flag_bits & 0x1 == 0:
        try:
            with open(path, "rb") as fh:
                fh.seek(info.header_offset)
                head = fh.read(30)
                if head[:4] == b"PK\x03\x04":
                    name_len, extra_len = struct.unpack("<HH", head[26:30])
                    fh.seek(info.header_offset + 30 + name_len + extra_len)
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ValueError("npy version")
                    offset = fh.tell()
                    if not dtype.hasobject and len(shape) >= 1 and int(np.prod(shape)) > 0:
                        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape),
                                         order="F" if fortran else "C")
        except (OSError, ValueError, struct.error):
            pass  # fall back to reading the member
    with np.load(path, allow_pickle=False) as f:
        return f[key]


def load(name: str, src: NpzSource, where: str, *, allow_code: bool = False) -> Split:
    """The split from its arrays: exit 3 naming the key, the file or the range where they do not fit."""
    path = Path(src.path)
    if not path.is_file():
        raise InputError(f"{where}.path: {path}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
        keys = list(infos)
        for key_name in ("x", "y"):
            key = getattr(src, key_name)
            if key not in infos:
                raise InputError(
                    f"{where}.{key_name}: key '{key}' not in {path.name} (it has: {', '.join(keys) or 'nothing'})"
                )
        x = _npz_member(path, infos[src.x], src.x)
        y = _npz_member(path, infos[src.y], src.y)
    except InputError:
        raise
    except ValueError as e:
        raise InputError(f"{where}.path: {path}: cannot read arrays ({e})") from None
    except Exception as e:  # zipfile.BadZipFile, OSError, pickle refusal
        raise InputError(f"{where}.path: {path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    for key, a in ((src.x, x), (src.y, y)):
        if a.ndim == 0:
            raise InputError(f"{where}: {path.name}[{key}] is a single value, not an array of samples")
    x = x[src.start:src.stop]
    y = y[src.start:src.stop]
    if len(x) == 0:
        raise InputError(f"{where}: {path.name}[{src.x}] has no samples in the selected range")
    if len(x) != len(y):
        raise InputError(f"{where}: {path.name}: '{src.x}' has {len(x)} samples but '{src.y}' has {len(y)}")
    if x.dtype.kind not in "fiub":
        raise InputError(f"{where}: {path.name}[{src.x}] has dtype {x.dtype}, expected numbers")
    if y.dtype.kind not in "fiub":
        raise InputError(f"{where}: {path.name}[{src.y}] has dtype {y.dtype}, expected numbers (class indices, "
                         "one-hot vectors or values)")
    return ArraySplit(name, src, x, y, where=where, label=f"{path.name}[{src.x}]")
