"""--resume: which finished stages can be reused, and what changed when one cannot.

`--resume` continues after the last finished stage of `.DIR.partial/stages` (an interrupted or failed
run) or else of `DIR/stages` (a completed run), and refuses (exit 2) naming what changed when a finished
stage was made from something else. Export, gates and evaluation settings do not invalidate stages
(changed evaluation re-measures the reused stages' Keras accuracy)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import RecipeError
from ..progress import Reporter
from .fingerprint import resolved_stages
from .run_dir import MANIFEST, MANIFEST_FORMAT, RunDir, finished, stage_dirname


def _show(v) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return text if len(text) <= 60 else text[:59] + "…"


def _diff(old, new, path: str = "") -> list[tuple[str, object, object]]:
    """(dotted path, old, new) for every leaf that differs; lists index as [i]."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            p = f"{path}.{k}" if path else str(k)
            out += _diff(old.get(k, "(absent)"), new.get(k, "(absent)"), p)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _diff(a, b, f"{path}[{i}]")
        return out
    return [] if old == new else [(path, old, new)]


def _data_change(recipe, path: str, a, b) -> str:
    if path.endswith(".files"):
        split = path.split(".")[1]
        src = getattr(recipe.data, split, None)
        where = getattr(src, "path", None) or getattr(src, "data_dir", None) or ""
        return f"data.{split} ({where}) has different contents" if where else f"data.{split} has different contents"
    return f"{path.replace('.source.', '.')}: {_show(a)} → {_show(b)}"


def what_changed(recipe, old: dict, new: dict) -> str:
    """One phrase per kind of change: the environment, the model, the data, the recipe's settings."""
    env, model, data, settings = [], [], [], []
    for path, a, b in _diff(old, new):
        if path.startswith("environment."):
            env.append(f"{path.split('.', 1)[1]} {a} → {b}")
        elif path == "model":
            model.append(f"{recipe.model} has different contents")
        elif path.startswith("data."):
            data.append(_data_change(recipe, path, a, b))
        else:  # stages[...] and training.*
            settings.append(f"{path}: {_show(a)} → {_show(b)}")
    parts = []
    if settings:
        parts.append("the recipe's stage or training parameters changed (" + ", ".join(settings[:4])
                     + (f", and {len(settings) - 4} more" if len(settings) > 4 else "") + ")")
    if model:
        parts.append("the model changed (" + ", ".join(model) + ")")
    if data:
        parts.append("the training data changed (" + ", ".join(data) + ")")
    if env:
        parts.append("the libraries changed (" + ", ".join(env) + ")")
    return "; ".join(parts) or "its fingerprint differs"


def read_manifest(stages: Path) -> dict:
    """stages/manifest.json when it is format 2, else {}."""
    try:
        m = json.loads((stages / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return m if isinstance(m, dict) and m.get("format") == MANIFEST_FORMAT else {}


def plan_resume(recipe, out: RunDir, made_from: dict, reporter: Reporter) -> tuple[int, dict]:
    """How many stages of `out.stages` can be reused (RecipeError, exit 2, naming what changed when a
    finished stage was made from something else), and the manifest."""
    manifest = read_manifest(out.stages)
    entries = manifest.get("stages", {})
    stages_d = resolved_stages(recipe)
    done = 0
    for i, st in enumerate(recipe.stages, start=1):
        d = out.stages / stage_dirname(i, st.type)
        if not finished(d):
            break
        entry = entries.get(str(i))
        if not isinstance(entry, dict) or "made_from" not in entry:
            raise RecipeError(f"--resume: stage {i} ({st.type}) in {out.stages} has no fingerprint in {MANIFEST}, "
                              "so what it was made from cannot be checked; run with --force instead of --resume to "
                              "start over")
        want = {**made_from, "stages": stages_d[:i]}
        if entry["made_from"] != want:
            raise RecipeError(f"--resume: cannot continue {out.given}: since stage {i} ({st.type}) was made, "
                              f"{what_changed(recipe, entry['made_from'], want)}; run with --force instead of "
                              "--resume to start over")
        done = i
    if not done:
        reporter.log("--resume: no finished stage to continue from; starting from the first stage")
    return done, manifest
