"""Data sources → streaming, batched, prefetched `tf.data.Dataset`s; representative samples; checks.

Every source (recipe.py: npz, image_dir, tfrecord, tfds, python) becomes a `Split`: a re-iterable stream of
(x, y) samples, x as float32, y as stored. Nothing reads a whole split into memory except `npz`, whose
arrays are memory-mapped when the file stores them uncompressed (np.savez) and read when compressed
(np.savez_compressed). TensorFlow is imported inside the functions that need it, never at import time.

The Split API (what the pipeline and the stages use):

    split.samples                    number of samples (cardinality, else one counting pass, cached)
    split.element_shape              shape of one x, without the batch axis (None for unknown dims)
    split.label_shape                shape of one y, or None when the split has no labels
    split.dataset(bs, shuffle, seed) batched, prefetched tf.data.Dataset of (x, y) (x alone without labels)
    split.batches(bs)                iterator of numpy (x, y) batches in order (y None without labels)
    split.take(n, seed)              numpy x of n samples drawn deterministically (calibration)
    split.first(n)                   numpy x of the first n samples (a latency probe)
    split.x / split.y                the whole split as arrays (npz: the arrays; other sources: materialised
                                     on first use — prefer batches())

Sample order is the source's: npz rows; image_dir files sorted by class (label order) and then by path;
tfrecord files in sorted order, records in file order; tfds with shuffle_files=False; python as yielded.

`take(n, seed)`: for npz and image_dir (random access) n distinct indices from
numpy.random.default_rng(seed).choice, read in index order; for streamed sources (tfrecord, tfds, python)
the first n samples after `shuffle(buffer_size=min(10_000, max(1_000, 10 * n)), seed=seed)` — a bounded
buffer, so only that many samples are read.

Errors a user can cause are `InputError` (exit 3) naming the split (`data.train`), and where it helps the
sample index and file; a python source without `allow_code` is a `RecipeError` (exit 2).
"""
from __future__ import annotations

import importlib
import os
import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from .errors import InputError, RecipeError

#: samples per step of the checking pass and of internal reads
CHUNK = 256
#: shuffle buffer for streamed sources (random-access sources are shuffled completely)
SHUFFLE_BUFFER = 10_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _tf():
    from .tf import tf

    return tf


