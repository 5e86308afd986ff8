"""type: image_dir — images in one subfolder per class: the source model, its path check, its files,
its loader.

Sample order: files sorted by class (label order) and then by path. Images are decoded and resized as
they stream."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import numpy as np
from pydantic import Field

from ..errors import InputError
from ..safe_files import open_regular
from ..strict import Scale, Strict
from .common import CHUNK, tf_message
from .common import tf as _tf
from .paths import Finding, Show, folder_problem, path_exists, resolve_path
from .split import Split

TYPE = "image_dir"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


class ImageDirSource(Strict):
    """Images in one subfolder per class (`path/<class>/*.png`). Label i is the i-th class folder in sorted
    order (Python string order of the folder names), or the i-th entry of `class_names`. Images of another
    size are resized; pixel values 0..255 become `x = pixel * scale + offset`."""

    type: Literal["image_dir"]
    path: str = Field(..., description="Folder with one subfolder per class (relative to the recipe file).")
    image_size: tuple[Annotated[int, Field(ge=1, le=16384)], Annotated[int, Field(ge=1, le=16384)]] = Field(
        ..., description="[height, width] the images are resized to (the model's input size).")
    color_mode: Literal["grayscale", "rgb"] = Field(
        "rgb", description="grayscale: 1 channel; rgb: 3 channels (images are converted as needed).")
    scale: Scale = Field(1 / 255, description="x = pixel * scale + offset; default 1/255 maps 0..255 to 0..1.")
    offset: float = Field(0.0, description="x = pixel * scale + offset (e.g. scale: 1/127.5, offset: -1 for -1..1).")
    class_names: Optional[list[Annotated[str, Field(min_length=1)]]] = Field(
        None, min_length=1, description="Class folders to read, in label order (default: every subfolder, sorted).")
    interpolation: Literal["bilinear", "nearest", "area", "bicubic"] = Field(
        "bilinear", description="Resize method for images that are not image_size already.")


MODEL = ImageDirSource


def check(src: ImageDirSource, base: Path, check_paths: bool, show: Show) -> list[Finding]:
    """Resolve the path against the recipe's folder; it must be a folder, and class_names folder names."""
    out: list[Finding] = []
    src.path = resolve_path(base, src.path)
    problem = folder_problem(src.path) if check_paths else None
    if problem is not None:
        out.append((["path"], problem + (" (image_dir reads one subfolder per class)"
                                         if path_exists(src.path) else "")))
    seen: set[str] = set()
    for i, c in enumerate(src.class_names or []):
        if c in seen:
            out.append((["class_names", i], f"'{c}' is listed twice"))
        elif c in (".", "..") or "/" in c or "\\" in c or "\x00" in c:
            out.append((["class_names", i], f"must be a folder name, not a path (got {show(c)})"))
        seen.add(c)
    return out


def files(src: ImageDirSource) -> list[Path]:
    """The image files the loader reads, in its order (class, then path): the fingerprint of the data."""
    root = Path(src.path)
    return [Path(f) for f in image_files(root, _classes("image_dir", src, root))[0]]


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
            raise InputError(f"{self.where}: cannot read image {bad}: {tf_message(e)}" if bad else
                             f"{self.where}: cannot read images: {tf_message(e)}") from None
        return self._as_x(np.concatenate(out) if out else np.zeros((0,) + self._xshape, np.float32))

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        return self._read_x(self.random_indices(n, seed))

    def first(self, n: int = 1) -> np.ndarray:
        return self._read_x(np.arange(min(int(n), self.samples)))

    def _first_unreadable(self, file_ids) -> Optional[int]:
        """Position in `file_ids` of the first file that cannot be decoded, or None."""
        tf = _tf()
        decode = self._decode_fn()
        for pos, k in enumerate(file_ids):
            try:
                decode(tf.constant(self.files[k]), tf.constant(self.labels[k]))
            except (tf.errors.OpError, ValueError):
                return pos
        return None

    def _locate_files(self, file_ids) -> Optional[str]:
        pos = self._first_unreadable(file_ids)
        return None if pos is None else str(self.files[file_ids[pos]])

    def _locate(self, start: int, stop: int) -> Optional[int]:
        pos = self._first_unreadable(self._ids()[start:stop])
        return None if pos is None else start + pos

    def sample_name(self, i: int) -> str:
        return f" ({self.files[self._ids()[i]]})"

    def _subset(self, mask, name, where):
        return ImageDirSplit(name, self.source, self.files, self.labels, self.class_names, self._ids()[mask], where)


def _classes(where: str, src: ImageDirSource, root: Path) -> list[str]:
    """The class folders in label order: class_names, else every subfolder sorted (hidden ones skipped)."""
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
    return classes


def image_files(root: Path, classes: list[str]) -> tuple[list[str], list[int]]:
    """(image files, their labels) by class and then by path; hidden files and folders skipped. Linked
    folders are followed, each real folder once per class (a link back up, a loop, is not walked again)."""
    found: list[str] = []
    labels: list[int] = []
    for i, c in enumerate(classes):
        seen: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root / c, followlinks=True):
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
                    found.append(os.path.join(dirpath, f))
                    labels.append(i)
    return found, labels


def _check_magic(where: str, paths: list[str]) -> None:
    """A cheap up-front check: every file starts like an image (12 bytes each)."""
    for f in paths:
        try:
            fd = open_regular(f)  # a FIFO or a device named like an image never blocks or streams
        except InputError as e:
            raise InputError(f"{where}: cannot read image {e}") from None
        try:
            head = os.read(fd, 12)
        except OSError as e:
            raise InputError(f"{where}: cannot read image {f} ({e.strerror or e})") from None
        finally:
            os.close(fd)
        if not head.startswith(_IMAGE_MAGIC):
            what = "an empty file" if not head else "not a PNG, JPEG, GIF or BMP image"
            raise InputError(f"{where}: cannot read image {f}: {what} (unreadable or corrupt)")


def load(name: str, src: ImageDirSource, where: str, *, allow_code: bool = False) -> Split:
    """The split from the class folders: exit 3 naming the folder or the file that cannot be read."""
    root = Path(src.path)
    if not root.exists():
        raise InputError(f"{where}.path: {root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{where}.path: {root}: not a folder (image_dir reads one subfolder per class)")
    classes = _classes(where, src, root)
    found, labels = image_files(root, classes)
    if not found:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise InputError(f"{where}.path: {root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders "
                         f"({shown})")
    _check_magic(where, found)
    return ImageDirSplit(name, src, np.array(found), np.array(labels, dtype=np.int64), classes, where=where)
