"""Keras 3 model files, read without Keras 3: the `.keras` zip (config.json, metadata.json,
model.weights.h5) or a Keras 3 `.h5`, whose config is JSON and whose weights are HDF5.

This module is pure Python (no TensorFlow, so `validate` can use it): it recognises a Keras 3 file and
translates its functional or sequential config into a tf_keras Functional config — DTypePolicy → dtype
string, `batch_shape` → `batch_input_shape`, Keras 3 inbound nodes (`args`/`kwargs` holding
`__keras_tensor__` histories) → tf_keras node lists, `module`/`registered_name` dropped, nested models
flattened into the outer graph — and says where each translated layer's weights are in the file.
keras3_build.py builds the tf_keras model and copies the weights; keras3_check.py compares the outputs.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import InputError
from ..limits import check_layer_count
from ..safe_files import BoundError, read_zip_member
from .files import MAX_CONFIG_BYTES

#: Keras 3 layer classes translated to tf_keras (the table in docs/data-and-models.md); anything else is refused
SUPPORTED = (
    "InputLayer", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense",
    "BatchNormalization", "LayerNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "Add", "Multiply",
    "Concatenate", "Average", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Flatten",
    "Reshape", "Dropout", "ZeroPadding2D", "UpSampling2D", "Rescaling", "Normalization", "Softmax", "Embedding",
)
CONTAINERS = ("Functional", "Sequential", "Model")
#: Keras 3 config keys tf_keras does not know, dropped when they hold this (the Keras 3 default) value
_DEFAULT_ONLY = {"quantization_config": None, "synchronized": False, "renorm": False, "renorm_clipping": None,
                 "rms_scaling": False, "lora_rank": None, "lora_alpha": None, "optional": False}
_RENAMED = {("LeakyReLU", "negative_slope"): "alpha", ("InputLayer", "batch_shape"): "batch_input_shape"}
#: activations tf_keras computes as Keras 3 does (Keras 3's gelu is tanh-approximated and its hard_sigmoid is
#: relu6(x + 3) / 6: tf_keras means other functions by those names)
SAME_ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax", "softplus", "softsign",
                    "elu", "selu", "exponential", "swish", "silu", "mish")
_NO_STATE_KEYS = ("module", "registered_name", "shared_object_id")
#: call arguments Keras 3 records while tracing that mean nothing in tf_keras
_IGNORED_CALL_KWARGS = {"mask": (None,), "training": (None, False)}


@dataclass
class Keras3File:
    """What a Keras 3 file holds before anything is built."""

    path: str
    kind: str  # "keras" (the zip) or "h5"
    config: dict
    keras_version: str


@dataclass
class Translation:
    """A Keras 3 model config as a tf_keras Functional config, and where each layer's weights are."""

    config: dict  # {"class_name": "Functional", "config": {...}} for tf_keras
    weight_paths: dict = field(default_factory=dict)  # tf_keras layer name -> path in the weights file
    outputs_of: dict = field(default_factory=dict)  # Keras 3 top-level layer name -> tf_keras layer name
    order: list = field(default_factory=list)  # Keras 3 top-level layer names, in graph order


def keras_major(version: Any) -> Optional[int]:
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return None


