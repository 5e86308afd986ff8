"""The search recipe in the JSON Schema (`optimize-cli schema`): a `{search: [lo, hi], log: …}` or
`{search: {choices: [...]}}` value wherever a stage, `training:` or `export:` key takes a number or a
choice, `optional: true` on a stage, and the `search:` section. Compatible: a plain recipe validates as
before (every addition is an alternative or an optional key). The bounds of a range are checked by
`validate` (both ends against the key's own limits), the choices here against the key's own schema."""
from __future__ import annotations

import copy
from typing import Any

from .. import stages as stage_registry

#: the defs whose keys may be searched (recipe/space.py SEARCHABLE: stages, training, export)
SEARCHED_DEFS = ("TrainingConfig", "ExportConfig")
_SCALARS = {"number", "integer", "string", "boolean"}


def _branches(p: dict) -> list[dict]:
    return [b for b in p.get("anyOf", [p]) if isinstance(b, dict)]


def _is_scalar(p: dict) -> bool:
    """A key that takes a number, a string or an enum (not a list, a section or a reference)."""
    kinds = [b for b in _branches(p) if b.get("type") != "null"]
    return bool(kinds) and all(("enum" in b or b.get("type") in _SCALARS) and "$ref" not in b and "const" not in b
                               for b in kinds)


def _is_numeric(p: dict) -> bool:
    return any(b.get("type") in ("number", "integer") for b in _branches(p))


def space_schema(p: dict) -> dict:
    """The `{search: …}` alternative for a key whose own schema is `p`."""
    plain = {k: v for k, v in p.items() if k not in ("default", "title", "description")}
    choices = {"type": "object", "required": ["choices"], "additionalProperties": False,
               "properties": {"choices": {"type": "array", "minItems": 1, "items": copy.deepcopy(plain),
                                          "description": "The values a trial chooses from."}}}
    spec: dict[str, Any] = choices
    props: dict[str, Any] = {}
    if _is_numeric(p):
        spec = {"anyOf": [{"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                           "description": "[lo, hi]: an int range when both are ints, else a float range."},
                          choices]}
        props["log"] = {"type": "boolean", "description": "Sample the range on a log scale (lo > 0)."}
    return {"type": "object", "required": ["search"], "additionalProperties": False,
            "description": "Searched by `optimize-cli search`: {search: [lo, hi]} or {search: {choices: [...]}}.",
            "properties": {"search": spec, **props}}


def _searchable(d: dict) -> None:
    for key, p in (d.get("properties") or {}).items():
        if key != "type" and isinstance(p, dict) and _is_scalar(p):
            keep = {k: p[k] for k in ("default", "title", "description") if k in p}
            inner = {k: v for k, v in p.items() if k not in keep}
            d["properties"][key] = {**keep, "anyOf": [*(inner.get("anyOf") or [inner]), space_schema(p)]}


def add_search(schema: dict) -> dict:
    """The recipe schema with search spaces, optional stages and the `search:` section."""
    from .space import SearchConfig

    defs = schema.get("$defs", {})
    stage_defs = [cls.__name__ for cls in stage_registry.STAGES.values()]
    for name in (*stage_defs, *SEARCHED_DEFS):
        if name in defs:
            _searchable(defs[name])
    for name in stage_defs:
        if name in defs:
            defs[name].setdefault("properties", {})["optional"] = {
                "type": "boolean", "default": False,
                "description": "Search recipes: `optimize-cli search` tries the path with and without this stage."}
    section = SearchConfig.model_json_schema()
    section.pop("title", None)
    defs.update(section.pop("$defs", {}))
    section["description"] = ("`optimize-cli search`: objectives (minimized), trials, sampler, seed, sensitivity. "
                              "A recipe with this section, a {search: ...} value or an optional stage is a search "
                              "recipe: `run` refuses it, `search` runs it.")
    schema["properties"]["search"] = section
    return schema
