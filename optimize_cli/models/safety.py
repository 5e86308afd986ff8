"""Refuse models whose loading would run code from the file, decided from the model's config before
tf_keras deserializes anything: the WHOLE config tree is walked (every dict and list: nested models,
wrappers, the Keras-2.0 list form of a Sequential, activations and other objects given as config values,
`__passive_serialization__` entries, the compile config), and the first

- Lambda layer (its Python bytecode runs when the layer is built),
- Python function (`__lambda__`, or a `"class_name": "function"` / `function_type` outside Keras),
- Python module outside keras / tf_keras / tensorflow / tfmot (tf_keras imports a config's `module`),
- TFOpLambda calling a TensorFlow function with side effects outside the model (writing files, running
  Python: `io.write_file`, `py_function`, summary writers, ...; SIDE_EFFECT_FUNCTIONS),
- and (``custom_too``) class that tf_keras or tfmot does not define

is refused with one line naming the layer and where it sits in the config. ``--trust-model`` lifts it."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from ..errors import InputError

#: container classes tf_keras deserializes itself
CONTAINERS = {"Functional", "Model", "Sequential"}
#: the modules a config may name: tf_keras' own, and the installed libraries the tool itself imports
SAFE_MODULES = ("keras", "tf_keras", "builtins", "tensorflow", "tensorflow_model_optimization")
#: class names of tf_keras' serialization format that are values, not classes
VALUE_MARKERS = {"__tuple__", "__ellipsis__", "__bytes__", "__tensor__", "__numpy__", "__typespec__",
                 "TensorShape", "__keras_tensor__", "function"}


#: TF functions (as TFOpLambda names them, without "tf.") that reach outside the model when it runs: files,
#: Python callbacks, summary writers, dataset savers; a prefix ending in "." covers a whole namespace
SIDE_EFFECT_FUNCTIONS = ("io.write_file", "io.gfile.", "py_function", "numpy_function", "compat.v1.py_func",
                         "py_func", "summary.", "compat.v2.summary.", "raw_ops.", "data.experimental.save",
                         "data.Dataset.save", "compat.v1.io.write_file", "compat.v1.write_file", "write_file",
                         "debugging.experimental.", "saved_model.", "train.")
#: graph ops (in saved_model.pb) with the same kind of effect
SIDE_EFFECT_OPS = frozenset({
    "WriteFile", "PyFunc", "PyFuncStateless", "EagerPyFunc", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
    "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
    "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent", "DatasetToTFRecord", "SaveDataset",
    "SaveDatasetV2", "Save", "SaveSlices", "DebugIdentityV2", "DebugIdentityV3"})


def side_effect_function(name: str) -> bool:
    fn = name[3:] if name.startswith("tf.") else name
    return any(fn == p or (p.endswith(".") and fn.startswith(p)) for p in SIDE_EFFECT_FUNCTIONS)


class UnsafeModelError(InputError):
    """The refusal itself (exit 3, like any InputError): callers that fall back to another reader on a load
    failure must not fall back on this."""


@dataclass
class Unsafe:
    """What in a config would run code: kind ('lambda' | 'function' | 'op' | 'module' | 'custom'), the layer (or
    object) name, the class or module named, and where in the config (a JSON path)."""

    kind: str
    name: str
    what: str
    where: str


def _public_names(keras) -> set:
    names: set = set()
    for mod in ("layers", "initializers", "regularizers", "constraints", "losses", "metrics", "optimizers",
                "optimizers.schedules", "optimizers.legacy", "activations", "mixed_precision"):
        m = keras
        try:
            for part in mod.split("."):
                m = getattr(m, part)
        except AttributeError:  # pragma: no cover - a tf_keras without one of them
            continue
        names.update(k for k in dir(m) if not k.startswith("_") and callable(getattr(m, k, None)))
    return names


@lru_cache(maxsize=1)
def _builtin_classes() -> frozenset:
    """Class (and function) names tf_keras and tfmot define: what a config may name without custom code."""
    from ..tf import keras, tfmot

    names = set(CONTAINERS) | {"InputLayer"} | _public_names(keras)
    try:
        from tf_keras.src.layers import serialization
        from tf_keras.src.saving import object_registration

        serialization.populate_deserializable_objects()
        names.update(serialization.LOCAL.ALL_OBJECTS)
        names.update(object_registration._GLOBAL_CUSTOM_OBJECTS)  # registered by imported (trusted) code
    except Exception:  # pragma: no cover - private modules moved: the public namespace is still there
        pass
    for scope in ("quantization.keras.quantize_scope", "sparsity.keras.prune_scope",
                  "clustering.keras.cluster_scope"):
        try:
            f = tfmot
            for part in scope.split("."):
                f = getattr(f, part)
            for d in f().custom_objects:
                names.update(d)
        except Exception:  # pragma: no cover - an older tfmot without one of them
            pass
    return frozenset(names)


def known_class(name: str) -> bool:
    """A class tf_keras or tfmot can deserialize itself (built-in layers, TFOpLambda, Functional, initializers,
    optimizers, tfmot's wrappers, ...): no code from the file is needed to build it."""
    return name in VALUE_MARKERS or name in _builtin_classes()


def _safe_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in SAFE_MODULES)


