"""type: tfrecord — tf.train.Example records in TFRecord files: the source models, the path check, the
files, the loader.

Sample order: files in sorted order, records in file order. The first record is checked against the
feature specs before anything streams."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import numpy as np
from pydantic import Field, model_validator

from ..errors import InputError
from ..safe_files import input_problem
from ..strict import Scale, Strict
from .common import scaled, tf_message
from .common import tf as _tf
from .paths import Finding, Show, glob_paths, is_dir, is_glob, resolve_path, show_path
from .split import Split, StreamSplit

TYPE = "tfrecord"
#: TFRecord element types: numbers in a value list (no encoding), or bytes (raw / png / jpeg)
_LIST_DTYPES = ("float32", "int64")


class FeatureSpec(Strict):
    """One feature of a tf.train.Example: how to parse it and its shape per sample."""

    dtype: Optional[Literal["float32", "int64", "uint8", "int8", "int16", "int32", "float16", "float64"]] = Field(
        None, description="Element type: float32 or int64 for value lists (default float32); any numeric type "
        "for encoding raw; uint8 for png/jpeg (the default there).")
    shape: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, description="Shape of one sample ([] for a scalar label); png/jpeg: [h, w, channels].")
    encoding: Optional[Literal["png", "jpeg", "raw"]] = Field(
        None, description="null: a float/int64 value list; raw: bytes of `dtype` (tf.io.decode_raw); png/jpeg: an "
        "encoded image (decoded to uint8 with shape[-1] channels).")

    @model_validator(mode="after")
    def _consistent(self):
        if self.encoding is None:
            if self.dtype is None:
                self.dtype = "float32"
            elif self.dtype not in _LIST_DTYPES:
                raise ValueError(f"dtype ({self.dtype}) cannot be a value list (those hold float32 or int64); "
                                 "use encoding: raw for bytes of another type")
        elif self.encoding in ("png", "jpeg"):
            if self.dtype is None:
                self.dtype = "uint8"
            elif self.dtype != "uint8":
                raise ValueError(f"dtype ({self.dtype}) must be uint8 for {self.encoding} images")
            if len(self.shape) != 3 or self.shape[-1] not in (1, 3):
                raise ValueError(f"shape ({self.shape}) must be [height, width, channels] with 1 or 3 channels for "
                                 f"{self.encoding} images")
        elif self.dtype is None:
            raise ValueError("dtype (null) is required with encoding: raw: the type of the stored bytes")
        return self


class TfrecordSource(Strict):
    """tf.train.Example records in TFRecord files, parsed with tf.io.parse_single_example: `features`
    describes each feature; `x` and `y` name the input and the label. Files are read in sorted order."""

    type: Literal["tfrecord"]
    path: str = Field(..., description="A .tfrecord file or a glob such as data/train-*.tfrecord (relative to the recipe).")
    features: dict[str, FeatureSpec] = Field(..., min_length=1, description="Feature name → {dtype, shape, encoding}.")
    x: str = Field("x", description="Feature that holds the input.")
    y: Optional[str] = Field("y", description="Feature that holds the label (null: no labels, calibration only).")
    compression: Optional[Literal["GZIP", "ZLIB"]] = Field(None, description="Compression of the files (default none).")
    scale: Scale = Field(1.0, description="x = value * scale + offset (e.g. 1/255 for png/jpeg images).")
    offset: float = Field(0.0, description="x = value * scale + offset.")


MODEL = TfrecordSource


def check(src: TfrecordSource, base: Path, check_paths: bool, show: Show) -> list[Finding]:
    """Resolve the path or glob against the recipe's folder; x and y must be features, the path a file or
    a glob that matches."""
    out: list[Finding] = []
    src.path = resolve_path(base, src.path)
    for key in ("x", "y"):
        name = getattr(src, key)
        if name is not None and name not in src.features:
            out.append(([key], f"'{name}' is not in features (features: {', '.join(src.features)})"))
    if check_paths:
        if is_glob(src.path):
            if not glob_paths(src.path):
                out.append((["path"], f"no file matches {show_path(src.path)}"))
        elif is_dir(src.path):
            out.append((["path"], f"is a folder: {show_path(src.path)}; give a file or a glob such as "
                        "DIR/*.tfrecord"))
        elif (why := input_problem(src.path)) is not None:  # missing, a device, a FIFO, a socket
            out.append((["path"], why))
    return out


def files(src: TfrecordSource) -> list[Path]:
    """The files the loader reads, in its order."""
    return [Path(f) for f in list_files("data", src.path)]


def list_files(where: str, pattern: str) -> list[str]:
    """The files a path or glob names, sorted; exit 3 when there are none."""
    if is_glob(pattern):
        found = sorted(f for f in glob_paths(pattern) if os.path.isfile(f))
        if not found:
            raise InputError(f"{where}.path: no file matches {pattern}")
        return found
    if not os.path.exists(pattern):
        raise InputError(f"{where}.path: {pattern}: no such file")
    if not os.path.isfile(pattern):
        raise InputError(f"{where}.path: {pattern}: not a file (give a file or a glob such as DIR/*.tfrecord)")
    return [pattern]


# ------------------------------------------------------------------------------ the first record


_KIND = {"float_list": "a float list", "int64_list": "an int64 list", "bytes_list": "bytes"}


def _spec_text(spec: FeatureSpec) -> str:
    if spec.encoding is None:
        return f"{'an' if spec.dtype == 'int64' else 'a'} {spec.dtype} list of shape {list(spec.shape)}"
    if spec.encoding == "raw":
        return f"raw {spec.dtype} bytes of shape {list(spec.shape)}"
    return f"a {spec.encoding} image of shape {list(spec.shape)}"


def _check_feature(where: str, key: str, spec: FeatureSpec, example, file: str) -> None:
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
                         f"({tf_message(e)})") from None
    if list(img.shape[:2]) != list(spec.shape[:2]):
        raise InputError(f"{at}: the first record's image is {img.shape[0]}x{img.shape[1]} but the spec's shape "
                         f"is {list(spec.shape)}")


def _first_example(where: str, src: TfrecordSource, files: list[str]) -> tuple:
    """(the first record as a tf.train.Example, the file it is in); exit 3 when there is none."""
    tf = _tf()
    first, first_file = None, files[0]
    for f in files:
        try:
            for raw in tf.data.TFRecordDataset(f, compression_type=src.compression or "").take(1):
                first, first_file = raw.numpy(), f
        except tf.errors.OpError as e:
            raise InputError(f"{where}.path: {f}: not a readable TFRecord file ({tf_message(e)})") from None
        if first is not None:
            break
    if first is None:
        raise InputError(f"{where}.path: {src.path}: no records in {len(files)} file{'s' if len(files) > 1 else ''}")
    try:
        example = tf.train.Example.FromString(first)
    except Exception:  # noqa: BLE001 - google.protobuf.message.DecodeError
        raise InputError(f"{where}.path: {first_file}: the records are not tf.train.Example protos") from None
    return example, first_file


# ------------------------------------------------------------------------------------- streaming


def _parser(src: TfrecordSource):
    """One serialized record → x (scaled float32), or (x, y) when the source has labels."""
    tf = _tf()
    keys = [src.x] + ([src.y] if src.y is not None else [])
    parse_spec = {}
    for k in keys:
        sp = src.features[k]
        parse_spec[k] = (tf.io.FixedLenFeature(sp.shape, tf.as_dtype(sp.dtype)) if sp.encoding is None
                         else tf.io.FixedLenFeature([], tf.string))

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
        x = scaled(value(d[src.x], xs), src)
        if ys is None:
            return x
        return x, value(d[src.y], ys)

    return parse


class _RecordCounts:
    """Records per file, counted on first use: the split's size and where sample i lives."""

    def __init__(self, where: str, files: list[str], compression: str):
        self.where, self.files, self.compression = where, files, compression
        self._counts: dict[str, int] = {}

    def of(self, f: str) -> int:
        if f not in self._counts:
            tf = _tf()
            try:
                self._counts[f] = int(tf.data.TFRecordDataset(f, compression_type=self.compression).reduce(
                    np.int64(0), lambda c, _: c + 1))
            except tf.errors.OpError as e:
                raise InputError(f"{self.where}.path: {f}: corrupt TFRecord file ({tf_message(e)})") from None
        return self._counts[f]

    def total(self) -> int:
        return sum(self.of(f) for f in self.files)

    def describe(self, i: int) -> str:
        for f in self.files:
            try:
                c = self.of(f)
            except InputError:
                return f"in {f}"
            if i < c:
                return f"record {i} of {f}"
            i -= c
        return ""


def load(name: str, src: TfrecordSource, where: str, *, allow_code: bool = False) -> Split:
    """The split from the records: the first one is checked against the specs; exit 3 naming the file,
    the feature or the record that does not fit."""
    files = list_files(where, src.path)
    tf = _tf()
    comp = src.compression or ""
    example, first_file = _first_example(where, src, files)
    for k in [src.x] + ([src.y] if src.y is not None else []):
        if k not in src.features:
            raise InputError(f"{where}.{'x' if k == src.x else 'y'}: '{k}' is not in features")
        _check_feature(where, k, src.features[k], example, first_file)
    parse = _parser(src)

    def make():
        return tf.data.TFRecordDataset(files, compression_type=comp).map(
            parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    counts = _RecordCounts(where, files, comp)
    xs, ys = src.features[src.x], (src.features[src.y] if src.y is not None else None)
    specs = (tuple(xs.shape), tuple(ys.shape) if ys is not None else None,
             np.dtype(ys.dtype) if ys is not None else None)
    return StreamSplit(name, src, make, specs, where, count=counts.total, describe=counts.describe)
