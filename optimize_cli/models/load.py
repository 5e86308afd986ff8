"""Load the input model (Keras SavedModel, pre-2.5 SavedModel, .h5, .keras, plain tf.Module SavedModel).

Loading never runs code stored in the model file unless the user passed ``--trust-model``: the whole config
of a `.h5`, `.keras` or Keras SavedModel is read without deserializing it (models/configs.py) and checked
*before* loading (models/safety.py); a Lambda, a Python function, a foreign module or (.h5 / .keras) a custom
class anywhere in it is refused with a message naming the layer and where it sits. Only regular files and
directories are read, with bounded reads (models/files.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import InputError, one_line
from .configs import (
    h5_config,
    keras_zip_config,
    read_saved_model_pb,
    refuse_side_effect_ops,
    refuse_unsafe_savedmodel,
    savedmodel_root_identifier,
)
from .files import check_path, read_head
from .loaded import LoadedModel
from .safety import refuse_unsafe_config

#: what `load_model` recognised; the report's `model.format`
FORMATS = ("keras_savedmodel", "legacy_savedmodel", "h5", "keras", "tf_savedmodel", "keras3")

_KERAS_ROOT_IDS = ("_tf_keras_model", "_tf_keras_network", "_tf_keras_sequential", "_tf_keras_layer")


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


def load_model(path: str, trust_model: bool = False, tfmot_scopes: bool = False, compile: bool = True) -> LoadedModel:
    """Load the input model; InputError (exit 3) naming the path when it cannot be loaded safely. Every
    command loads models through here: the config is checked (models/safety.py) before tf_keras
    deserializes anything. `tfmot_scopes`: load inside tfmot's quantize / prune / cluster scopes (inspect
    reads models that still hold tfmot's wrappers); `compile=False` skips the saved compile config."""
    p = check_path(path)
    if p.is_dir():
        return _load_savedmodel(p, trust_model, tfmot_scopes, compile)
    suffix = p.suffix.lower()
    if suffix == ".tflite":
        raise InputError(f"{path}: is already a .tflite model; optimize-cli needs the trained TensorFlow model "
                         "(SavedModel directory, .h5 or .keras)")
    head = read_head(p, 8)  # one bounded read, whatever the suffix says
    if suffix in (".h5", ".hdf5") or head.startswith(b"\x89HDF"):
        return _load_h5(p, trust_model, tfmot_scopes, compile)
    if suffix == ".keras" or head.startswith(b"PK"):
        return _load_keras_zip(p, trust_model, tfmot_scopes, compile)
    raise InputError(f"{path}: not a model this tool can read (expected a SavedModel directory, .h5 or .keras)")


def _tfmot_scopes() -> list:
    from ..tf import tfmot

    scopes = []
    for factory in (lambda: tfmot.quantization.keras.quantize_scope(),
                    lambda: tfmot.sparsity.keras.prune_scope(),
                    lambda: tfmot.clustering.keras.cluster_scope()):
        try:
            scopes.append(factory())
        except Exception:  # noqa: BLE001 - an older tfmot without one of them
            pass
    return scopes


def _keras_load(path: str, tfmot_scopes: bool, **kw):
    from contextlib import ExitStack

    from ..tf import keras

    with ExitStack() as stack:
        for s in (_tfmot_scopes() if tfmot_scopes else []):
            stack.enter_context(s)
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


