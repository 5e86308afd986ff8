"""Load the input model (Keras SavedModel, pre-2.5 SavedModel, .h5, .keras, plain tf.Module SavedModel).

Loading never runs code stored in the model file unless the user passed ``--trust-model``: `.h5`, `.keras`
and Keras SavedModel configs are inspected *before* loading (models/safety.py) and models with `Lambda`
layers or custom classes are refused with a message naming the layer.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import InputError, one_line
from .safety import refuse_unsafe, walk_layers

#: what `load_model` recognised; the report's `model.format`
FORMATS = ("keras_savedmodel", "legacy_savedmodel", "h5", "keras", "tf_savedmodel", "keras3")

_KERAS_ROOT_IDS = ("_tf_keras_model", "_tf_keras_network", "_tf_keras_sequential", "_tf_keras_layer")


@dataclass
class LoadedModel:
    """The input model as loaded: a Keras model, or (format ``tf_savedmodel``) a plain TF SavedModel that
    can only be converted (``keras_model`` is None; ``concrete_function`` is its serving signature)."""

    keras_model: Any
    format: str
    path: str
    concrete_function: Any = None
    signature_key: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    #: (format keras3) verify(x) compares the translation with Keras 3 on inputs x; its record is `translation`
    verify: Optional[Callable[[Any], dict]] = None
    translation: Optional[dict] = None


def _h5_config(path: str) -> Optional[dict]:
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        return json.loads(raw)


def _keras_zip_config(path: str) -> tuple[dict, dict]:
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if "config.json" not in names:
            raise InputError(f"{path}: not a Keras .keras file (the zip has no config.json)")
        cfg = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json")) if "metadata.json" in names else {}
    return cfg, meta


def _keras_major(version: Any) -> Optional[int]:
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return None


def _is_keras3(cfg: dict, meta: dict) -> bool:
    major = _keras_major(meta.get("keras_version"))
    if major is not None:
        return major >= 3
    module = str(cfg.get("module", ""))
    # tf_keras writes "tf_keras.src.…" / "keras.src.engine.…"; Keras 3 writes "keras" / "keras.src.models.…"
    return module == "keras" or module.startswith("keras.src.models") or module.startswith("keras.models")


def _savedmodel_root_identifier(path: Path) -> Optional[str]:
    """The user-object identifier of the SavedModel's root object (Keras models say `_tf_keras_*`)."""
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    if not sm.meta_graphs:
        raise InputError(f"{path}: saved_model.pb has no meta graph")
    nodes = sm.meta_graphs[0].object_graph_def.nodes
    if not nodes:
        return None
    root = nodes[0]
    return root.user_object.identifier if root.WhichOneof("kind") == "user_object" else None


def _savedmodel_keras_layers(path: Path) -> list[tuple[str, str]]:
    """(name, class) of the layers recorded in a Keras SavedModel's metadata, without loading it."""
    out: list[tuple[str, str]] = []
    metas: list[str] = []
    meta_file = path / "keras_metadata.pb"
    try:
        if meta_file.exists():
            from tf_keras.protobuf import saved_metadata_pb2  # type: ignore

            sm = saved_metadata_pb2.SavedMetadata()
            sm.ParseFromString(meta_file.read_bytes())
            metas = [n.metadata for n in sm.nodes]
        else:
            from tensorflow.core.protobuf import saved_model_pb2

            sm = saved_model_pb2.SavedModel()
            sm.ParseFromString((path / "saved_model.pb").read_bytes())
            metas = [n.user_object.metadata for n in sm.meta_graphs[0].object_graph_def.nodes
                     if n.WhichOneof("kind") == "user_object"]
    except Exception:
        return out
    for m in metas:
        try:
            d = json.loads(m) if m else {}
        except ValueError:
            continue
        if isinstance(d, dict) and "class_name" in d:
            out.append((str(d.get("name", "?")), str(d["class_name"])))
    return out


