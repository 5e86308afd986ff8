"""What a stage checkpoint was made from and what its record was measured with (stages/manifest.json,
format 2): content hashes of the model and the data, the settings, the library versions."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from .. import __version__


def hash_path(path: str | Path) -> str:
    """sha256 over a file's bytes, or over every file (relative name and bytes) under a directory."""
    h = hashlib.sha256()
    p = Path(path)
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def source_fingerprint(src) -> Optional[dict]:
    """A data source's settings (without where its files live) and the contents of the files it reads."""
    from ..data import source_files

    if src is None:
        return None
    cfg = src.model_dump(mode="json")
    bases = [Path(b) for b in (getattr(src, "path", None), getattr(src, "data_dir", None)) if b]
    if src.type != "python":  # moving the files elsewhere changes nothing; their contents do
        cfg.pop("path", None)
        cfg.pop("data_dir", None)
    files = source_files(src)
    h = hashlib.sha256()
    for f in files:
        # inside a folder source the names matter (image_dir: the class); a file named directly is its bytes
        base = next((b for b in bases if b.is_dir() and f.is_relative_to(b)), None)
        if base is not None:
            h.update(str(f.relative_to(base)).encode() + b"\0")
        h.update(hash_path(f).encode())
    return {"source": cfg, "files": h.hexdigest() if files else None}


def environment() -> dict:
    """The versions a checkpoint depends on."""
    from ..tf import versions

    v = versions()
    return {"optimize_cli": __version__, "tensorflow": v.get("tensorflow"), "tf_keras": v.get("tf_keras"),
            "tfmot": v.get("tfmot")}


def _json_copy(value):
    """The value as it reads back from JSON (tuples become lists, ...), so that it compares with a manifest."""
    return json.loads(json.dumps(value))


def made_from(recipe) -> dict:
    """What every stage depends on, except the stage list: model and training-data contents, data and
    training settings, library versions. Evaluation, export and gates are not in it."""
    d = recipe.resolved_dict()
    data = {"train": source_fingerprint(recipe.data.train)}
    if recipe.data.eval is not None and recipe.data.eval.type == "validation_split":
        data["validation_split"] = d["data"]["eval"]  # the held-out part is not trained on
    fp = {
        "environment": environment(),
        "model": hash_path(recipe.model),
        "data": data,
        "training": d["training"],
        # defaults that change what a stage trains without a recipe change (stages made before them differ)
        "defaults": {"distill": "on for single-output classifiers"},
    }
    return _json_copy(fp)


def stage_made_from(recipe, made: dict, index: int) -> dict:
    """What stage `index` (1-based) was made from: `made` plus the parameters of it and every stage before."""
    return {**made, "stages": resolved_stages(recipe)[:index]}


def resolved_stages(recipe) -> list:
    """The resolved parameters of every stage, as they read back from the manifest."""
    return _json_copy(recipe.resolved_dict()["stages"])


def evaluated_with(recipe, metric: str) -> dict:
    """What a stage record's keras_accuracy depends on besides the stage's model."""
    ev = recipe.data.eval
    if ev is not None and ev.type == "validation_split":
        evfp = {"validation_split": ev.model_dump(mode="json"), "train": source_fingerprint(recipe.data.train)}
    else:
        evfp = source_fingerprint(ev)
    e = recipe.evaluation
    return _json_copy({"eval": evfp, "metric": metric, "top_k": e.top_k, "output": e.output})