def _load_savedmodel(p: Path, trust_model: bool, tfmot_scopes: bool = False, compile: bool = True) -> LoadedModel:
    path = str(p)
    has_pb = (p / "saved_model.pb").exists()
    if not has_pb and not (p / "saved_model.pbtxt").exists():
        raise InputError(f"{path}: a directory but not a SavedModel (no saved_model.pb)")
    sm = read_saved_model_pb(p) if has_pb else None
    refuse_side_effect_ops(p, sm, trust_model)
    ident = savedmodel_root_identifier(sm) if sm is not None else None
    has_meta = (p / "keras_metadata.pb").exists()
    if has_meta or (ident or "").startswith(_KERAS_ROOT_IDS):
        refuse_unsafe_savedmodel(p, sm, trust_model)
        fmt = "keras_savedmodel" if has_meta else "legacy_savedmodel"
        try:
            model = _keras_load(path, tfmot_scopes, compile=compile)
        except Exception as e:
            if has_meta:
                raise InputError(f"{path}: cannot load the Keras SavedModel ({one_line(e)})") from None
            # written by tf.saved_model.save from a Keras model: no Keras metadata, but convertible
            lm = _load_tf_savedmodel(p)
            lm.warnings.insert(0, f"no Keras metadata in the SavedModel ({one_line(e, 120)})")
            return lm
        from ..tf import keras

        if isinstance(model, keras.Model) and getattr(model, "outputs", None) is None:
            # a subclassed model: no layer graph to prune or cluster, but its serving signature converts
            lm = _load_tf_savedmodel(p)
            lm.warnings.insert(0, f"a subclassed Keras model ({type(model).__name__}, no functional graph of "
                                  "layers): read through its serving signature")
            return lm
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
    fn = sigs[key]
    try:
        names = sorted(fn.structured_input_signature[1])
    except Exception:  # noqa: BLE001 - an unusual signature: the converter will say what is wrong
        names = []
    if len(names) > 1:
        raise InputError(f"{path}: the SavedModel's '{key}' signature takes {len(names)} inputs "
                         f"({', '.join(names[:6])}); a SavedModel without a Keras model is converted only with "
                         "one input — export a Keras model (or a signature with one input)")
    lm = LoadedModel(None, "tf_savedmodel", path, concrete_function=fn, signature_key=key)
    lm.warnings.append("a SavedModel without a Keras model: only post-training quantization is possible")
    lm._module = obj  # keep the trackable alive while the concrete function is used
    return lm


def _load_h5(p: Path, trust_model: bool, tfmot_scopes: bool = False, compile: bool = True) -> LoadedModel:
    path = str(p)
    try:
        cfg, training = h5_config(path)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: not a readable HDF5 model file ({one_line(e)})") from None
    if cfg is None:
        raise InputError(f"{path}: the HDF5 file holds no model config (weights only?); save the whole model "
                         "with model.save(...)")
    from .keras3 import read_keras3

    # a Keras 3 .h5 names Keras 3 classes (DTypePolicy …) that tf_keras lacks: those are the translation's
    # to judge; Lambda, functions and foreign modules are refused in every file
    written_by_keras3 = read_keras3(path) is not None
    refuse_unsafe_config(path, cfg, trust_model, custom_too=not written_by_keras3, root="model_config")
    refuse_unsafe_config(path, training, trust_model, custom_too=False, root="training_config")
    try:
        model = _keras_load(path, tfmot_scopes, compile=compile)
    except Exception as e:
        from .keras3_build import load_keras3_file

        translated = load_keras3_file(path, trust_model)  # a Keras 3 .h5 tf_keras cannot read
        if translated is None:
            raise InputError(f"{path}: cannot load the .h5 model ({one_line(e)})") from None
        return translated
    return LoadedModel(model, "h5", path)


def _load_keras_zip(p: Path, trust_model: bool, tfmot_scopes: bool = False, compile: bool = True) -> LoadedModel:
    path = str(p)
    try:
        cfg, meta = keras_zip_config(path)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: not a readable .keras file ({one_line(e)})") from None
    if _is_keras3(cfg, meta):
        from .keras3_build import load_keras3_file

        translated = load_keras3_file(path, trust_model)
        if translated is not None:
            return translated
    refuse_unsafe_config(path, {k: v for k, v in cfg.items() if k != "compile_config"}, trust_model)
    refuse_unsafe_config(path, cfg.get("compile_config"), trust_model, custom_too=False, root="compile_config")
    try:
        model = _keras_load(path, tfmot_scopes, compile=compile, safe_mode=not trust_model)
    except Exception as e:
        raise InputError(f"{path}: cannot load the .keras model ({one_line(e)})") from None
    return LoadedModel(model, "keras", path)
