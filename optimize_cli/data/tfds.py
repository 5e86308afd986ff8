"""type: tfds — a TensorFlow Datasets dataset already prepared in a local data_dir: the source model, its
path check, its files, its loader. Read with shuffle_files=False; never downloads."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from ..errors import InputError
from ..strict import Scale, Strict
from .common import scaled
from .paths import Finding, Show, folder_problem, resolve_path
from .split import Split, StreamSplit, dataset_specs

TYPE = "tfds"


class TfdsSource(Strict):
    """A TensorFlow Datasets dataset that is already prepared in a local `data_dir` (never downloaded;
    needs `pip install tensorflow-datasets`)."""

    type: Literal["tfds"]
    name: str = Field(..., pattern=r"^[A-Za-z0-9_]+(/[A-Za-z0-9_.+-]+)?(:[0-9]+\.[0-9]+\.[0-9]+)?$",
                      description="Dataset name, optionally with config and version: mnist, my_ds/cfg:1.0.0.")
    split: str = Field("train", min_length=1, description="TFDS split, slicing allowed: train, test, train[:80%].")
    data_dir: str = Field(..., description="Folder the dataset was prepared in (tfds build --data_dir ...).")
    x: Optional[str] = Field(None, description="Feature for the input (default: the dataset's supervised keys).")
    y: Optional[str] = Field(None, description="Feature for the label (default: the dataset's supervised keys).")
    scale: Scale = Field(1.0, description="x = value * scale + offset (e.g. 1/255 for uint8 images).")
    offset: float = Field(0.0, description="x = value * scale + offset.")


MODEL = TfdsSource


def check(src: TfdsSource, base: Path, check_paths: bool, show: Show) -> list[Finding]:
    """Resolve data_dir against the recipe's folder; it must be a folder."""
    src.data_dir = resolve_path(base, src.data_dir)
    problem = folder_problem(src.data_dir) if check_paths else None
    return [(["data_dir"], problem)] if problem is not None else []


def files(src: TfdsSource) -> list[Path]:
    """Every file of the dataset's folder in data_dir, sorted."""
    name = src.name.partition(":")[0]
    root = Path(src.data_dir) / name
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def _tfds_dir(where: str, src: TfdsSource) -> Path:
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


#: the files of a prepared dataset that name feature classes (tfds imports the module of each name)
FEATURE_FILES = ("features.json", "dataset_info.json")
_OWN_FEATURE = re.compile(r"tensorflow_datasets(\.[A-Za-z_][A-Za-z0-9_]*)+")


def feature_classes(folder: Path) -> list[str]:
    """Every Python class name (`pythonClassName`) the prepared dataset's JSON files name, in order."""
    found: list[str] = []

    def walk(v) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                if k in ("pythonClassName", "python_class_name"):
                    found.append(item if isinstance(item, str) else repr(item))
                else:
                    walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    for fname in FEATURE_FILES:
        path = folder / fname
        if not path.is_file():
            continue
        try:
            walk(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {path} ({type(e).__name__}: {e})") from None
    return found


def refuse_foreign_features(where: str, folder: Path, allow_code: bool) -> None:
    """InputError (exit 3) when the dataset names a feature class outside tensorflow_datasets (tfds would
    import its module, i.e. run code the data names), unless `--allow-code`."""
    if allow_code:
        return
    try:
        names = feature_classes(folder)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    foreign = [n for n in names if not _OWN_FEATURE.fullmatch(n)]
    if foreign:
        raise InputError(f"{where}: tfds dataset in {folder} names the feature class '{foreign[0]}', which is not "
                         "one of tensorflow_datasets' own: reading it would import and run that module; pass "
                         "--allow-code to allow it")


def load(name: str, src: TfdsSource, where: str, *, allow_code: bool = False) -> Split:
    """The split from a prepared data_dir (never downloaded): exit 3 naming what is missing."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise InputError(f"{where}: type tfds needs the tensorflow-datasets package, which is not installed: "
                         "pip install tensorflow-datasets") from None
    folder = _tfds_dir(where, src)
    refuse_foreign_features(where, folder, allow_code)
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
        if key is not None and key not in info.features:
            raise InputError(f"{where}.{k}: '{key}' is not a feature of {src.name} (features: "
                             f"{', '.join(info.features.keys())})")
    try:
        raw = builder.as_dataset(split=src.split, shuffle_files=False, as_supervised=supervised)
    except Exception as e:  # noqa: BLE001 - unknown split, bad slice, missing files
        raise InputError(f"{where}.split: '{src.split}' cannot be read from {folder} (splits: "
                         f"{', '.join(info.splits.keys())}; {type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    if supervised:
        ds = raw.map(lambda x, y: (scaled(x, src), y))
    elif src.y is None:
        ds = raw.map(lambda d: scaled(d[src.x], src))
    else:
        ds = raw.map(lambda d: (scaled(d[src.x], src), d[src.y]))
    return StreamSplit(name, src, lambda: ds, dataset_specs(ds), where, describe=lambda i: f"{src.name} {src.split}")