def _tf_message(e: BaseException) -> str:
    """The useful line of a TensorFlow error (which carries graph-node prefixes and Python tracebacks)."""
    text = getattr(e, "message", None) or str(e)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    text = re.sub(r"\s*\[Op:[A-Za-z]+\]( name:[^\n]*)?", "", text)
    text = text.replace("' failed with ", ": ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # an exception raised in a Python generator: keep "SomeError: message"
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b: ", ln):
            return ln[:300]
    for ln in lines:
        ln = re.sub(r"^(Error in user-defined function passed to .*? transformation .*?:\s*)", "", ln)
        if ln and not ln.startswith("[[") and not ln.startswith("Traceback"):
            return ln[:300]
    return (type(e).__name__)[:300]


def _shape(s) -> tuple:
    return tuple(None if d is None else int(d) for d in s)


# ------------------------------------------------------------------------------------------- Split


class Split:
    """One split of the data (train, eval or representative): a re-iterable stream of (x, y) samples."""

    random_access = False

    def __init__(self, name: str, source: Any, where: Optional[str] = None):
        self.name = name
        self.source = source
        self.where = where or f"data.{name}"
        self._n: Optional[int] = None
        self._cache: Optional[tuple] = None

    # ---- what a source provides
    def _count(self) -> int:
        raise NotImplementedError

    def _specs(self) -> tuple:
        """(x shape, y shape or None, y numpy dtype or None), shapes without the batch axis."""
        raise NotImplementedError

    def _elements(self, shuffle: bool = False, seed: int = 0):
        """Unbatched tf.data.Dataset of (x, y) (x alone without labels) in source order."""
        raise NotImplementedError

    def sample_name(self, i: int) -> str:
        """' (file ...)' for sample i where the source knows it, else ''."""
        return ""

    def _subset(self, mask: np.ndarray, name: str, where: str) -> "Split":
        raise NotImplementedError

    # ---- the API
    @property
    def samples(self) -> int:
        if self._n is None:
            self._n = int(self._count())
        return self._n

    @property
    def element_shape(self) -> tuple:
        return self._specs()[0]

    @property
    def label_shape(self) -> Optional[tuple]:
        return self._specs()[1]

    @property
    def has_labels(self) -> bool:
        return self._specs()[1] is not None

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0):
        """A batched, prefetched `tf.data.Dataset` of (x, y) — shuffled (seeded, anew every epoch) if asked."""
        tf = _tf()
        return self._elements(shuffle, seed).batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def batches(self, batch_size: int = CHUNK) -> Iterator[tuple]:
        """numpy (x, y) batches in source order (y None without labels); streams, reads each sample once."""
        tf = _tf()
        it = self.dataset(batch_size).as_numpy_iterator()
        start = 0
        labels = self.has_labels
        while True:
            try:
                b = next(it)
            except StopIteration:
                return
            except tf.errors.OpError as e:
                raise self._read_error(e, start, start + int(batch_size)) from None
            x, y = b if labels else (b, None)
            start += len(x)
            yield x, y

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        """x of n samples drawn deterministically (fewer when the split is smaller); see the module doc."""
        tf = _tf()
        n = int(n)
        ds = self._elements().shuffle(min(SHUFFLE_BUFFER, max(1_000, 10 * n)), seed=int(seed),
                                      reshuffle_each_iteration=False).take(n)
        return self._collect_x(ds, tf)

    def first(self, n: int = 1) -> np.ndarray:
        """x of the first n samples."""
        tf = _tf()
        return self._collect_x(self._elements().take(int(n)), tf)

    def _collect_x(self, ds, tf) -> np.ndarray:
        labels = self.has_labels
        xs = []
        try:
            for b in ds.batch(CHUNK).as_numpy_iterator():
                xs.append(b[0] if labels else b)
        except tf.errors.OpError as e:
            # find the bad sample with an ordered pass (raises the located error)
            for _ in self.batches(CHUNK):
                pass
            raise InputError(f"{self.where}: cannot read samples: {_tf_message(e)}") from None
        if not xs:
            raise InputError(f"{self.where}: no samples")
        return np.concatenate(xs, axis=0)

    @property
    def x(self) -> np.ndarray:
        """All inputs as one array (materialised on first use; prefer batches())."""
        return self._materialise()[0]

    @property
    def y(self) -> Optional[np.ndarray]:
        """All labels as one array (materialised on first use; prefer batches())."""
        return self._materialise()[1]

    def _materialise(self) -> tuple:
        if self._cache is None:
            xs, ys = [], []
            for x, y in self.batches(CHUNK):
                xs.append(x)
                if y is not None:
                    ys.append(y)
            if not xs:
                raise InputError(f"{self.where}: no samples")
            self._cache = (np.concatenate(xs), np.concatenate(ys) if ys else None)
            self._n = len(self._cache[0])
        return self._cache

    def split_off(self, fraction: float, seed: int, name: str = "eval") -> tuple["Split", "Split"]:
        """(rest, held out): exactly round(fraction * n) samples held out, chosen by
        numpy.random.default_rng(seed).permutation(n)[:k]; both keep the source's order."""
        n = self.samples
        k = int(round(float(fraction) * n))
        if k <= 0 or k >= n:
            raise InputError(f"data.eval.validation_split: {fraction} of the {n} samples of {self.where} leaves "
                             f"{'no samples to evaluate' if k <= 0 else 'no samples to train on'}")
        held = np.zeros(n, dtype=bool)
        held[np.random.default_rng(int(seed)).permutation(n)[:k]] = True
        rest = self._subset(~held, self.name, self.where)
        ev = self._subset(held, name, f"data.{name} (validation_split of {self.where})")
        return rest, ev

    # ---- errors
    def _locate(self, start: int, stop: int) -> Optional[int]:
        """Index of the first sample in [start, stop) that cannot be read, or None."""
        tf = _tf()
        it = iter(self._elements().skip(start).take(max(0, stop - start)))
        i = start
        while True:
            try:
                next(it)
            except StopIteration:
                return None
            except tf.errors.OpError:
                return i
            i += 1

    def _read_error(self, e: BaseException, start: int, stop: int) -> InputError:
        try:
            j = self._locate(start, stop)
        except Exception:  # noqa: BLE001 - the original error is what matters
            j = None
        if j is None:
            return InputError(f"{self.where}: cannot read samples {start}..{stop - 1}: {_tf_message(e)}")
        return InputError(f"{self.where}: cannot read sample {j}{self.sample_name(j)}: {_tf_message(e)}")

    def __repr__(self) -> str:
        n = self._n if self._n is not None else "?"
        return f"<{type(self).__name__} {self.where}: {n} samples>"


# ------------------------------------------------------------------------------------------- npz


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
        return _shape(self._xa.shape[1:]), _shape(self._ya.shape[1:]), self._ya.dtype

    def _rows(self, ids: np.ndarray) -> tuple:
        ids = np.asarray(ids, dtype=np.int64)
        rows = ids if self._index is None else self._index[ids]
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
            sl = slice(int(rows[0]), int(rows[-1]) + 1)  # contiguous: a slice reads a memmap sequentially
            x, y = self._xa[sl], self._ya[sl]
        else:
            x, y = self._xa[rows], self._ya[rows]
        return np.asarray(x, dtype=np.float32), np.asarray(y)

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
            x, y = tf.numpy_function(self._rows, [i], (tf.float32, tdt), stateful=False)
            x.set_shape((None,) + xshape)
            y.set_shape((None,) + yshape)
            return x, y

        return ids.batch(int(batch_size)).map(load).prefetch(tf.data.AUTOTUNE)

    def _elements(self, shuffle: bool = False, seed: int = 0):
        return self.dataset(CHUNK, shuffle, seed).unbatch()

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(int(seed))
        m = min(int(n), self.samples)
        idx = np.sort(rng.choice(self.samples, size=m, replace=False))
        return self._rows(idx)[0]

    def first(self, n: int = 1) -> np.ndarray:
        return self._rows(np.arange(min(int(n), self.samples)))[0]

    def _materialise(self) -> tuple:
        if self._cache is None:
            if self._index is None and self._xa.dtype == np.float32 and not isinstance(self._xa, np.memmap):
                self._cache = (self._xa, np.asarray(self._ya))
            else:
                self._cache = self._rows(np.arange(self.samples))
        return self._cache

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


