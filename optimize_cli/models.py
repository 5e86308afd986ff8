"""Load the input model (Keras SavedModel, pre-2.5 SavedModel, .h5, .keras, plain tf.Module SavedModel),
work out how to compile it for fine-tuning, and save / load the per-stage checkpoints.

Loading never runs code stored in the model file unless the user passed ``--trust-model``: `.h5`, `.keras`
and Keras SavedModel configs are inspected *before* loading and models with `Lambda` layers (Python
bytecode) or custom classes are refused with a message naming the layer.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .context import CompileInfo
from .errors import InputError, StageError

#: what `load_model` recognised; the report's `model.format`
FORMATS = ("keras_savedmodel", "legacy_savedmodel", "h5", "keras", "tf_savedmodel")

_KERAS_ROOT_IDS = ("_tf_keras_model", "_tf_keras_network", "_tf_keras_sequential", "_tf_keras_layer")
_CONTAINERS = {"Functional", "Model", "Sequential"}


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


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------- inspection


def _known_layer_class(name: str) -> bool:
    """A class tf_keras itself can deserialize (built-in layers, TFOpLambda, Functional, ...)."""
    from .tf import keras

    if name in _CONTAINERS or name == "InputLayer":
        return True
    try:
        from tf_keras.src.layers import serialization

        serialization.populate_deserializable_objects()
        if name in serialization.LOCAL.ALL_OBJECTS:
            return True
    except Exception:  # pragma: no cover - private module moved: fall back to the public namespace
        pass
    if isinstance(getattr(keras.layers, name, None), type):
        return True
    try:
        return keras.utils.get_registered_object(name) is not None
    except Exception:  # pragma: no cover - defensive
        return False


def _walk_layers(cfg: Any, out: list[tuple[str, str]]) -> None:
    """(layer name, class name) of every layer in a Keras model/layer config, nested models and wrappers
    (TimeDistributed, Bidirectional) included."""
    if isinstance(cfg, list):
        for c in cfg:
            _walk_layers(c, out)
        return
    if not isinstance(cfg, dict):
        return
    cls = cfg.get("class_name")
    conf = cfg.get("config")
    if isinstance(cls, str) and isinstance(conf, dict):
        out.append((str(conf.get("name", "?")), cls))
        if "layers" in conf:
            _walk_layers(conf["layers"], out)
        for key in ("layer", "forward_layer", "backward_layer", "cell"):
            if isinstance(conf.get(key), dict):
                _walk_layers(conf[key], out)
    elif "layers" in cfg:
        _walk_layers(cfg["layers"], out)


def _refuse_unsafe(path: str, layers: list[tuple[str, str]], trust_model: bool, custom_too: bool = True) -> None:
    if trust_model:
        return
    for name, cls in layers:
        if cls == "Lambda":
            raise InputError(
                f"{path}: layer '{name}' is a Lambda layer, whose Python code would run when the model is "
                "loaded; pass --trust-model if you trust this file (or replace the Lambda with a built-in layer)"
            )
    if custom_too:
        for name, cls in layers:
            if not _known_layer_class(cls):
                raise InputError(
                    f"{path}: layer '{name}' is of custom class '{cls}', which needs code that is not part of "
                    "the model file; pass --trust-model if you trust this file and the class is importable, or "
                    "export the model as a TensorFlow SavedModel"
                )


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


# ------------------------------------------------------------------------------------------ loading


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
    from .tf import keras

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
        raise InputError(f"{path}: cannot read saved_model.pb ({_one_line(e)})") from None
    has_meta = (p / "keras_metadata.pb").exists()
    if has_meta or (ident or "").startswith(_KERAS_ROOT_IDS):
        # custom classes are revived from their traced functions (no Python code); Lambda layers are not
        _refuse_unsafe(path, _savedmodel_keras_layers(p), trust_model, custom_too=False)
        fmt = "keras_savedmodel" if has_meta else "legacy_savedmodel"
        try:
            model = _keras_load(path, trust_model)
        except Exception as e:
            if has_meta:
                raise InputError(f"{path}: cannot load the Keras SavedModel ({_one_line(e)})") from None
            # written by tf.saved_model.save from a Keras model: no Keras metadata, but convertible
            lm = _load_tf_savedmodel(p)
            lm.warnings.insert(0, f"no Keras metadata in the SavedModel ({_one_line(e, 120)})")
            return lm
        from .tf import keras

        if isinstance(model, keras.Model):
            warn = [] if has_meta else [
                "SavedModel written before TF 2.5 (no keras_metadata.pb): loaded from the object graph"]
            return LoadedModel(model, fmt, path, warnings=warn)
    return _load_tf_savedmodel(p)


def _load_tf_savedmodel(p: Path) -> LoadedModel:
    from .tf import tf

    path = str(p)
    try:
        obj = tf.saved_model.load(path)
    except Exception as e:
        raise InputError(f"{path}: cannot load the SavedModel ({_one_line(e)})") from None
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
        raise InputError(f"{path}: not a readable HDF5 model file ({_one_line(e)})") from None
    if cfg is None:
        raise InputError(f"{path}: the HDF5 file holds no model config (weights only?); save the whole model "
                         "with model.save(...)")
    layers: list[tuple[str, str]] = []
    _walk_layers(cfg, layers)
    _refuse_unsafe(path, layers, trust_model)
    try:
        model = _keras_load(path, trust_model)
    except Exception as e:
        raise InputError(f"{path}: cannot load the .h5 model ({_one_line(e)})") from None
    return LoadedModel(model, "h5", path)


def _load_keras_zip(p: Path, trust_model: bool) -> LoadedModel:
    path = str(p)
    try:
        cfg, meta = _keras_zip_config(path)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: not a readable .keras file ({_one_line(e)})") from None
    if _is_keras3(cfg, meta):
        raise InputError(
            f"{path}: saved by Keras {meta.get('keras_version', '3')}; tfmot needs a Keras 2 model. Re-save it "
            "with tf_keras (import tf_keras as keras; model.save('model.keras')) or export a SavedModel "
            "(model.export('saved_model') in Keras 3) and pass that directory"
        )
    layers: list[tuple[str, str]] = []
    _walk_layers(cfg, layers)
    _refuse_unsafe(path, layers, trust_model)
    try:
        model = _keras_load(path, trust_model, safe_mode=not trust_model)
    except Exception as e:
        raise InputError(f"{path}: cannot load the .keras model ({_one_line(e)})") from None
    return LoadedModel(model, "keras", path)


# ------------------------------------------------------------------------------------------ compile

_CE = {"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"}
_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "binary_crossentropy": "binary_crossentropy",
}


def _output_activation(model) -> Optional[str]:
    """Name of the final activation of a single-output model ('softmax', 'sigmoid', 'linear', ...)."""
    from .tf import keras

    try:
        layer = model.get_layer(model.output_names[0]) if getattr(model, "output_names", None) else model.layers[-1]
    except Exception:
        layer = model.layers[-1]
    inner = getattr(layer, "layer", layer)  # through wrappers
    if isinstance(inner, keras.layers.Softmax):
        return "softmax"
    if isinstance(inner, keras.layers.ReLU):
        return "relu"
    act = getattr(inner, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None) or str(act)
    return str(name).lower()


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return _ALIASES.get(loss.lower(), loss.lower())
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return _ALIASES.get(str(name).lower(), str(name).lower())


def _loss_config(loss: Any) -> dict:
    """The config of a Keras Loss object ({} for names and plain functions)."""
    get = getattr(loss, "get_config", None)
    if get is None or isinstance(loss, str):
        return {}
    try:
        return dict(get())
    except Exception:
        return {}


def _metrics_for(loss_name: str, from_logits: bool) -> list:
    from .tf import keras

    if loss_name == "sparse_categorical_crossentropy":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if loss_name == "categorical_crossentropy":
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if loss_name == "binary_crossentropy":
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if from_logits else 0.5)]
    if loss_name in ("mean_squared_error", "mean_absolute_error"):
        return [keras.metrics.MeanAbsoluteError(name="mae")]
    return []


def _loss_object(name: str, from_logits: bool):
    from .tf import keras

    cls = {
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
    }.get(name)
    if cls is None:
        return name
    return cls(from_logits=from_logits)


def compile_info(model, training_cfg, label_shape: Optional[tuple] = None) -> CompileInfo:
    """Loss and metrics for fine-tuning: training.loss, else the model's saved compile config, else inferred
    from the output layer. `label_shape` (without the batch axis) switches sparse ↔ one-hot crossentropy
    when the labels say so."""
    act = _output_activation(model)
    try:
        units = model.output_shape[-1] if not isinstance(model.output_shape, list) else None
    except Exception:
        units = None
    logits_out = act in ("linear", None) and units is not None

    keep: Any = None
    user = getattr(training_cfg, "loss", None) if training_cfg is not None else None
    if user:
        name, source = _ALIASES.get(user.lower(), user), "recipe"
        from_logits = name in _CE and logits_out
    else:
        saved = getattr(model, "loss", None)
        if isinstance(saved, dict) or isinstance(saved, (list, tuple)):
            saved = None if len(saved) != 1 else (list(saved.values())[0] if isinstance(saved, dict) else saved[0])
        if saved is not None and not callable(saved) and not isinstance(saved, str):
            saved = None
        if saved is not None:
            source = "saved"
            name = _loss_name(saved)
            saved_cfg = _loss_config(saved)
            from_logits = bool(saved_cfg.get("from_logits", False)) if not isinstance(saved, str) \
                else (name in _CE and logits_out)
            keep = saved if saved_cfg else None  # a configured Keras Loss (label smoothing, ...) is kept as is
        else:
            source = "inferred"
            if units is None:
                raise InputError("the model has several outputs and no saved loss: set training.loss in the recipe")
            if act == "softmax":
                name, from_logits = "sparse_categorical_crossentropy", False
            elif act == "sigmoid" and units == 1:
                name, from_logits = "binary_crossentropy", False
            elif logits_out and units > 1:
                name, from_logits = "sparse_categorical_crossentropy", True
            elif logits_out and units == 1:
                name, from_logits = "mean_squared_error", False
            elif act == "sigmoid":
                name, from_logits = "binary_crossentropy", False
            else:
                name, from_logits = "mean_squared_error", False
    # sparse vs one-hot labels
    if label_shape is not None and name in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        one_hot = len(label_shape) >= 1 and units is not None and label_shape[-1] == units and units > 1
        wanted = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"
        if wanted != name:
            name, keep = wanted, None
    loss = keep if keep is not None else _loss_object(name, from_logits)
    return CompileInfo(loss=loss, metrics=_metrics_for(name, from_logits), from_logits=from_logits, source=source)


# ----------------------------------------------------------------------------------- stage models

_STAGE_META = "optimize_cli_stage.json"


_STAGE_KERAS = "model.keras"


def _is_qat(model) -> bool:
    return any(type(layer).__name__ in ("QuantizeWrapperV2", "QuantizeWrapper", "QuantizeLayer")
               for layer in model.layers)


def save_stage_model(model, directory) -> None:
    """Save a stage's model into `directory`: a stripped model as one tf_keras `.keras` file (fast:
    ~0.05 s against ~0.9 s for a SavedModel), a QAT model with its quantize wrappers as a SavedModel
    without traces (tfmot's cluster-preserving QAT wrappers do not round-trip through .h5 or .keras: their variable
    count differs on reload)."""
    from .tf import tf

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    qat = _is_qat(model)
    try:
        if qat:
            # without traced functions: 0.4 s instead of 2-3 s; loading rebuilds the layers from their
            # config inside tfmot's quantize_scope (load_stage_model), which round-trips exactly
            model.save(str(d), save_format="tf", include_optimizer=False, save_traces=False)
        else:
            model.save(str(d / _STAGE_KERAS))
    except Exception as e:
        raise StageError(f"cannot save the stage model to {d} ({_one_line(e)})") from None
    (d / _STAGE_META).write_text(json.dumps({"qat": qat, "tensorflow": tf.__version__}))


def _stage_saved(d: Path) -> bool:
    return (d / "saved_model.pb").is_file() or (d / _STAGE_KERAS).is_file()


def load_stage_model(directory, stage_type: Optional[str] = None):
    """Load what `save_stage_model` wrote (QAT models inside tfmot's quantize_scope)."""
    from .tf import keras, tfmot

    d = Path(directory)
    if not _stage_saved(d) and _stage_saved(d / "model"):
        d = d / "model"  # the stage folder was given instead of its model folder
    if not _stage_saved(d):
        raise InputError(f"{d}: no saved stage model here (run again without --resume)")
    target = str(d / _STAGE_KERAS) if (d / _STAGE_KERAS).is_file() else str(d)
    qat = stage_type == "qat"
    try:
        qat = qat or json.loads((d / _STAGE_META).read_text()).get("qat", False)
    except (OSError, ValueError):
        pass
    try:
        if qat:
            with tfmot.quantization.keras.quantize_scope():
                return keras.models.load_model(target, compile=False)
        return keras.models.load_model(target, compile=False)
    except Exception as e:
        raise InputError(f"{d}: cannot load the stage model ({_one_line(e)})") from None