def read_keras3(path: str) -> Optional[Keras3File]:
    """The config of a Keras 3 `.keras` zip or `.h5`, or None when the file is not one (no TensorFlow)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK"):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names or "metadata.json" not in names:
                return None
            meta = json.loads(read_zip_member(z, "metadata.json", MAX_CONFIG_BYTES, path))
            if (keras_major(meta.get("keras_version")) or 0) < 3:
                return None
            cfg = json.loads(read_zip_member(z, "config.json", MAX_CONFIG_BYTES, path))  # declared size first
            return Keras3File(path, "keras", cfg, str(meta["keras_version"]))
    if head.startswith(b"\x89HDF"):
        import h5py

        with h5py.File(path, "r") as f:
            version, raw = f.attrs.get("keras_version"), f.attrs.get("model_config")
            version = version.decode() if isinstance(version, bytes) else version
            if raw is None or (keras_major(version) or 0) < 3:
                return None
            return Keras3File(path, "h5", json.loads(raw.decode() if isinstance(raw, bytes) else raw),
                              str(version))
    return None


def snake(name: str) -> str:
    """Keras 3's `naming.to_snake_case`: how the weights file names a layer (by class, not by name)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def plain(value: Any) -> Any:
    """A Keras 3 serialized value for tf_keras: DTypePolicy → its name, nested objects without `module`,
    `registered_name` and `shared_object_id`."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(value.get("config"), dict):
        return value["config"].get("name", "float32")
    out = {k: plain(v) for k, v in value.items() if k not in _NO_STATE_KEYS}
    if "class_name" in out and isinstance(out.get("config"), dict) and str(value.get("module", "")).endswith(
            "initializers"):
        out["config"] = {k: v for k, v in out["config"].items() if v is not None or k == "seed"}
    return out


def _refuse(path: str, name: str, cls: str, why: str) -> InputError:
    return InputError(f"{path}: layer '{name}' ({cls}) {why}")


def layer_config(path: str, cls: str, conf: dict) -> dict:
    """One supported layer's Keras 3 config as tf_keras's; InputError naming a setting tf_keras lacks."""
    name = str(conf.get("name", "?"))
    out: dict = {}
    for key, value in conf.items():
        key = _RENAMED.get((cls, key), key)
        if key in _DEFAULT_ONLY:
            if value != _DEFAULT_ONLY[key]:
                raise _refuse(path, name, cls, f"sets {key}={json.dumps(value)}, which tf_keras cannot build; "
                              "leave it at its default")
            continue
        if key == "renorm_momentum" and not conf.get("renorm"):
            continue
        if key == "activation" and value not in SAME_ACTIVATIONS:
            shown = f"'{value}'" if isinstance(value, str) else "a custom function"
            raise _refuse(path, name, cls, f"uses activation {shown}, which tf_keras does not compute as Keras 3 "
                          f"does; translatable: {', '.join(SAME_ACTIVATIONS)}")
        out[key] = plain(value)
    return out


def unsupported(cfg: dict, path: str = "model") -> Optional[str]:
    """The one-line refusal for the first layer of `cfg` outside SUPPORTED (nested models walked), or None."""
    conf = cfg.get("config") if isinstance(cfg, dict) else None
    if not isinstance(conf, dict):
        return f"{path}: the Keras 3 config is not a model config"
    for layer in conf.get("layers") or []:
        cls = layer.get("class_name") if isinstance(layer, dict) else None
        lconf = layer.get("config") if isinstance(layer, dict) else None
        name = str((lconf or {}).get("name") or (layer or {}).get("name") or "?")
        if cls in CONTAINERS:
            problem = unsupported(layer, path)
            if problem:
                return problem
        elif cls not in SUPPORTED:
            extra = (", whose Python code cannot be translated; replace it with built-in layers" if cls == "Lambda"
                     else "; the docs' Data and models page lists the Keras 3 layers optimize-cli translates")
            return f"{path}: layer '{name}' is of class '{cls}', which cannot be translated from Keras 3 to tf_keras{extra}"
    return None


def problem(path: str) -> Optional[str]:
    """For `validate`: the reason a Keras 3 file cannot be translated, or None (also for other files)."""
    try:
        k3 = read_keras3(path)
    except BoundError as e:  # a zip bomb: refused here too, before anything is decompressed
        return str(e)
    except Exception:  # not readable as a Keras 3 file: loading says why, with exit 3
        return None
    if k3 is None:
        return None
    try:
        translate(k3)
    except InputError as e:
        return str(e)
    return None


def _history(arg: Any) -> Optional[tuple]:
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        name, node, tensor = arg["config"]["keras_history"]
        return str(name), int(node), int(tensor)
    return None


def call_refs(path: str, layer: dict) -> list[list[tuple]]:
    """The tensors each call (inbound node) of a Keras 3 layer reads: a list per node of (name, node, tensor)."""
    name, cls = str(layer.get("name") or layer["config"].get("name")), str(layer.get("class_name"))
    nodes = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, list):  # written by tf_keras-style Keras (older files): already node lists
            nodes.append([(str(t[0]), int(t[1]), int(t[2])) for t in node])
            continue
        args, kwargs = node.get("args") or [], node.get("kwargs") or {}
        for key, value in kwargs.items():
            if value not in _IGNORED_CALL_KWARGS.get(key, ()):
                raise _refuse(path, name, cls, f"is called with {key}={json.dumps(value)[:40]}, which the "
                              "translation does not carry over")
        first = args[0] if args else None
        tensors = first if isinstance(first, list) else [first]
        refs = [_history(t) for t in tensors]
        if len(args) != 1 or not refs or any(r is None for r in refs):
            raise _refuse(path, name, cls, "is called with arguments other than its input tensors")
        nodes.append(refs)
    return nodes


def _ref_list(value: Any) -> list[tuple]:
    """Keras 3 writes one input as [name, 0, 0] and several as [[name, 0, 0], ...]."""
    if value and not isinstance(value[0], list):
        value = [value]
    return [(str(v[0]), int(v[1]), int(v[2])) for v in value or []]


class _Graph:
    """The flat tf_keras graph being built: layer configs with node lists, and the weights' paths."""

    def __init__(self, path: str):
        self.path = path
        self.layers: list[dict] = []
        self.names: set[str] = set()
        self.weight_paths: dict[str, str] = {}

    def add(self, cls: str, conf: dict, nodes: list[list[tuple]], wpath: Optional[str]) -> str:
        name = conf["name"]
        self.names.add(name)
        self.layers.append({"class_name": cls, "name": name, "config": conf,
                            "inbound_nodes": [[[n, i, t, {}] for n, i, t in node] for node in nodes]})
        if wpath is not None:
            self.weight_paths[name] = wpath
        return name

    def fresh(self, name: str, prefix: str) -> str:
        new, k = name, 0
        while new in self.names:
            k += 1
            new = f"{prefix}_{name}" if k == 1 else f"{prefix}_{name}_{k}"
        return new


