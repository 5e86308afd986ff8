"""The JSON Schema of the recipe (`optimize-cli schema`), for editors' YAML language servers and CI."""
from __future__ import annotations

from .. import stages as stage_registry
from .model import NULLABLE_SECTIONS, Recipe
from ..data import DATA_SOURCES


def json_schema() -> dict:
    """JSON Schema of the recipe, for editors' YAML language servers and CI linting."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/optimize-cli/optimize-cli/recipe.schema.json"
    schema["title"] = "optimize-cli recipe"
    props, defs = schema["properties"], schema.get("$defs", {})
    # what the loader accepts beyond the pydantic models: bare stage types, empty sections
    stages = props["stages"]
    stages["items"] = {"anyOf": [{"enum": list(stage_registry.STAGES), "description": "A stage type with its defaults."},
                                 stages["items"]]}
    for cls in [*stage_registry.STAGES.values(), *(m for t, m in DATA_SOURCES.items() if t != "npz")]:
        d = defs.get(cls.__name__)
        if d is not None and "type" not in d.get("required", []):
            d["required"] = ["type"] + d.get("required", [])
    for sec in NULLABLE_SECTIONS:
        if sec in props:
            props[sec] = {"anyOf": [props[sec], {"type": "null"}]}
    return schema
