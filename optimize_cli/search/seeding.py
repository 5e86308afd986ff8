"""The built-in recipes as the study's first trials (`search.builtins`, default on): a search never ends
worse than the built-in recipe a user would have run instead, because that recipe's point of the space is
tried first (Optuna's `enqueue_trial`; the trial's user attr `builtin` names it).

How a built-in maps to the space, precisely:
- its path must be one of the space's: the same stage types in the same order, given some on/off choice of
  the optional stages (a stage it lacks must be optional in the space), and its export.quantization must
  be the space's (or one of its choices); otherwise it does not fit and is skipped;
- each searched value of a stage that is on takes the built-in's value where the built-in sets that key;
  a stage or export key it leaves unset takes the key's own default when that is a plain value; a value outside the
  space's range or choices means the built-in does not fit (skipped);
- anything else (a training or export key the built-in leaves unset, a stage default derived from other
  keys) is left to the sampler, and whatever the search recipe fixes stays as it fixes it (the built-in's
  epochs, say, are not carried over: only the space's values are).

Seeded once, when the study is new; never with the grid sampler (it enumerates the space by itself). At
most the study's total; built-ins with the same values as one before them are tried once."""
from __future__ import annotations

from typing import Any, Optional

import yaml

from ..recipe.space import Param, SearchSpace

#: the user attr naming the built-in recipe a trial was seeded from
BUILTIN = "builtin"
_SEEDED = "optimize_cli.seeded"
_UNSET = object()


def _stage_types(raw: dict) -> list[str]:
    stages = raw.get("stages")
    return [s.get("type") for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []


def _get(node: Any, parts: list) -> Any:
    for k in parts:
        if isinstance(node, dict) and k in node or isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node):
            node = node[k]
        else:
            return _UNSET
    return node


def _default(stage_type: str, key: str) -> Any:
    from .. import stages

    cls = stages.STAGES.get(stage_type)
    f = cls.model_fields.get(key) if cls is not None else None
    if f is None or f.default is None or not isinstance(f.default, (int, float, str, bool)):
        return _UNSET
    return f.default


def _fits(p: Param, v: Any) -> bool:
    if p.kind == "choice":
        return v in p.choices
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return p.low <= v <= p.high and (p.kind == "float" or float(v).is_integer())


def params_of(space: SearchSpace, builtin: dict) -> Optional[dict]:
    """The space's values of a built-in recipe's raw content (name → value; keys it does not decide are
    absent), or None when it does not fit the space."""
    types = _stage_types(space.raw)
    has = _stage_types(builtin)
    on = {i: types[i] in has for i in range(len(types))}
    optional = {p.stage for p in space.params if p.kind == "optional"}
    if [t for i, t in enumerate(types) if on[i]] != has or any(not on[i] and i not in optional for i in on):
        return None
    by_name = {p.name: p for p in space.params}
    if "export.quantization" not in by_name:
        mine, theirs = _get(space.raw, ["export", "quantization"]), _get(builtin, ["export", "quantization"])
        if _quantization(mine) != _quantization(theirs):
            return None
    if not _same_export(space, builtin, by_name):
        return None
    values: dict = {}
    for p in space.params:
        if p.kind == "optional":
            values[p.name] = on[p.stage]
            continue
        if p.stage is not None and not on[p.stage]:
            continue
        v = _value(p, builtin, types)
        if v is _UNSET:
            continue
        if not _fits(p, v):
            return None
        values[p.name] = float(v) if p.kind == "float" else v
    return values


def _same_export(space: SearchSpace, builtin: dict, searched: dict) -> bool:
    """Whether every export key the built-in sets (but quantization, checked apart) is the search recipe's
    own value, its default when the recipe leaves it unset, or a searched one."""
    from ..recipe.model import ExportConfig

    theirs = builtin.get("export") if isinstance(builtin.get("export"), dict) else {}
    mine = space.raw.get("export") if isinstance(space.raw.get("export"), dict) else {}
    for key, value in theirs.items():
        if key == "quantization" or f"export.{key}" in searched:
            continue
        field = ExportConfig.model_fields.get(key)
        own = mine.get(key, field.default if field is not None else None)
        if value != own:
            return False
    return True


def _quantization(v: Any) -> Any:
    return "int8" if v is _UNSET or v is None else v  # ExportConfig's default


def _value(p: Param, builtin: dict, types: list[str]) -> Any:
    if p.parts[0] == "export" and len(p.parts) == 2 and _get(builtin, p.parts) is _UNSET:
        from ..recipe.model import ExportConfig  # an export key the built-in leaves unset: its default

        field = ExportConfig.model_fields.get(p.parts[1])
        plain = field is not None and isinstance(field.default, (int, float, str, bool))
        return field.default if plain else _UNSET
    if p.parts[0] != "stages":
        return _get(builtin, p.parts)
    stage = next(s for s in builtin["stages"] if isinstance(s, dict) and s.get("type") == types[p.stage])
    v = _get(stage, p.parts[2:])
    return _default(types[p.stage], p.parts[2]) if v is _UNSET and len(p.parts) == 3 else v


def builtin_points(space: SearchSpace) -> list[tuple[str, dict]]:
    """(built-in recipe name, its values) for each plain built-in recipe that fits the space, by name,
    without repeats."""
    from ..builtin import recipe_files
    from ..recipe.search_marks import has_search

    out: list[tuple[str, dict]] = []
    for path in recipe_files():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(raw, dict) or "search" in raw or has_search(raw):
            continue
        values = params_of(space, raw)
        if values and all(values != v for _, v in out):
            out.append((str(raw.get("name") or path.stem), values))
    return out


def seed_builtins(study, space: SearchSpace, room: int) -> list[str]:
    """Enqueue the fitting built-ins (at most `room`) into a study that has not been seeded; their names."""
    if not space.config.builtins or space.config.sampler == "grid" or study.user_attrs.get(_SEEDED):
        return []
    study.set_user_attr(_SEEDED, True)
    names = []
    for name, values in builtin_points(space)[:max(room, 0)]:
        study.enqueue_trial(values, user_attrs={BUILTIN: name}, skip_if_exists=True)
        names.append(name)
    return names