def _container_layers(path: str, cfg: dict) -> tuple[list[dict], list[tuple], list[tuple], bool]:
    """(layers, input refs, output refs, is_sequential) of a Keras 3 Functional or Sequential config, a
    Sequential turned into a chain whose first layer is an InputLayer."""
    cls, conf = cfg.get("class_name"), cfg.get("config") or {}
    layers = [dict(c) for c in conf.get("layers") or []]
    if cls != "Sequential":
        return layers, _ref_list(conf.get("input_layers")), _ref_list(conf.get("output_layers")), False
    if not layers or layers[0].get("class_name") != "InputLayer":
        shape = conf.get("build_input_shape") or (layers[0].get("build_config") or {}).get("input_shape") \
            if layers else None
        if not shape:
            raise InputError(f"{path}: the Keras 3 Sequential '{conf.get('name')}' has no input shape; "
                             "build it with keras.Input(...) before saving")
        layers.insert(0, {"class_name": "InputLayer", "config": {"name": f"{conf.get('name')}_input",
                                                                  "batch_shape": shape}, "virtual": True})
    prev = None
    for layer in layers:
        name = layer["config"]["name"]
        if prev is not None:
            layer["inbound_nodes"] = [[prev]]
        prev = (name, 0, 0)
    return layers, [(layers[0]["config"]["name"], 0, 0)], [prev], True


