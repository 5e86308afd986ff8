"""What is wrong with a recipe, in words: one-line problems naming file, line and dotted path, with a
"did you mean" where one is close, and the translation of pydantic's errors into them."""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel

from .. import stages as stage_registry
from ..data import DATA_SOURCES, DataConfig, FeatureSpec, TfrecordSource, ValidationSplit
from ..errors import EXIT_INPUT, RecipeError
from .model import EvaluationConfig, ExportConfig, GatesConfig, Recipe, TrainingConfig
from .targets import TARGET_TYPES
from .text import one_line, show_value

STAGES = stage_registry.STAGES  # the live registry: type → parameter model


@dataclass
class Problem:
    """One thing wrong with a recipe."""

    loc: str  # dotted path of the bad value, '' for the whole document
    message: str
    line: Optional[int] = None
    origin: Optional[str] = None  # "--set" / "--model" when the bad value came from the command line

    def __post_init__(self):
        if not self.message.isprintable():  # a problem is one line, whatever the user's value held
            self.message = one_line(self.message)

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        text = f"{where}: {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"
        return f"{text} (from {self.origin})" if self.origin else text


class RecipeProblems(RecipeError):
    """A RecipeError that keeps every problem found (validate --json lists them all)."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        first = problems[0].render(file)
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        super().__init__(first + more)


class DataProblems(RecipeProblems):
    """Problems that are all about data that does not fit (sample counts, the model's input shape), read
    from the files' headers before anything is loaded: exit 3, as when the loader finds them; `validate`
    lists them with the recipe's problems."""

    exit_code = EXIT_INPUT


# ------------------------------------------------------------------------------ explaining pydantic


SECTIONS = {
    "": Recipe,
    "data": DataConfig,
    "training": TrainingConfig,
    "export": ExportConfig,
    "gates": GatesConfig,
    "evaluation": EvaluationConfig,
}


def raw_at(raw: Any, parts: list) -> Any:
    node = raw
    for p in parts:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def model_at(raw: Any, parts: list) -> Optional[type[BaseModel]]:
    """The pydantic model that describes the mapping at `parts` of the raw recipe."""
    if not parts:
        return Recipe
    if parts[0] == "stages" and len(parts) == 2:
        st = raw_at(raw, parts)
        tag = st if isinstance(st, str) else st.get("type") if isinstance(st, dict) else None
        try:
            return STAGES.get(tag)
        except TypeError:  # unhashable tag
            return None
    if parts[0] == "data" and len(parts) >= 2:
        src = raw_at(raw, parts[:2])
        tag = src.get("type", "validation_split" if "validation_split" in src else "npz") if isinstance(src, dict) else "npz"
        try:
            model = {**DATA_SOURCES, "validation_split": ValidationSplit}.get(tag)
        except TypeError:  # unhashable tag
            return None
        if len(parts) == 2:
            return model
        if model is TfrecordSource and len(parts) == 4 and parts[2] == "features":
            return FeatureSpec
        return None
    if len(parts) == 1:
        return SECTIONS.get(parts[0])
    return None


def _fields_of(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def did_you_mean(word: Any, options) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def homes_of(key: str) -> list[str]:
    """Where a key that is unknown here does belong ('training', 'a stage', ...)."""
    homes = [sec for sec, model in SECTIONS.items() if sec and key in model.model_fields]
    in_stages = [t for t, m in STAGES.items() if key in m.model_fields]
    if in_stages and len(in_stages) == len(STAGES):
        homes.append("a stage")
    elif in_stages:
        homes.append(" or ".join(f"a {t} stage" for t in in_stages))
    if any(key in m.model_fields for m in DATA_SOURCES.values()):
        homes.append("a data source (data.train, data.eval, data.representative)")
    if key in Recipe.model_fields:
        homes.append("the top level")
    return homes


def clean_loc(loc: tuple) -> list:
    """Pydantic puts the union tag in the loc (stages.0.prune.epochs); drop it."""
    parts, i = [], 0
    loc = list(loc)
    while i < len(loc):
        p = loc[i]
        parts.append(p)
        if (p in ("stages", "targets") and i + 2 < len(loc) and isinstance(loc[i + 1], int)
                and loc[i + 2] in (STAGES if p == "stages" else TARGET_TYPES)):
            parts.append(loc[i + 1])
            i += 3
            continue
        if (len(parts) == 2 and parts[0] == "data" and i + 1 < len(loc)
                and (loc[i + 1] in DATA_SOURCES or loc[i + 1] == "validation_split")):
            i += 2
            continue
        i += 1
    return parts


_M_BY_N = "must be two integers m, n with 0 < m < n, e.g. [2, 4]"


def explain(err: dict, raw: Any) -> tuple[list, str, bool]:  # noqa: C901 - one branch per kind of problem, each a line
    """(loc parts, message, point at the key rather than the value) for one pydantic error."""
    typ, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    parts = clean_loc(err["loc"])
    got = f"(got {show_value(inp)})"
    if typ == "extra_forbidden":
        key = parts[-1]
        model = model_at(raw, parts[:-1])
        hint = did_you_mean(key, _fields_of(model)) if model else ""
        if hint:
            return parts, f"unknown key ({hint})", True
        homes = [h for h in homes_of(str(key)) if h != ".".join(str(p) for p in parts[:-1])]
        if homes:
            return parts, f"unknown key here: '{key}' belongs in {' or '.join(homes)}", True
        valid = f"; valid keys: {', '.join(_fields_of(model))}" if model else ""
        return parts, f"unknown key{valid}", True
    if typ == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        node = raw_at(raw, parts)
        tag = node.get("type") if isinstance(node, dict) else ctx.get("tag")
        what = "stage type" if parts and parts[0] == "stages" else "data source type"
        hint = did_you_mean(tag, tags)
        shown = f"'{tag}'" if isinstance(tag, str) and tag.isprintable() else show_value(tag)
        return parts + ["type"], f"unknown {what} {shown}{f' ({hint})' if hint else ''}; valid: {', '.join(tags)}", False
    if typ == "union_tag_not_found":
        if parts and parts[0] == "stages":
            return parts, f"needs a 'type' key: one of {', '.join(STAGES)}", False
        return parts, "needs a 'type' key", False
    if "sparsity_m_by_n" in parts:
        i = parts.index("sparsity_m_by_n")
        return parts[: i + 1], f"{_M_BY_N} (got {show_value(raw_at(raw, parts[: i + 1]))})", False
    if typ == "missing":
        if parts == ["version"]:
            return parts, "required: add 'version: 1' at the top of the recipe", True
        return parts, "required", True
    if isinstance(inp, float) and not math.isfinite(inp):
        return parts, f"must be a finite number {got}", False
    numeric = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_type", "float_type")
    if isinstance(inp, bool) and typ in numeric:
        return parts, f"must be a number, not {show_value(inp)}", False
    if typ == "literal_error":
        expected = str(ctx.get("expected", ""))
        if parts == ["version"]:
            return parts, f"unsupported recipe version {show_value(inp)}: this optimize-cli reads version 1", False
        opts = [a or b for a, b in re.findall(r"'([^']*)'|(\d+)", expected)]
        hint = did_you_mean(inp, opts)
        return parts, f"must be {expected} (got {show_value(inp)}{'; ' + hint if hint else ''})", False
    bounds = {
        "greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<=",
    }
    if typ in bounds:
        limit = next(iter(ctx.values()), "?")
        return parts, f"must be {bounds[typ]} {limit} {got}", False
    if typ in ("too_short", "too_long"):
        n = ctx.get("min_length" if typ == "too_short" else "max_length")
        return parts, f"must have {'at least' if typ == 'too_short' else 'at most'} {n} items {got}", False
    if typ in ("model_type", "model_attributes_type", "dict_type") and len(parts) == 2 and parts[0] == "stages":
        return parts, f"must be a stage type ({', '.join(STAGES)}) or a mapping with a 'type' key {got}", False
    kinds = {
        "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "a whole number",
        "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
        "bool_type": "true or false", "string_type": "a string", "list_type": "a list",
        "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
        "tuple_type": "a list", "finite_number": "a finite number",
    }
    if typ in kinds:
        return parts, f"must be {kinds[typ]} {got}", False
    if typ == "string_pattern_mismatch":
        if parts == ["name"]:
            return parts, f"must be letters, digits, '.', '_' or '-', starting with a letter or digit {got}", False
        return parts, f"must match {ctx.get('pattern')} {got}", False
    msg = " ".join(str(err.get("msg") or "invalid").split())
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    # a model validator's message that starts with a field's name is about that field
    model = model_at(raw, parts)
    first = re.match(r"([a-z_]+)\b", msg)
    if model is not None and first and first.group(1) in model.model_fields:
        name = first.group(1)
        m = re.fullmatch(re.escape(name) + r" \(([^()]*)\) (.+)", msg)  # "end_step (5) must be after ..."
        return parts + [name], f"{m.group(2)} (got {m.group(1)})" if m else msg, False
    return parts, (msg[0].lower() + msg[1:]) if msg else "invalid", False


def without_hinted(items) -> list:
    """Drop 'required' for a key that an unknown sibling key's "did you mean" already names
    (`imagesize: [8, 8]` is one mistake, not a missing image_size as well)."""
    items = list(items)
    hinted = set()
    for parts, msg, _ in items:
        m = re.match(r"unknown key \(did you mean '([^']+)'\?\)", msg)
        if m:
            hinted.add(tuple(parts[:-1]) + (m.group(1),))
    return [it for it in items if not (it[1] == "required" and tuple(it[0]) in hinted)] or items


def typed_problems(model: BaseModel, raw: Any, parts: list) -> list[tuple[list, str]]:  # noqa: C901 - one branch per kind of problem, each a line
    """What pydantic's lax mode lets through: `true` for a number, `.nan`/`.inf` for a number."""
    out: list[tuple[list, str]] = []
    if not isinstance(raw, dict):
        return out
    for name in type(model).model_fields:
        if name not in raw:
            continue
        rv, v, here = raw[name], getattr(model, name, None), parts + [name]
        if isinstance(v, BaseModel):
            out += typed_problems(v, rv, here)
        elif isinstance(v, list) and isinstance(rv, list):
            for i, (item, ritem) in enumerate(zip(v, rv, strict=False)):
                if isinstance(item, BaseModel):
                    out += typed_problems(item, ritem, here + [i])
                elif isinstance(ritem, bool) and isinstance(item, (int, float)) and not isinstance(item, bool):
                    out.append((here + [i], f"must be a number, not {show_value(ritem)}"))
        elif isinstance(v, dict) and isinstance(rv, dict):
            for k, item in v.items():
                if isinstance(item, BaseModel) and k in rv:
                    out += typed_problems(item, rv[k], here + [k])
        elif isinstance(v, tuple) and isinstance(rv, (list, tuple)):
            if any(isinstance(x, bool) for x in rv):
                out.append((here, f"must be numbers, not true/false (got {show_value(rv)})"))
        elif isinstance(rv, bool) and isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((here, f"must be a number, not {show_value(rv)}"))
        elif isinstance(v, float) and not math.isfinite(v):
            out.append((here, f"must be a finite number (got {show_value(v)})"))
    return out