def _load_npz(name: str, src, where: str, **_) -> Split:
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


# ------------------------------------------------------------------------------------- image_dir


class ImageDirSplit(Split):
    """image_dir: image files with class labels, decoded and resized as they stream."""

    random_access = True

    def __init__(self, name, source, files: np.ndarray, labels: np.ndarray, class_names: list[str],
                 index: Optional[np.ndarray] = None, where: Optional[str] = None):
        super().__init__(name, source, where)
        self.files, self.labels, self.class_names, self._index = files, labels, class_names, index
        h, w = source.image_size
        self._xshape = (int(h), int(w), 1 if source.color_mode == "grayscale" else 3)

    def _ids(self) -> np.ndarray:
        return np.arange(len(self.files)) if self._index is None else self._index

    def _count(self) -> int:
        return len(self._ids())

    def _specs(self) -> tuple:
        return self._xshape, (), np.dtype(np.int64)

    def _decode_fn(self):
        tf = _tf()
        src = self.source
        h, w, c = self._xshape
        scale, offset = tf.constant(src.scale, tf.float32), tf.constant(src.offset, tf.float32)
        method = src.interpolation

        def decode(path, label):
            img = tf.io.decode_image(tf.io.read_file(path), channels=c, expand_animations=False, dtype=tf.uint8)
            img.set_shape([None, None, c])
            same = tf.reduce_all(tf.equal(tf.shape(img)[:2], [h, w]))
            img = tf.cond(same, lambda: tf.cast(img, tf.float32),
                          lambda: tf.cast(tf.image.resize(img, [h, w], method=method), tf.float32))
            x = tf.ensure_shape(img * scale + offset, [h, w, c])
            return x, label

        return decode

    def _from_ids(self, ids: np.ndarray, shuffle: bool = False, seed: int = 0):
        tf = _tf()
        ds = tf.data.Dataset.from_tensor_slices((self.files[ids], self.labels[ids]))
        if shuffle:  # file names only: shuffled completely, anew every epoch
            ds = ds.shuffle(max(1, len(ids)), seed=int(seed), reshuffle_each_iteration=True)
        return ds.map(self._decode_fn(), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _elements(self, shuffle: bool = False, seed: int = 0):
        return self._from_ids(self._ids(), shuffle, seed)

    def _read_x(self, ids: np.ndarray) -> np.ndarray:
        tf = _tf()
        out = []
        try:
            for x, _ in self._from_ids(self._ids()[ids]).batch(CHUNK).as_numpy_iterator():
                out.append(x)
        except tf.errors.OpError as e:
            bad = self._locate_files(self._ids()[ids])
            raise InputError(f"{self.where}: cannot read image {bad}: {_tf_message(e)}" if bad else
                             f"{self.where}: cannot read images: {_tf_message(e)}") from None
        return np.concatenate(out) if out else np.zeros((0,) + self._xshape, np.float32)

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(int(seed))
        m = min(int(n), self.samples)
        return self._read_x(np.sort(rng.choice(self.samples, size=m, replace=False)))

    def first(self, n: int = 1) -> np.ndarray:
        return self._read_x(np.arange(min(int(n), self.samples)))

    def _locate_files(self, file_ids) -> Optional[str]:
        tf = _tf()
        decode = self._decode_fn()
        for k in file_ids:
            try:
                decode(tf.constant(self.files[k]), tf.constant(self.labels[k]))
            except (tf.errors.OpError, ValueError):
                return str(self.files[k])
        return None

    def _locate(self, start: int, stop: int) -> Optional[int]:
        tf = _tf()
        decode = self._decode_fn()
        ids = self._ids()
        for j in range(start, min(stop, len(ids))):
            try:
                decode(tf.constant(self.files[ids[j]]), tf.constant(self.labels[ids[j]]))
            except (tf.errors.OpError, ValueError):
                return j
        return None

    def sample_name(self, i: int) -> str:
        return f" ({self.files[self._ids()[i]]})"

    def _subset(self, mask, name, where):
        return ImageDirSplit(name, self.source, self.files, self.labels, self.class_names, self._ids()[mask], where)


def _load_image_dir(name: str, src, where: str, **_) -> Split:
    root = Path(src.path)
    if not root.exists():
        raise InputError(f"{where}.path: {root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{where}.path: {root}: not a folder (image_dir reads one subfolder per class)")
    try:
        if src.class_names:
            classes = list(src.class_names)
            for c in classes:
                if not (root / c).is_dir():
                    raise InputError(f"{where}.class_names: no folder '{c}' in {root}")
        else:
            classes = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    except OSError as e:
        raise InputError(f"{where}.path: {root}: cannot list the folder ({e.strerror or e})") from None
    if not classes:
        raise InputError(f"{where}.path: {root}: no class subfolders (image_dir reads one folder per class, "
                         f"e.g. {root / 'cat'}/*.png)")
    files: list[str] = []
    labels: list[int] = []
    for i, c in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(root / c, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
                    files.append(os.path.join(dirpath, f))
                    labels.append(i)
    if not files:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise InputError(f"{where}.path: {root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders "
                         f"({shown})")
    for f in files:  # cheap up-front check: every file starts like an image (12 bytes each)
        try:
            with open(f, "rb") as fh:
                head = fh.read(12)
        except OSError as e:
            raise InputError(f"{where}: cannot read image {f} ({e.strerror or e})") from None
        if not head.startswith(_IMAGE_MAGIC):
            what = "an empty file" if not head else "not a PNG, JPEG, GIF or BMP image"
            raise InputError(f"{where}: cannot read image {f}: {what} (unreadable or corrupt)")
    return ImageDirSplit(name, src, np.array(files), np.array(labels, dtype=np.int64), classes, where=where)


# ------------------------------------------------------------------------------ streamed sources


class StreamSplit(Split):
    """tfrecord, tfds, python: read front to back; a validation split keeps a mask over source order."""

    def __init__(self, name, source, make, specs: tuple, where: Optional[str] = None, count=None,
                 keep: Optional[np.ndarray] = None, describe=None):
        super().__init__(name, source, where)
        self.unbatched: Optional[bool] = None  # python sources: whether the loader unbatched the dataset
        self._make, self._spec_t, self._count_fn, self._keep, self._describe = make, specs, count, keep, describe

    def _specs(self) -> tuple:
        return self._spec_t

    def _base(self):
        return self._make()

    def _count(self) -> int:
        if self._keep is not None:
            return int(self._keep.sum())
        tf = _tf()
        card = int(self._base().cardinality())
        if card == int(tf.data.INFINITE_CARDINALITY):
            raise InputError(f"{self.where}: the dataset is infinite (does it call .repeat()?); give a finite one")
        if card >= 0:
            return card
        if self._count_fn is not None:
            return int(self._count_fn())
        n = 0
        for x, _ in self.batches(CHUNK):
            n += len(x)
        return n

    def _elements(self, shuffle: bool = False, seed: int = 0):
        tf = _tf()
        ds = self._base()
        if self._keep is not None:
            keep = tf.constant(self._keep)
            ds = ds.enumerate().filter(lambda i, e: tf.gather(keep, i)).map(lambda i, e: e)
        if shuffle:
            n = self._n if self._n is not None else SHUFFLE_BUFFER
            ds = ds.shuffle(max(1, min(SHUFFLE_BUFFER, n)), seed=int(seed), reshuffle_each_iteration=True)
        return ds

    def _source_index(self, i: int) -> int:
        if self._keep is None:
            return i
        pos = np.flatnonzero(self._keep)
        return int(pos[i]) if i < len(pos) else i

    def sample_name(self, i: int) -> str:
        j = self._source_index(i)
        desc = self._describe(j) if self._describe else ""
        if j != i:
            return f" (sample {j} of the source{', ' + desc if desc else ''})"
        return f" ({desc})" if desc else ""

    def _subset(self, mask, name, where):
        n_base = len(self._keep) if self._keep is not None else self.samples
        keep = np.zeros(n_base, dtype=bool)
        pos = np.flatnonzero(self._keep) if self._keep is not None else np.arange(n_base)
        keep[pos[mask]] = True
        out = StreamSplit(name, self.source, self._make, self._spec_t, where, self._count_fn, keep, self._describe)
        out.unbatched = self.unbatched
        return out


def _list_files(where: str, pattern: str) -> list[str]:
    import glob

    if re.search(r"[*?\[]", pattern):
        files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
        if not files:
            raise InputError(f"{where}.path: no file matches {pattern}")
        return files
    if not os.path.exists(pattern):
        raise InputError(f"{where}.path: {pattern}: no such file")
    if not os.path.isfile(pattern):
        raise InputError(f"{where}.path: {pattern}: not a file (give a file or a glob such as DIR/*.tfrecord)")
    return [pattern]


_KIND = {"float_list": "a float list", "int64_list": "an int64 list", "bytes_list": "bytes"}


def _spec_text(spec) -> str:
    if spec.encoding is None:
        return f"{'an' if spec.dtype == 'int64' else 'a'} {spec.dtype} list of shape {list(spec.shape)}"
    if spec.encoding == "raw":
        return f"raw {spec.dtype} bytes of shape {list(spec.shape)}"
    return f"a {spec.encoding} image of shape {list(spec.shape)}"


def _check_feature(where: str, key: str, spec, example, file: str) -> None:
    """Compare one feature of the first record with its spec: present, same kind, right number of values."""
    tf = _tf()
    at = f"{where}.features.{key}"
    feats = example.features.feature
    if key not in feats:
        raise InputError(f"{at}: the records have no feature '{key}' (the first record of {file} has: "
                         f"{', '.join(sorted(feats)) or 'no features'})")
    f = feats[key]
    kind = f.WhichOneof("kind")
    want = {"float32": "float_list", "int64": "int64_list"}.get(spec.dtype) if spec.encoding is None else "bytes_list"
    if kind != want:
        raise InputError(f"{at}: the records hold {_KIND.get(kind, 'nothing')} but the spec says {_spec_text(spec)}")
    size = int(np.prod(spec.shape)) if spec.shape else 1
    if spec.encoding is None:
        got = len(getattr(f, kind).value)
        if got != size:
            raise InputError(f"{at}: the first record has {got} values but the spec's shape {list(spec.shape)} "
                             f"needs {size}")
        return
    vals = f.bytes_list.value
    if len(vals) != 1:
        raise InputError(f"{at}: the first record has {len(vals)} byte strings; the spec needs exactly one")
    data = vals[0]
    if spec.encoding == "raw":
        want_bytes = size * np.dtype(spec.dtype).itemsize
        if len(data) != want_bytes:
            raise InputError(f"{at}: the first record has {len(data)} bytes but {_spec_text(spec)} needs {want_bytes}")
        return
    try:
        img = tf.io.decode_image(data, channels=spec.shape[-1], expand_animations=False)
    except (tf.errors.OpError, ValueError) as e:
        raise InputError(f"{at}: the first record's bytes are not a readable {spec.encoding} image "
                         f"({_tf_message(e)})") from None
    if list(img.shape[:2]) != list(spec.shape[:2]):
        raise InputError(f"{at}: the first record's image is {img.shape[0]}x{img.shape[1]} but the spec's shape "
                         f"is {list(spec.shape)}")


def _load_tfrecord(name: str, src, where: str, **_) -> Split:
    files = _list_files(where, src.path)
    tf = _tf()
    comp = src.compression or ""
    first, first_file = None, files[0]
    for f in files:
        try:
            for raw in tf.data.TFRecordDataset(f, compression_type=comp).take(1):
                first, first_file = raw.numpy(), f
        except tf.errors.OpError as e:
            raise InputError(f"{where}.path: {f}: not a readable TFRecord file ({_tf_message(e)})") from None
        if first is not None:
            break
    if first is None:
        raise InputError(f"{where}.path: {src.path}: no records in {len(files)} file{'s' if len(files) > 1 else ''}")
    try:
        example = tf.train.Example.FromString(first)
    except Exception:  # noqa: BLE001 - google.protobuf.message.DecodeError
        raise InputError(f"{where}.path: {first_file}: the records are not tf.train.Example protos") from None
    keys = [src.x] + ([src.y] if src.y is not None else [])
    for k in keys:
        if k not in src.features:
            raise InputError(f"{where}.{'x' if k == src.x else 'y'}: '{k}' is not in features")
        _check_feature(where, k, src.features[k], example, first_file)

    parse_spec = {}
    for k in keys:
        sp = src.features[k]
        parse_spec[k] = (tf.io.FixedLenFeature(sp.shape, tf.as_dtype(sp.dtype)) if sp.encoding is None
                         else tf.io.FixedLenFeature([], tf.string))
    scale, offset = float(src.scale), float(src.offset)

    def value(t, sp):
        if sp.encoding == "raw":
            return tf.reshape(tf.io.decode_raw(t, tf.as_dtype(sp.dtype)), sp.shape)
        if sp.encoding == "png":
            return tf.ensure_shape(tf.io.decode_png(t, channels=sp.shape[-1]), sp.shape)
        if sp.encoding == "jpeg":
            return tf.ensure_shape(tf.io.decode_jpeg(t, channels=sp.shape[-1]), sp.shape)
        return t

    xs, ys = src.features[src.x], (src.features[src.y] if src.y is not None else None)

    def parse(raw):
        d = tf.io.parse_single_example(raw, parse_spec)
        x = tf.cast(value(d[src.x], xs), tf.float32) * scale + offset
        if ys is None:
            return x
        return x, value(d[src.y], ys)

    def make():
        return tf.data.TFRecordDataset(files, compression_type=comp).map(
            parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    counts: dict[str, int] = {}

    def count_file(f) -> int:
        if f not in counts:
            try:
                counts[f] = int(tf.data.TFRecordDataset(f, compression_type=comp).reduce(np.int64(0), lambda c, _: c + 1))
            except tf.errors.OpError as e:
                raise InputError(f"{where}.path: {f}: corrupt TFRecord file ({_tf_message(e)})") from None
        return counts[f]

    def count() -> int:
        return sum(count_file(f) for f in files)

    def describe(i: int) -> str:
        for f in files:
            try:
                c = count_file(f)
            except InputError:
                return f"in {f}"
            if i < c:
                return f"record {i} of {f}"
            i -= c
        return ""

    specs = (tuple(xs.shape), tuple(ys.shape) if ys is not None else None,
             np.dtype(ys.dtype) if ys is not None else None)
    return StreamSplit(name, src, make, specs, where, count=count, describe=describe)


# ------------------------------------------------------------------------------------------- tfds


def _tfds_dir(where: str, src) -> Path:
    """The prepared folder data_dir/name[/config]/version that holds dataset_info.json."""
    name, _, version = src.name.partition(":")
    root = Path(src.data_dir) / name
    looked = root / version if version else root

    def is_version(p: Path) -> bool:
        return re.fullmatch(r"\d+\.\d+\.\d+", p.name) is not None and (p / "dataset_info.json").is_file()

    def newest(d: Path) -> Optional[Path]:
        try:
            vs = [p for p in d.iterdir() if p.is_dir() and is_version(p)]
        except OSError:
            return None
        return max(vs, key=lambda p: tuple(int(v) for v in p.name.split("."))) if vs else None

    if version:
        if (root / version / "dataset_info.json").is_file():
            return root / version
    else:
        found = newest(root) if root.is_dir() else None
        if found is not None:
            return found
        if root.is_dir() and "/" not in name:  # a dataset with configs: data_dir/name/<config>/<version>
            configs = sorted(p.name for p in root.iterdir() if p.is_dir() and newest(p) is not None)
            if len(configs) == 1:
                return newest(root / configs[0])
            if configs:
                raise InputError(f"{where}.name: '{name}' has several configs in {root} ({', '.join(configs)}); "
                                 f"name one, e.g. {name}/{configs[0]}")
    raise InputError(f"{where}: tfds dataset '{src.name}' is not prepared in {looked} (no dataset_info.json "
                     f"there); prepare it where there is network access (tfds build {name} --data_dir "
                     f"{src.data_dir}) and copy the folder — optimize-cli never downloads")


def _load_tfds(name: str, src, where: str, **_) -> Split:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise InputError(f"{where}: type tfds needs the tensorflow-datasets package, which is not installed: "
                         "pip install tensorflow-datasets") from None
    tf = _tf()
    folder = _tfds_dir(where, src)
    try:
        builder = tfds.builder_from_directory(str(folder))
    except Exception as e:  # noqa: BLE001 - tfds raises many kinds
        raise InputError(f"{where}: cannot open the tfds dataset in {folder} ({type(e).__name__}: {e})") from None
    info = builder.info
    supervised = src.x is None and src.y is None
    if supervised and not info.supervised_keys:
        raise InputError(f"{where}: tfds dataset '{src.name}' has no supervised keys; set x and y to features "
                         f"({', '.join(info.features.keys())})")
    if src.x is None and src.y is not None:
        raise InputError(f"{where}.x: required when y is given (features: {', '.join(info.features.keys())})")
    for k in ("x", "y"):
        key = getattr(src, k)
        if key is not None and key not in info.features.keys():
            raise InputError(f"{where}.{k}: '{key}' is not a feature of {src.name} (features: "
                             f"{', '.join(info.features.keys())})")
    try:
        raw = builder.as_dataset(split=src.split, shuffle_files=False, as_supervised=supervised)
    except Exception as e:  # noqa: BLE001 - unknown split, bad slice, missing files
        raise InputError(f"{where}.split: '{src.split}' cannot be read from {folder} (splits: "
                         f"{', '.join(info.splits.keys())}; {type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    scale, offset = float(src.scale), float(src.offset)
    if supervised:
        ds = raw.map(lambda x, y: (tf.cast(x, tf.float32) * scale + offset, y))
    elif src.y is None:
        ds = raw.map(lambda d: tf.cast(d[src.x], tf.float32) * scale + offset)
    else:
        ds = raw.map(lambda d: (tf.cast(d[src.x], tf.float32) * scale + offset, d[src.y]))
    spec = ds.element_spec
    xs, ys = (spec if isinstance(spec, tuple) else (spec, None))
    specs = (_shape(xs.shape), _shape(ys.shape) if ys is not None else None,
             np.dtype(ys.dtype.as_numpy_dtype) if ys is not None else None)
    return StreamSplit(name, src, lambda: ds, specs, where, describe=lambda i: f"{src.name} {src.split}")


# ----------------------------------------------------------------------------------------- python


def _load_python(name: str, src, where: str, allow_code: bool = False, **_) -> Split:
    if not allow_code:
        raise RecipeError(f"{where}: python data sources run code from the recipe; pass --allow-code to allow it")
    tf = _tf()  # TF_USE_LEGACY_KERAS before the user's module imports TensorFlow
    mod_name, _, fn_name = src.function.partition(":")
    if src.path:
        p = str(Path(src.path))
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - whatever the user's module raises
        raise InputError(f"{where}.function: cannot import {mod_name} ({type(e).__name__}: {e})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise InputError(f"{where}.function: {mod_name} has no function {fn_name}")
    try:
        ds = fn(**src.kwargs)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{where}.function: {src.function} raised {type(e).__name__}: {e}") from None
    if not isinstance(ds, tf.data.Dataset):
        raise InputError(f"{where}.function: {src.function} returned {type(ds).__name__}, expected a "
                         "tf.data.Dataset of (x, y)")
    spec = ds.element_spec
    if isinstance(spec, dict) and "x" in spec and set(spec) <= {"x", "y"}:
        ds = ds.map(lambda d: (d["x"], d["y"]) if "y" in d else d["x"])
        spec = ds.element_spec
    if isinstance(spec, (tuple, list)) and len(spec) == 1:
        ds = ds.map(lambda *t: t[0])
        spec = ds.element_spec
    if isinstance(spec, tf.TensorSpec):
        xs, ys = spec, None
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec):
        xs, ys = spec
    else:
        raise InputError(f"{where}.function: {src.function} returned a dataset of {spec}; expected (x, y) pairs "
                         "of single tensors (or x alone, for calibration)")
    batched = src.batched
    if batched is None:  # a batched dataset has an unknown leading dimension (batch without drop_remainder)
        batched = xs.shape.rank is not None and xs.shape.rank >= 1 and xs.shape[0] is None
    if batched:
        if xs.shape.rank == 0 or (ys is not None and ys.shape.rank == 0):
            raise InputError(f"{where}: batched: true, but the dataset yields single values")
        ds = ds.unbatch()
    if ys is None:
        ds = ds.map(lambda x: tf.cast(x, tf.float32))
    else:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
    if int(ds.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise InputError(f"{where}: {src.function} returned an infinite dataset (does it call .repeat()?); "
                         "give a finite one")
    spec = ds.element_spec
    xs, ys = (spec if isinstance(spec, tuple) else (spec, None))
    specs = (_shape(xs.shape), _shape(ys.shape) if ys is not None else None,
             np.dtype(ys.dtype.as_numpy_dtype) if ys is not None else None)
    split = StreamSplit(name, src, lambda: ds, specs, where)
    split.unbatched = bool(batched)
    return split


# ------------------------------------------------------------------------------------------ loading


_LOADERS = {"npz": _load_npz, "image_dir": _load_image_dir, "tfrecord": _load_tfrecord, "tfds": _load_tfds,
            "python": _load_python}


def load_split(name: str, src, *, allow_code: bool = False, validation=None) -> Split:
    """Load `data.<name>` from its source. `validation` (a recipe ValidationSplit) holds out part of it:
    the held-out part for name 'eval', the rest otherwise (deterministic: both calls agree)."""
    if src.type == "validation_split":
        raise RecipeError(f"data.{name}: validation_split is split off data.train; use load_splits(recipe.data)")
    split = _LOADERS[src.type](name, src, f"data.{name}", allow_code=allow_code)
    if validation is not None:
        rest, held = split.split_off(validation.validation_split, validation.seed)
        return held if name == "eval" else rest
    if name in ("train", "eval") and not split.has_labels:
        raise InputError(f"data.{name}: the source gives inputs only (no labels); {name} needs (x, y) pairs")
    return split


def load_splits(data, *, allow_code: bool = False) -> dict[str, Split]:
    """Every split a recipe's `data` section names: {'train', 'eval', 'representative'} (those present).
    `data.eval: {validation_split: f}` splits data.train into 'train' (the rest) and 'eval'."""
    data.require_allow_code(allow_code)
    out: dict[str, Split] = {}
    if data.train is not None:
        out["train"] = load_split("train", data.train, allow_code=allow_code)
    ev = data.eval
    if ev is not None and ev.type == "validation_split":
        if "train" not in out:
            raise RecipeError("data.eval.validation_split: needs data.train: it holds out part of data.train")
        out["train"], out["eval"] = out["train"].split_off(ev.validation_split, ev.seed)
    elif ev is not None:
        out["eval"] = load_split("eval", ev, allow_code=allow_code)
    if data.representative is not None:
        out["representative"] = load_split("representative", data.representative, allow_code=allow_code)
    return out


def source_files(src) -> list[Path]:
    """The files a source reads (for fingerprints); [] where they cannot be named (python)."""
    t = getattr(src, "type", None)
    try:
        if t == "npz":
            return [Path(src.path)]
        if t == "image_dir":
            root = Path(src.path)
            return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if t == "tfrecord":
            return [Path(f) for f in _list_files("data", src.path)]
        if t == "tfds":
            name, _, version = src.name.partition(":")
            root = Path(src.data_dir) / name
            return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    except (OSError, InputError):
        return []
    return []


# ------------------------------------------------------------------------------------------- checks


def resolve_output(output, output_names, n_outputs: int) -> int:
    """Index of `evaluation.output` (a name or an index) among the model's outputs; 0 when not given."""
    names = list(output_names or [])
    if output is None:
        return 0
    if isinstance(output, int) and not isinstance(output, bool):
        if output >= n_outputs:
            raise InputError(f"evaluation.output: {output} is out of range: the model has {n_outputs} output"
                             f"{'s' if n_outputs != 1 else ''}{' (' + ', '.join(names) + ')' if names else ''}")
        return output
    if output in names:
        return names.index(output)
    raise InputError(f"evaluation.output: '{output}' is not an output of the model (outputs: "
                     f"{', '.join(names) or 'unnamed'})")


def _compatible(got: tuple, want: tuple) -> bool:
    return len(got) == len(want) and all(w is None or g is None or w == g for g, w in zip(got, want, strict=False))


def _multi(shape) -> bool:
    return isinstance(shape, list) and bool(shape) and isinstance(shape[0], (tuple, list))


def check_against_model(split: Split, input_shape, output_shape, classification: bool, *, output=None,
                        output_names=None, scan: bool = True, batch_size: int = CHUNK) -> None:
    """The split must fit the model: sample shape = input shape, label shape fits the output (the one
    `output` names for models with several), and — in one streaming pass when `scan` — every input finite,
    every label finite and, for classifiers, a class the model has. Exit 3 naming the split, and the sample
    index and file where one is at fault. The pass also counts the samples (split.samples is then free)."""
    where = split.where
    want = None
    if input_shape is not None:
        if _multi(input_shape):
            if len(input_shape) != 1:
                raise InputError(f"{where}: the model has {len(input_shape)} inputs; data sources give one input")
            input_shape = input_shape[0]
        want = _shape(input_shape[1:])
        got = split.element_shape
        if not _compatible(got, want):
            hint = ""
            unbatched = getattr(split, "unbatched", None)
            if unbatched is False and len(got) == len(want) + 1:
                hint = " (if the dataset yields batches, set batched: true)"
            elif unbatched is True and len(got) + 1 == len(want):
                hint = " (the dataset was taken as batched and unbatched; set batched: false if it yields single samples)"
            raise InputError(f"{where}: samples have shape {got} but the model's input is {_shape(input_shape)} "
                             f"(without the batch axis: {want}){hint}")
    if _multi(output_shape):
        output_shape = output_shape[resolve_output(output, output_names, len(output_shape))]
    elif output is not None and output_shape is not None:
        resolve_output(output, output_names, 1)  # a single output: the name or index must still be right
    yshape = split.label_shape
    kind, units = None, None
    if yshape is not None and output_shape is not None:
        out = _shape(output_shape[1:])
        units = out[-1] if out else None
        if classification and units and units > 1:
            if yshape in ((), (1,)):
                kind = "sparse"
            elif _compatible(yshape, out):
                kind = "onehot"
            else:
                raise InputError(f"{where}: labels have shape {yshape} but the model's output is "
                                 f"{_shape(output_shape)} (labels are class indices 0..{units - 1} or one-hot "
                                 f"vectors of {units})")
        else:
            same = _compatible(yshape, out) or (None not in yshape and None not in out
                                                and int(np.prod(yshape)) == int(np.prod(out)))
            if not same:
                raise InputError(f"{where}: labels have shape {yshape} but the model's output is "
                                 f"{_shape(output_shape)} (without the batch axis: {out})")
            kind = "binary" if classification else "values"
    if scan:
        _scan(split, want, kind, units, batch_size)


def _scan(split: Split, want: Optional[tuple], kind: Optional[str], units: Optional[int], batch_size: int) -> None:
    where = split.where
    check_dims = want is not None and None in split.element_shape
    n = 0
    for x, y in split.batches(batch_size):
        m = len(x)
        if check_dims and not _compatible(_shape(x.shape[1:]), want):
            raise InputError(f"{where}: sample {n}{split.sample_name(n)} has shape {_shape(x.shape[1:])} but the "
                             f"model's input is {want} without the batch axis")
        bad = ~np.isfinite(x.reshape(m, -1)).all(axis=1)
        if bad.any():
            i = n + int(np.argmax(bad))
            raise InputError(f"{where}: sample {i}{split.sample_name(i)} has NaN or infinite input values")
        if y is not None and m:
            yf = np.asarray(y).reshape(m, -1)
            if yf.dtype.kind == "f":
                bad = ~np.isfinite(yf).all(axis=1)
                if bad.any():
                    i = n + int(np.argmax(bad))
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has a NaN or infinite label")
            if kind == "sparse":
                v = yf[:, 0]
                bad = (v != np.round(v)) | (v < 0) | (v >= units) if yf.dtype.kind == "f" else (v < 0) | (v >= units)
                if bad.any():
                    k = int(np.argmax(bad))
                    i, lab = n + k, v[k]
                    lab = int(lab) if float(lab).is_integer() else float(lab)
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has label {lab} but the model has "
                                     f"{units} outputs (labels must be 0..{units - 1})")
            elif kind == "binary":
                bad = ((yf < 0) | (yf > 1)).any(axis=1)
                if bad.any():
                    k = int(np.argmax(bad))
                    i = n + k
                    lab = yf[k].tolist()
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has label "
                                     f"{lab[0] if len(lab) == 1 else lab} but binary classification labels must "
                                     "be in 0..1")
        n += m
    if n == 0:
        raise InputError(f"{where}: no samples")
    split._n = n


def representative_sample(split: Split, n: int, seed: int) -> np.ndarray:
    """n samples drawn deterministically for int8 / int16x8 calibration (see Split.take)."""
    return split.take(n, seed)
