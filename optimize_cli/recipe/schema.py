"""The JSON Schema of the recipe (`optimize-cli schema`), for editors' YAML language servers and CI.

Written for generic validators (jsonschema, yaml-language-server): a stage or data source is chosen by
if/then on its `type` (each branch's errors are the chosen model's own, not "matches none of oneOf"),
every `type` says what it is, a default is shown where one exists, and `data` is required where a
training stage or int8 calibration needs it."""
from __future__ import annotations

from typing import Any, Optional

from .. import stages as stage_registry
from .. import targets as target_registry
from ..data import DATA_SOURCES
from .model import NULLABLE_SECTIONS, Recipe
from .search_schema import add_search

#: the first line a recipe needs for editors that use yaml-language-server (VS Code's YAML extension, …)
MODELINE = "# yaml-language-server: $schema=recipe.schema.json"
#: defaults the models leave as null because they depend on other fields, where one value is still right
FIXED_DEFAULTS = {("ExportConfig", "quantization"): "int8"}
#: the quantizations that calibrate on representative samples (data.representative or data.train)
CALIBRATED = ["int8", "int16x8"]


def json_schema() -> dict:
    """JSON Schema of the recipe, for editors' YAML language servers and CI linting."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/optimize-cli/optimize-cli/recipe.schema.json"
    schema["title"] = "optimize-cli recipe"
    schema["description"] = ("An optimize-cli recipe. For editors: save `optimize-cli schema -o recipe.schema.json` and "
                             f"start the recipe with `{MODELINE}`.")
    props, defs = schema["properties"], schema.get("$defs", {})
    # what the loader accepts beyond the pydantic models: bare stage types, empty sections
    stages = props["stages"]
    stages["items"] = {"anyOf": [{"enum": list(stage_registry.STAGES), "description": "A stage type with its defaults: "
                                  + "; ".join(f"{t}: {_first_sentence(m)}" for t, m in stage_registry.STAGES.items())},
                                 stages["items"]]}
    props["targets"]["items"] = {"anyOf": [{"enum": list(dict.fromkeys([*target_registry.TARGET_TYPES, *target_registry.INSPECT_NAMES])),
                                            "description": "A target type with its defaults, or a bare name a "
                                            "target takes (e.g. an accelerator)."}, props["targets"]["items"]]}
    for cls in [*stage_registry.STAGES.values(), *(m for t, m in DATA_SOURCES.items() if t != "npz")]:
        d = defs.get(cls.__name__)
        if d is not None and "type" not in d.get("required", []):
            d["required"] = ["type"] + d.get("required", [])
    _describe_types(defs)
    _fix_defaults({**defs, "Recipe": schema})
    schema = _if_then_on_type(schema)
    for sec in NULLABLE_SECTIONS:
        if sec in schema["properties"]:
            schema["properties"][sec] = {"anyOf": [schema["properties"][sec], {"type": "null"}]}
    schema["allOf"] = _data_needed()
    return add_search(schema)


def _first_sentence(cls) -> str:
    doc = " ".join((cls.__doc__ or "").split())
    return doc.split(". ")[0].rstrip(".") + "." if doc else ""


def _models_by_name() -> dict[str, Any]:
    return {m.__name__: m for m in [*stage_registry.STAGES.values(), *DATA_SOURCES.values(),
                                    *(t.Params for t in target_registry.TARGETS)]}


def _describe_types(defs: dict) -> None:
    """Every `type` property says what the model is ("npz: Arrays from a NumPy .npz file, …")."""
    models = _models_by_name()
    for name, d in defs.items():
        t = (d.get("properties") or {}).get("type")
        if isinstance(t, dict) and "const" in t and "description" not in t:
            cls = models.get(name)
            t["description"] = f"{t['const']}: {_first_sentence(cls) if cls else d.get('description', '')}".strip()


def _fix_defaults(defs: dict) -> None:
    """A null default that stands for "derived from other fields" is left out (the description says what
    happens); a fixed value where there is one."""
    for name, d in defs.items():
        for key, p in (d.get("properties") or {}).items():
            if not isinstance(p, dict) or "default" not in p or p["default"] is not None:
                continue
            if (name, key) in FIXED_DEFAULTS:
                p["default"] = FIXED_DEFAULTS[(name, key)]
            else:
                del p["default"]


def _if_then_on_type(node: Any) -> Any:
    """Replace pydantic's discriminated `oneOf` (which generic validators report as "not valid under any
    of the given schemas") by an enum of the types and one if/then per type."""
    if isinstance(node, list):
        return [_if_then_on_type(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _if_then_on_type(v) for k, v in node.items()}
    disc = node.get("discriminator")
    if not isinstance(disc, dict) or "mapping" not in disc:
        return node
    mapping: dict[str, str] = disc["mapping"]
    branches = [{"if": {"properties": {"type": {"const": t}}, "required": ["type"]}, "then": {"$ref": ref}}
                for t, ref in mapping.items()]
    # a data source without `type` is npz, or in data.eval {validation_split: …}
    if "npz" in mapping:
        untyped: dict[str, Any] = {"not": {"required": ["type"]}}
        if "validation_split" in mapping:
            branches.append({"if": {**untyped, "required": ["validation_split"]},
                             "then": {"$ref": mapping["validation_split"]}})
            untyped = {"not": {"anyOf": [{"required": ["type"]}, {"required": ["validation_split"]}]}}
        branches.append({"if": untyped, "then": {"$ref": mapping["npz"]}})
    kinds = ("data source" if "npz" in mapping else
             "target" if set(mapping) <= set(target_registry.TARGET_TYPES) else "stage")
    return {"type": "object",
            "properties": {"type": {"enum": list(mapping), "description": f"The {kinds} type: {', '.join(mapping)}."}},
            **({} if "npz" in mapping else {"required": ["type"]}),
            "allOf": branches}


def _quantization_is(values: list[Optional[str]]) -> dict:
    """A recipe whose export.quantization is one of ``values`` (None: left out, which is int8)."""
    q: dict[str, Any] = {"enum": values}
    cases: list[dict] = [{"properties": {"export": {"type": "object", "required": ["quantization"],
                                                    "properties": {"quantization": q}}}, "required": ["export"]}]
    if None in values:
        cases += [{"not": {"required": ["export"]}},
                  {"properties": {"export": {"anyOf": [{"type": "null"}, {"not": {"required": ["quantization"]}}]}}}]
    return {"anyOf": cases}


def _data_needed() -> list[dict]:
    """`data.train` is required by a training stage; int8 / int16x8 calibration needs data.representative
    or data.train."""
    with_stages = {"properties": {"stages": {"minItems": 1}}, "required": ["stages"]}
    return [
        {"if": with_stages,
         "then": {"required": ["data"], "properties": {"data": {"type": "object", "required": ["train"]}},
                  "description": "A training stage (prune, cluster, qat) fine-tunes on data.train."}},
        {"if": _quantization_is([*CALIBRATED, None]),
         "then": {"required": ["data"],
                  "properties": {"data": {"type": "object",
                                          "anyOf": [{"required": ["representative"]}, {"required": ["train"]}]}},
                  "description": "int8 and int16x8 (the default export is int8) calibrate on "
                                 "data.representative or data.train."}},
    ]
