"""The model config of each format, read without deserializing anything (so that models/safety.py can
decide before tf_keras builds a layer): a .h5's `model_config` / `training_config` attributes (h5py), a
.keras zip's config.json, and a SavedModel's `keras_metadata.pb` / object-graph metadata (protobuf only).
Every read is bounded (models/files.py)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Optional

from ..errors import InputError, one_line
from .files import MAX_CONFIG_BYTES, MAX_PROTOBUF_BYTES, read_bounded
from .safety import SIDE_EFFECT_OPS, UnsafeModelError, refuse_unsafe_config


def _as_text(raw: Any) -> Any:
    if hasattr(raw, "item") and not isinstance(raw, (bytes, str)):
        raw = raw.item()  # a numpy scalar
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8", "replace")
    return raw


def parse_json(raw: Any, path: str, what: str) -> Any:
    """JSON text (str or bytes) → value; InputError naming `what` when it is not JSON (any nesting depth
    is an error, not a crash)."""
    raw = _as_text(raw)
    if not isinstance(raw, str) or len(raw) > MAX_CONFIG_BYTES:
        raise InputError(f"{path}: the {what} is not a JSON text this tool can read")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise InputError(f"{path}: the {what} is not valid JSON ({one_line(e, 120)})") from None


def h5_config(path: str) -> tuple[Optional[Any], Optional[Any]]:
    """(model_config, training_config) of a .h5, read with h5py; (None, None) without a model config."""
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        training = f.attrs.get("training_config")
        if raw is None:
            return None, None
        cfg = parse_json(raw, path, "model_config attribute")
        return cfg, (parse_json(training, path, "training_config attribute") if training is not None else None)


def _zip_member(z: zipfile.ZipFile, name: str, path: str) -> bytes:
    """A .keras member within the config bound (its declared size checked before anything is read)."""
    from ..safe_files import read_zip_member

    return read_zip_member(z, name, MAX_CONFIG_BYTES, path)


def keras_zip_config(path: str) -> tuple[dict, dict]:
    """(config.json, metadata.json) of a .keras zip."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if "config.json" not in names:
            raise InputError(f"{path}: not a Keras .keras file (the zip has no config.json)")
        cfg = parse_json(_zip_member(z, "config.json", path), path, "config.json")
        meta = parse_json(_zip_member(z, "metadata.json", path), path, "metadata.json") \
            if "metadata.json" in names else {}
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: config.json is not a Keras model config (not a JSON object)")
    return cfg, meta if isinstance(meta, dict) else {}


def read_saved_model_pb(path: Path):
    """The SavedModel protobuf of a SavedModel directory (bounded read)."""
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString(read_bounded(path / "saved_model.pb", MAX_PROTOBUF_BYTES, "saved_model.pb"))
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise InputError(f"{path}: cannot read saved_model.pb ({one_line(e, 120)})") from None
    if not sm.meta_graphs:
        raise InputError(f"{path}: saved_model.pb has no meta graph")
    return sm


def savedmodel_root_identifier(sm) -> Optional[str]:
    """The user-object identifier of the SavedModel's root object (Keras models say `_tf_keras_*`)."""
    nodes = sm.meta_graphs[0].object_graph_def.nodes
    if not nodes:
        return None
    root = nodes[0]
    return root.user_object.identifier if root.WhichOneof("kind") == "user_object" else None


def savedmodel_metadata(path: Path, sm) -> list[tuple[str, str]]:
    """(where, metadata JSON text) of every Keras object a SavedModel records: the nodes of
    keras_metadata.pb, and the user objects of saved_model.pb (where pre-2.5 SavedModels keep them; `sm`
    None for a SavedModel written as saved_model.pbtxt)."""
    out: list[tuple[str, str]] = []
    meta_file = path / "keras_metadata.pb"
    if meta_file.exists():
        from tf_keras.protobuf import saved_metadata_pb2  # protobuf only: nothing is revived

        meta = saved_metadata_pb2.SavedMetadata()
        try:
            meta.ParseFromString(read_bounded(meta_file, MAX_PROTOBUF_BYTES, "keras_metadata.pb"))
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{path}: cannot read keras_metadata.pb ({one_line(e, 120)})") from None
        out += [(f"keras_metadata.pb node {n.node_id} ({n.node_path})", n.metadata) for n in meta.nodes]
    for i, n in enumerate(sm.meta_graphs[0].object_graph_def.nodes if sm is not None else []):
        if n.WhichOneof("kind") == "user_object" and n.user_object.metadata:
            out.append((f"saved_model.pb node {i} ({n.user_object.identifier})", n.user_object.metadata))
    return out


def side_effect_op(sm) -> Optional[tuple[str, str, str]]:
    """(op type, node name, function) of the first graph op in a SavedModel (its graph and every function of
    its library) that writes files or runs Python when the model runs (safety.SIDE_EFFECT_OPS)."""
    for mg in sm.meta_graphs:
        for node in mg.graph_def.node:
            if node.op in SIDE_EFFECT_OPS:
                return node.op, node.name, "the graph"
        for fn in mg.graph_def.library.function:
            for node in fn.node_def:
                if node.op in SIDE_EFFECT_OPS:
                    return node.op, node.name, f"function {fn.signature.name}"
    return None


def refuse_side_effect_ops(path: Path, sm, trust_model: bool) -> None:
    """Refuse a SavedModel whose graph holds an op that reaches outside the model (exit 3)."""
    found = None if trust_model or sm is None else side_effect_op(sm)
    if found is not None:
        op, node, where = found
        raise UnsafeModelError(f"{path}: graph op '{node}' ({op}, in {where}) writes files or runs Python when "
                               "the model runs; pass --trust-model if you trust this file")


def refuse_unsafe_savedmodel(path: Path, sm, trust_model: bool) -> None:
    """Refuse a SavedModel whose Keras metadata holds a Lambda, a function or a foreign module anywhere.
    Custom classes are allowed: tf_keras revives them from their traced graphs, without Python code."""
    if trust_model:
        return
    for where, text in savedmodel_metadata(path, sm):
        if not text:
            continue
        refuse_unsafe_config(str(path), parse_json(text, str(path), f"metadata of {where}"), False,
                             custom_too=False, root=where)