def load_model(path: str, trust_model: bool = False) -> LoadedModel:
    """Load the input model; InputError (exit 3) naming the path when it cannot be loaded safely."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or directory")
    if p.is_dir():
        return _load_savedmodel(p, trust_model)
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _load_h5(p, trust_model)
    if suffix == ".keras":
        return _load_keras_zip(p, trust_model)
    if suffix == ".tflite":
        raise InputError(f"{path}: is already a .tflite model; optimize-cli needs the trained TensorFlow model "
                         "(SavedModel directory, .h5 or .keras)")
    # sniff the content of an unknown suffix
    try:
        head = p.read_bytes()[:8]
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if head.startswith(b"\x89HDF"):
        return _load_h5(p, trust_model)
    if head.startswith(b"PK"):
        return _load_keras_zip(p, trust_model)
    raise InputError(f"{path}: not a model this tool can read (expected a SavedModel directory, .h5 or .keras)")


def _keras_load(path: str, trust_model: bool, **kw):
    from ..tf import keras

    try:
        return keras.models.load_model(path, **kw)
    except Exception as first:
        if kw.get("compile", True) is False:
            raise first
        # the model may be fine but its saved compile config not (custom loss or metric): load it uncompiled
        try:
            return keras.models.load_model(path, **{**kw, "compile": False})
        except Exception:
            raise first from None


def _load_savedmodel(p: Path, trust_model: bool) -> LoadedModel:
    path = str(p)
    if not (p / "saved_model.pb").exists() and not (p / "saved_model.pbtxt").exists():
        raise InputError(f"{path}: a directory but not a SavedModel (no saved_model.pb)")
    try:
        ident = _savedmodel_root_identifier(p) if (p / "saved_model.pb").exists() else None
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: cannot read saved_model.pb ({one_line(e)})") from None
    has_meta = (p / "keras_metadata.pb").exists()
    if has_meta or (ident or "").startswith(_KERAS_ROOT_IDS):
        # custom classes are revived from their traced functions (no Python code); Lambda layers are not
        refuse_unsafe(path, _savedmodel_keras_layers(p), trust_model, custom_too=False)
        fmt = "keras_savedmodel" if has_meta else "legacy_savedmodel"
        try:
            model = _keras_load(path, trust_model)
        except Exception as e:
            if has_meta:
                raise InputError(f"{path}: cannot load the Keras SavedModel ({one_line(e)})") from None
            # written by tf.saved_model.save from a Keras model: no Keras metadata, but convertible
            lm = _load_tf_savedmodel(p)
            lm.warnings.insert(0, f"no Keras metadata in the SavedModel ({one_line(e, 120)})")
            return lm
        from ..tf import keras

        if isinstance(model, keras.Model):
            warn = [] if has_meta else [
                "SavedModel written before TF 2.5 (no keras_metadata.pb): loaded from the object graph"]
            return LoadedModel(model, fmt, path, warnings=warn)
    return _load_tf_savedmodel(p)


def _load_tf_savedmodel(p: Path) -> LoadedModel:
    from ..tf import tf

    path = str(p)
    try:
        obj = tf.saved_model.load(path)
    except Exception as e:
        raise InputError(f"{path}: cannot load the SavedModel ({one_line(e)})") from None
    sigs = getattr(obj, "signatures", None) or {}
    if not sigs:
        raise InputError(f"{path}: the SavedModel has no serving signature to convert; export it with "
                         "tf.saved_model.save(obj, path, signatures=...)")
    key = "serving_default" if "serving_default" in sigs else sorted(sigs)[0]
    lm = LoadedModel(None, "tf_savedmodel", path, concrete_function=sigs[key], signature_key=key)
    lm.warnings.append("a SavedModel without a Keras model: only post-training quantization is possible")
    lm._module = obj  # keep the trackable alive while the concrete function is used
    return lm


def _load_h5(p: Path, trust_model: bool) -> LoadedModel:
    path = str(p)
    try:
        cfg = _h5_config(path)
    except Exception as e:
        raise InputError(f"{path}: not a readable HDF5 model file ({one_line(e)})") from None
    if cfg is None:
        raise InputError(f"{path}: the HDF5 file holds no model config (weights only?); save the whole model "
                         "with model.save(...)")
    layers: list[tuple[str, str]] = []
    walk_layers(cfg, layers)
    refuse_unsafe(path, layers, trust_model)
    try:
        model = _keras_load(path, trust_model)
    except Exception as e:
        from .keras3_build import load_keras3_file

        translated = load_keras3_file(path, trust_model)  # a Keras 3 .h5 tf_keras cannot read
        if translated is None:
            raise InputError(f"{path}: cannot load the .h5 model ({one_line(e)})") from None
        return translated
    return LoadedModel(model, "h5", path)


def _load_keras_zip(p: Path, trust_model: bool) -> LoadedModel:
    path = str(p)
    try:
        cfg, meta = _keras_zip_config(path)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: not a readable .keras file ({one_line(e)})") from None
    if _is_keras3(cfg, meta):
        from .keras3_build import load_keras3_file

        translated = load_keras3_file(path, trust_model)
        if translated is not None:
            return translated
    layers: list[tuple[str, str]] = []
    walk_layers(cfg, layers)
    refuse_unsafe(path, layers, trust_model)
    try:
        model = _keras_load(path, trust_model, safe_mode=not trust_model)
    except Exception as e:
        raise InputError(f"{path}: cannot load the .keras model ({one_line(e)})") from None
    return LoadedModel(model, "keras", path)