def _flatten(graph: _Graph, cfg: dict, wprefix: str, inputs: Optional[list[tuple]], rename: str) -> tuple:
    """Add a Keras 3 container's layers to `graph`; `inputs` (refs in the graph) replace its InputLayers when
    it is nested (a frozen nested model freezes its layers). Returns (its input refs, its output refs,
    {Keras 3 layer name: translated name})."""
    path = graph.path
    frozen = (cfg.get("config") or {}).get("trainable") is False
    layers, in_refs, out_refs, sequential = _container_layers(path, cfg)
    alias: dict[tuple, tuple] = {}  # (name, node, tensor) inside -> ref in the graph
    names: dict[str, str] = {}
    used: dict[str, int] = {}
    if inputs is not None and len(inputs) != len(in_refs):
        raise InputError(f"{path}: nested model '{rename}' is called with {len(inputs)} inputs, built for {len(in_refs)}")
    for layer in layers:
        cls, conf = str(layer.get("class_name")), layer.get("config") or {}
        k3name = str(conf.get("name") or layer.get("name"))
        virtual = layer.get("virtual", False)
        wname = None if virtual or (sequential and cls == "InputLayer") else _unique(snake(cls), used)
        wpath = f"{wprefix}layers/{wname}" if wname else None
        nodes = [[alias.get(r, r) for r in node] for node in call_refs(path, layer)]
        if cls in CONTAINERS:
            if len(nodes) != 1:
                raise _refuse(path, k3name, cls, f"is a nested model called {len(nodes)} times; only a nested "
                              "model called once can be flattened")
            _, sub_out, _ = _flatten(graph, layer, f"{wpath}/", nodes[0], k3name)
            for t, ref in enumerate(sub_out):
                alias[(k3name, 0, t)] = ref
            names[k3name] = sub_out[0][0]
            continue
        if cls not in SUPPORTED:
            raise InputError(unsupported({"config": {"layers": [layer]}}, path))
        if cls == "InputLayer" and inputs is not None:
            idx = [r[0] for r in in_refs].index(k3name)
            alias[(k3name, 0, 0)] = inputs[idx]
            continue
        new = graph.fresh(k3name, rename) if k3name in graph.names else k3name
        tconf = layer_config(path, cls, {**conf, "name": new, **({"trainable": False} if frozen else {})})
        graph.add(cls, tconf, nodes, wpath)
        for i in range(max(1, len(nodes))):
            alias[(k3name, i, 0)] = (new, i, 0)
        names[k3name] = new
    return [alias.get(r, r) for r in in_refs], [alias.get(r, r) for r in out_refs], names


def _unique(name: str, used: dict) -> str:
    """Keras 3's saving_lib._get_unique_name."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def translate(k3: Keras3File) -> Translation:
    """The tf_keras Functional config of a Keras 3 model; InputError naming the first layer or setting
    that cannot be translated."""
    cfg, path = k3.config, k3.path
    if not isinstance(cfg, dict) or cfg.get("class_name") not in CONTAINERS:
        raise InputError(f"{path}: the Keras 3 model is a {cfg.get('class_name') if isinstance(cfg, dict) else '?'}, "
                         "not a Functional or Sequential model; only those can be translated")
    if not (cfg.get("config") or {}).get("layers"):
        raise InputError(f"{path}: the Keras 3 {cfg.get('class_name')} has no layers")
    check_layer_count(cfg, path)
    refusal = unsupported(cfg, path)
    if refusal:
        raise InputError(refusal)
    graph = _Graph(path)
    try:
        ins, outs, names = _flatten(graph, cfg, "", None, "")
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise InputError(f"{path}: the Keras 3 config is malformed ({type(e).__name__}: {e})") from None
    if k3.kind == "h5" and any(w.count("layers/") > 1 for w in graph.weight_paths.values()):
        raise InputError(f"{path}: a Keras 3 .h5 with a nested model cannot be translated; save the model as "
                         ".keras (model.save('model.keras')) and pass that file")
    name = str((cfg.get("config") or {}).get("name") or "model")
    conf = {"name": name, "trainable": True, "layers": graph.layers,
            "input_layers": [list(r) for r in ins], "output_layers": [list(r) for r in outs]}
    order = [str((c.get("config") or {}).get("name")) for c in _container_layers(path, cfg)[0]]
    return Translation({"class_name": "Functional", "config": conf}, graph.weight_paths, names,
                       [n for n in order if n in names])