def _check_node(d: dict, name: str, where: str, custom_too: bool) -> Optional[Unsafe]:
    cls = d.get("class_name")
    if cls == "Lambda":
        return Unsafe("lambda", name, "Lambda", where)
    if cls in ("TFOpLambda", "SlicingOpLambda"):
        fn = (d.get("config") or {}).get("function") if isinstance(d.get("config"), dict) else None
        if isinstance(fn, str) and side_effect_function(fn):
            return Unsafe("op", name, f"tf.{fn.removeprefix('tf.')}", where)
    if cls == "__lambda__" or "__lambda__" in d:
        return Unsafe("function", name, "lambda", where)
    if d.get("function_type") in ("lambda", "function") and "function" in d:
        return Unsafe("function", name, str(d.get("function_type")), where)
    module = d.get("module")
    if isinstance(cls, str) and isinstance(module, str) and not _safe_module(module):
        if cls == "function":
            return Unsafe("function", name, f"{module}.{d.get('config')}", where)
        return Unsafe("module", name, module, where)
    if custom_too and isinstance(cls, str) and not known_class(cls):
        return Unsafe("custom", name, cls, where)
    return None


def _node_name(d: dict, default: str) -> str:
    conf = d.get("config")
    for src in (conf if isinstance(conf, dict) else {}, d):
        n = src.get("name")
        if isinstance(n, str):
            return n
    return default


def find_unsafe(cfg: Any, custom_too: bool = True, root: str = "config") -> Optional[Unsafe]:
    """The first thing in a config (a JSON tree: dicts, lists, scalars) whose loading would run code from
    the file, outermost first; None when there is none. Iterative: any depth, no recursion."""
    stack: list = [(cfg, root, "?")]
    while stack:
        node, where, name = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                name = _node_name(node, name)
            found = _check_node(node, name, where, custom_too)
            if found is not None:
                return found
            stack.extend(reversed([(v, f"{where}.{k}", name) for k, v in node.items()
                                   if isinstance(v, (dict, list))]))
        elif isinstance(node, list):
            stack.extend(reversed([(v, f"{where}[{i}]", name) for i, v in enumerate(node)
                                   if isinstance(v, (dict, list))]))
    return None


def unsafe_message(path: str, u: Unsafe) -> str:
    """The one-line refusal for what find_unsafe found in the model at `path`."""
    at = f" (at {u.where})"
    trust = "pass --trust-model if you trust this file"
    if u.kind == "lambda":
        return (f"{path}: layer '{u.name}' is a Lambda layer{at}, whose Python code would run when the model is "
                f"loaded; {trust} (or replace the Lambda with a built-in layer)")
    if u.kind == "function":
        return (f"{path}: '{u.name}' holds a Python function ({u.what}){at}, whose code would run when the model "
                f"is loaded; {trust} (or use a built-in activation / layer)")
    if u.kind == "op":
        return (f"{path}: '{u.name}' calls {u.what}{at}, which reaches outside the model (files, Python) when the "
                f"model runs; {trust}")
    if u.kind == "module":
        return (f"{path}: '{u.name}' names the Python module '{u.what}'{at}, which tf_keras would import (running "
                f"its code) when the model is loaded; {trust}")
    return (f"{path}: layer '{u.name}' is of custom class '{u.what}'{at}, which needs code that is not part of "
            f"the model file; {trust} and the class is importable, or export the model as a TensorFlow SavedModel")


def refuse_unsafe_config(path: str, cfg: Any, trust_model: bool, custom_too: bool = True,
                         root: str = "config") -> None:
    """InputError (exit 3) naming the first Lambda, function, foreign module or (`custom_too`) custom class
    anywhere in `cfg`; nothing when --trust-model was given."""
    if trust_model:
        return
    found = find_unsafe(cfg, custom_too, root)
    if found is not None:
        raise UnsafeModelError(unsafe_message(path, found))
