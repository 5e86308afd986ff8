"""The tool's own search space, for a search recipe that names no `stages:` and searches nothing itself
(only its `search:` section; DESIGN.md, round 3 — one that searches export or training values without
stages keeps its meaning: post-training only): the
stages that apply to the model, each optional, with the values worth searching —

- filter_prune (thinning) with a small `ratio`, only where the model has a chain of Conv2D / Dense layers
  (two or more: the filters one removes are the next one's inputs); absent otherwise;
- prune with its `target_sparsity`, cluster with its number of `clusters` (sparsity-preserving after
  prune), and qat (its scheme follows from the path: QAT, PQAT, CQAT or PCQAT), which only an int8 export
  has;
- int4 weights (`export.weight_bits` 8 or 4) where every target's runtime runs them (LiteRT: a target
  module's INT4), ai-edge-quantizer is installed, and the recipe's export is int8 and leaves weight_bits
  and per_channel unset;
- the recipe's own `export:` (default int8), targets and gates as they are otherwise: the gates are the
  search's constraints, the targets what it measures. Per-tensor weights (`export.per_channel: false`)
  are not in the space: they hold for post-training exports only, and the space's QAT is optional.

Read without TensorFlow (`validate` shows the space built): the model's layers come from its config as
stored (a SavedModel's keras_metadata.pb, a .keras zip's config.json, an .h5's model_config), by name only;
a model whose config cannot be read is given filter_prune (a trial that cannot thin fails alone).
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Optional

#: the tool's space, stage by stage (thinning first: the order of the tree)
THIN = {"type": "filter_prune", "ratio": {"search": [0.1, 0.3]}, "optional": True}
STAGES = (
    {"type": "prune", "target_sparsity": {"search": [0.3, 0.8]}, "optional": True},
    {"type": "cluster", "clusters": {"search": {"choices": [8, 16, 32]}}, "optional": True},
    {"type": "qat", "optional": True},
)
_THINNABLE = re.compile(rb'"class_name": "(?:Conv2D|Dense)", "config": \{"name": "([^"]+)"')
_MAX_BYTES = 64 * 2**20


def _config_bytes(model: Path) -> Optional[bytes]:
    """The model's stored config (any of its formats), or None when it cannot be read without building it."""
    try:
        if model.is_dir():
            meta = model / "keras_metadata.pb"
            return meta.read_bytes()[:_MAX_BYTES] if meta.is_file() else None
        if model.suffix == ".keras":
            with zipfile.ZipFile(model) as z, z.open("config.json") as f:
                return f.read(_MAX_BYTES)
        if model.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(model, "r") as f:
                raw = f.attrs.get("model_config")
            return raw.encode() if isinstance(raw, str) else bytes(raw) if raw is not None else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, ImportError):
        return None
    return None


def thinnable_layers(model: Path) -> Optional[set[str]]:
    """The names of the model's Conv2D and Dense layers, or None when its config cannot be read."""
    data = _config_bytes(model)
    if data is None:
        return None
    return {m.decode("utf-8", "replace") for m in _THINNABLE.findall(data)}


#: the export values searched where every target runs int4 weights
WEIGHT_BITS = {"search": {"choices": [8, 4]}}


def auto_export(raw: dict) -> Optional[dict]:
    """The recipe's `export:` with the space's export values added (int4 where it runs), or None when the
    space searches no export value for it."""
    from .. import targets as registry
    from ..deploy import int4

    export = raw.get("export") if isinstance(raw.get("export"), dict) else {}
    if "export" in raw and not isinstance(raw.get("export"), dict) and raw.get("export") is not None:
        return None
    if export.get("quantization", "int8") != "int8" or "weight_bits" in export or "per_channel" in export:
        return None
    targets = raw.get("targets") if isinstance(raw.get("targets"), list) else []
    types = [t if isinstance(t, str) else t.get("type") if isinstance(t, dict) else None for t in targets]
    modules = [registry.module_for(t) for t in types] + [registry.module_for(registry.main_target())]
    if any(m is None or not getattr(m, "INT4", False) for m in modules) or int4.package_missing():
        return None
    return {**export, "weight_bits": dict(WEIGHT_BITS)}


_INPUT_LAYER = re.compile(rb'"class_name": "InputLayer"')
_SHAPE = re.compile(rb'"batch(?:_input)?_shape": (?:\{"class_name": "__tuple__", "items": )?\[([^\]]*)\]')


def input_shape(model: Path) -> Optional[tuple]:
    """The model's input shape without the batch axis, e.g. (8, 8, 1) (None for a free dimension), read from
    its stored config (tf_keras `batch_input_shape`, Keras 3 `batch_shape` of the InputLayer); None when
    the config cannot be read or the model has several inputs."""
    data = _config_bytes(model)
    if data is None:
        return None
    shapes = set()
    for m in _INPUT_LAYER.finditer(data):
        found = _SHAPE.search(data, m.end(), m.end() + 400)
        if found is None:
            return None
        try:
            dims = [d.strip() for d in found.group(1).decode("ascii").split(",")]
            shapes.add(tuple(None if d == "null" else int(d) for d in dims[1:]))
        except ValueError:
            return None
    return shapes.pop() if len(shapes) == 1 else None


def auto_stages(file: str, raw: dict) -> list[dict]:
    """The stages of the tool's space for the recipe `raw` read from `file` (its model relative to it)."""
    import copy

    stages = [copy.deepcopy(s) for s in STAGES]
    from ..stages.order import fixed_export

    export = raw.get("export") if isinstance(raw.get("export"), dict) else {}
    q = export.get("quantization", "int8")  # a stage that decides the export (QAT: int8) only for that one
    stages = [s for s in stages if (fixed_export([s["type"]]) or (None, q))[1] == q]
    model = raw.get("model")
    layers = None
    if isinstance(model, str) and model:
        p = Path(model).expanduser()
        layers = thinnable_layers(p if p.is_absolute() else Path(file).parent / p)
    if layers is None or len(layers) >= 2:
        stages.insert(0, copy.deepcopy(THIN))
    return stages
