"""The recipe language (DESIGN.md, `version: 1`): pydantic v2 models, loading, overrides and tree rules.

Never imports TensorFlow. Every problem becomes a `RecipeError` whose message names the file, the line
and the dotted path of the bad value, e.g.
``recipes/x.yaml:14: stages[1].clusters: must be > 2 when preserving sparsity``.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .data import (  # noqa: F401 - the data-source models, re-exported under the recipe's names
    DATA_SOURCES,
    DataConfig,
    DataSource,
    EvalSource,
    FeatureSpec,
    ImageDirSource,
    NpzSource,
    PythonSource,
    TfdsSource,
    TfrecordSource,
    ValidationSplit,
    check_source,
)
from .data import path_exists as _exists
from .data import resolve_path as _resolve
from .data import show_path as _show_path
from .errors import RecipeError
from .strict import Strict as _Strict
from .stages import STAGE_ORDER, STAGES, ClusterStage, PruneStage, QatStage
from .stages.qat import scheme_for

QUANTIZATIONS = ("none", "dynamic", "float16", "int8", "int16x8")


# --------------------------------------------------------------------------------------------- data
#
# The data-source models, their path checks and the `data` section live in optimize_cli/data/ (one module
# per source type, none imports TF); they are imported here so that the recipe's names stay as they were.


# ----------------------------------------------------------------------------------------- training


class TrainingConfig(_Strict):
    """Defaults for every training stage (each stage may override epochs, learning_rate, batch_size)."""

    batch_size: int = Field(64, ge=1, le=65_536, description="Samples per training step.")
    optimizer: Literal["adam", "sgd", "rmsprop"] = Field("adam", description="Optimizer for fine-tuning.")
    learning_rate: float = Field(
        1.0e-3,
        gt=0,
        le=10,
        description="Fine-tuning learning rate. Default 1e-3: on the real DS-CNN, 1e-4 (the tutorials' "
        "value) left 50%-pruned accuracy at 74.6% against 89.8% with 1e-3.",
    )
    freeze_batchnorm: bool = Field(
        True,
        description="Keep BatchNormalization layers in inference mode while fine-tuning (their statistics "
        "are not re-estimated from small fine-tuning batches; +1 point on the real DS-CNN).",
    )
    loss: Optional[str] = Field(
        None,
        description="Keras loss name; default: the model's saved compile config, else inferred from the "
        "output layer (probabilities or logits).",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed for Python, NumPy and TensorFlow.")


class EvaluationConfig(_Strict):
    """How the result is measured."""

    metric: Optional[Literal["accuracy", "top_k_accuracy", "binary_accuracy", "mae", "mse"]] = Field(
        None, description="Primary metric; default inferred from the loss (accuracy for classification)."
    )
    top_k: int = Field(5, ge=1, description="k for top_k_accuracy.")
    latency_runs: int = Field(50, ge=1, le=100_000, description="Timed single-sample invocations.")
    latency_warmup: int = Field(5, ge=0, le=10_000, description="Untimed invocations before timing.")
    threads: int = Field(1, ge=1, le=256, description="Interpreter threads for accuracy and latency.")
    output: Optional[Union[Annotated[int, Field(ge=0)], Annotated[str, Field(min_length=1)]]] = Field(
        None, description="For models with several outputs: the output the metric scores and the labels belong "
        "to, by name or index (default: the first output).")

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, v):
        if v is None or (isinstance(v, str) and v):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
        raise ValueError(f"must be an output name or an index >= 0 (got {_show(v)})")


# ------------------------------------------------------------------------------------------- export


class ExportConfig(_Strict):
    """The TFLite conversion."""

    quantization: Optional[Literal["none", "dynamic", "float16", "int8", "int16x8"]] = Field(
        None, description="none | dynamic | float16 | int8 | int16x8 (default int8; after qat always int8)."
    )
    inference_input_type: Optional[Literal["float32", "int8", "uint8", "int16"]] = Field(
        None, description="Input tensor type of the .tflite (default: int8 for int8, float32 otherwise)."
    )
    inference_output_type: Optional[Literal["float32", "int8", "uint8", "int16"]] = Field(
        None, description="Output tensor type of the .tflite (default: as inference_input_type)."
    )


class GatesConfig(_Strict):
    """Limits checked after the run; a missed gate exits 5 with everything still written."""

    max_accuracy_drop: Optional[float] = Field(
        None, ge=0, description="Largest allowed baseline − result accuracy (metric units, 0.02 = 2 points)."
    )
    min_compression_ratio: Optional[float] = Field(
        None, gt=0, description="Smallest allowed baseline.compressed_bytes / result.compressed_bytes."
    )
    max_compressed_bytes: Optional[int] = Field(None, gt=0, description="Largest allowed zipped .tflite size.")
    max_latency_ms: Optional[float] = Field(None, gt=0, description="Largest allowed median latency (ms).")


# ------------------------------------------------------------------------------------------- recipe

#: sections that may be written empty (`training:` alone) to mean "all defaults"
_NULLABLE_SECTIONS = ("data", "training", "export", "evaluation", "gates")

Stage = Annotated[Union[PruneStage, ClusterStage, QatStage], Field(discriminator="type")]


class Recipe(_Strict):
    """A path through the collaborative-optimization tree, from a model to a .tflite."""

    version: Literal[1] = Field(..., description="Recipe format version; always 1.")
    name: Optional[str] = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Run name (default: the file's stem)."
    )
    description: str = Field("", description="One line saying what this recipe does.")
    model: Optional[str] = Field(
        None, description="SavedModel directory, .h5 or .keras file (relative to the recipe; --model overrides)."
    )
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    stages: list[Stage] = Field(
        default_factory=list, description="The path: prune → cluster → qat, any subset in that order."
    )
    export: ExportConfig = Field(default_factory=ExportConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)

    _source: Optional[Path] = PrivateAttr(None)
    _sha256: Optional[str] = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, v):
        # `training:` with every sub-key commented out reads as null: it means "all defaults"
        if isinstance(v, dict) and any(v.get(k, 0) is None for k in _NULLABLE_SECTIONS):
            return {k: x for k, x in v.items() if not (k in _NULLABLE_SECTIONS and x is None)}
        return v

    @field_validator("stages", mode="before")
    @classmethod
    def _bare_types(cls, v):
        # the shortest recipe lists stage types only: `stages: [prune, cluster, qat]`
        if isinstance(v, list):
            return [{"type": s} if isinstance(s, str) else s for s in v]
        return v

    # ---- derived facts (filled in by `resolve`)
    @property
    def source(self) -> Optional[Path]:
        return self._source

    @property
    def sha256(self) -> Optional[str]:
        return self._sha256

    @property
    def stage_types(self) -> list[str]:
        return [s.type for s in self.stages]

    @property
    def qat_scheme(self) -> Optional[str]:
        types = self.stage_types
        return scheme_for(types[: types.index("qat")]) if "qat" in types else None

    def resolved_dict(self) -> dict:
        """The recipe with every default and override filled in (recipe.resolved.yaml)."""
        return self.model_dump(mode="json")

    def resolved_yaml(self) -> str:
        return yaml.safe_dump(self.resolved_dict(), sort_keys=False, allow_unicode=True)


# ------------------------------------------------------------------------------------------ loading


@dataclass
class Problem:
    """One thing wrong with a recipe."""

    loc: str  # dotted path of the bad value, '' for the whole document
    message: str
    line: Optional[int] = None
    origin: Optional[str] = None  # "--set" / "--model" when the bad value came from the command line

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


def _fmt_loc(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 40, 24


def _show(v: Any) -> str:
    """A short, safe, YAML-flavoured rendering of a user's value for a one-line message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return ".nan" if math.isnan(v) else (".inf" if v > 0 else "-.inf")
    if isinstance(v, int):
        try:
            text = repr(v)
        except ValueError:  # more digits than int→str conversion allows
            return "a number with thousands of digits"
        return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"
    try:
        return " ".join(_REPR.repr(v).split())
    except Exception:  # noqa: BLE001 - never let a message fail
        return f"a {type(v).__name__}"


def _find_node(root, parts, key_line: bool = False) -> tuple[Optional[int], bool]:
    """(1-based line, found) of the YAML node at `parts`. When it is not there, the line of the key that
    holds the mapping it is missing from (`data:` for a missing data.train), and False."""
    if root is None:
        return None, False
    node, line, holder = root, root.start_mark.line + 1, root.start_mark.line + 1
    for i, p in enumerate(parts):
        if isinstance(node, yaml.MappingNode):
            # the last occurrence wins, as in YAML itself (and after `<<` merges, which come first)
            for k, v in reversed(node.value):
                if isinstance(k, yaml.ScalarNode) and k.value == str(p):
                    last = i == len(parts) - 1
                    node, holder = v, k.start_mark.line + 1
                    line = holder if key_line and last else v.start_mark.line + 1
                    break
            else:
                return holder, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and 0 <= p < len(node.value):
            node = node.value[p]
            line = holder = node.start_mark.line + 1
        else:
            return holder, False
    return line, True


def _node_line(root, parts, key_line: bool = False) -> Optional[int]:
    """1-based line of the YAML node at `parts` (see `_find_node`)."""
    return _find_node(root, parts, key_line)[0]


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_KIND = {
    "tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:timestamp": "a date",
}


def _key_problems(root) -> list[Problem]:
    """Keys that are not names (`1:`, `true:`, `~:`) and keys written twice in one mapping.

    Checked on the composed YAML, before construction: PyYAML silently keeps the last of two equal keys,
    which hides a whole `data:` or `stages:` block the user thinks is in effect."""
    out: list[Problem] = []
    seen: set[int] = set()
    stack = [(root, [])]
    while stack:
        node, parts = stack.pop()
        if node is None or id(node) in seen:  # aliases share nodes: visit each once
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                line = k.start_mark.line + 1
                if k.tag == _MERGE_TAG:
                    stack.append((v, parts))
                    continue
                if not isinstance(k, yaml.ScalarNode):
                    out.append(Problem(_fmt_loc(parts), "a key must be a plain name, not a list or mapping", line))
                    continue
                if k.tag != _STR_TAG:
                    kind = _TAG_KIND.get(k.tag, "not text")
                    out.append(Problem(_fmt_loc(parts), f"key {_show(k.value)} is {kind}, not a name; keys are "
                                       "names such as 'model' (quote it if you mean the text)", line))
                    continue
                if k.value in first:
                    out.append(Problem(_fmt_loc(parts + [k.value]), f"duplicate key (first at line "
                                       f"{first[k.value]}); YAML would silently keep only the last one", line))
                else:
                    first[k.value] = line
                stack.append((v, parts + [k.value]))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, parts + [i]))
    out.sort(key=lambda p: p.line or 0)
    return out


def _yaml_error(file: str, text: str, e: Exception) -> RecipeError:
    """One line for whatever PyYAML raised."""
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(0, e.position)) + 1 if isinstance(e.position, int) else None
        where = f"{file}:{line}" if line else file
        ch = e.character if isinstance(e.character, int) else ord(e.character) if e.character else 0
        return RecipeError(f"{where}: YAML syntax error: unacceptable character #x{ch:04x} ({e.reason})")
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        where = f"{file}:{mark.line + 1}" if mark else file
        problem = " ".join((e.problem or e.context or "invalid YAML").split())
        context = " ".join((e.context or "").split())
        if "'\\t'" in problem:
            problem = "a tab character: indent YAML with spaces, not tabs"
        elif "expected a single document" in context:
            return RecipeError(f"{where}: YAML syntax error: a recipe is one YAML document, but a second "
                               "one starts here ('---')")
        elif e.problem and context and e.context_mark and mark and e.context_mark.line != mark.line:
            problem += f" ({context} that starts at line {e.context_mark.line + 1})"
        return RecipeError(f"{where}: YAML syntax error: {problem}")
    if isinstance(e, ValueError) and "digits" in str(e):  # int('9' * 5000)
        m = re.search(r"[0-9_]{4000,}", text)
        where = f"{file}:{text.count(chr(10), 0, m.start()) + 1}" if m else file
        return RecipeError(f"{where}: a number with thousands of digits cannot be read")
    if isinstance(e, RecursionError):
        return RecipeError(f"{file}: YAML nested too deeply")
    return RecipeError(f"{file}: YAML cannot be read: {' '.join(str(e).split()) or type(e).__name__}")


# ------------------------------------------------------------------------------ explaining pydantic


_SECTIONS = {
    "": Recipe,
    "data": DataConfig,
    "training": TrainingConfig,
    "export": ExportConfig,
    "gates": GatesConfig,
    "evaluation": EvaluationConfig,
}


def _raw_at(raw: Any, parts: list) -> Any:
    node = raw
    for p in parts:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _model_at(raw: Any, parts: list) -> Optional[type[BaseModel]]:
    """The pydantic model that describes the mapping at `parts` of the raw recipe."""
    if not parts:
        return Recipe
    if parts[0] == "stages" and len(parts) == 2:
        st = _raw_at(raw, parts)
        tag = st if isinstance(st, str) else st.get("type") if isinstance(st, dict) else None
        try:
            return STAGES.get(tag)
        except TypeError:  # unhashable tag
            return None
    if parts[0] == "data" and len(parts) >= 2:
        src = _raw_at(raw, parts[:2])
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
        return _SECTIONS.get(parts[0])
    return None


def _fields_of(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _did_you_mean(word: Any, options) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def _homes_of(key: str) -> list[str]:
    """Where a key that is unknown here does belong ('training', 'a stage', ...)."""
    homes = [sec for sec, model in _SECTIONS.items() if sec and key in model.model_fields]
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


def _clean_loc(loc: tuple) -> list:
    """Pydantic puts the union tag in the loc (stages.0.prune.epochs); drop it."""
    parts, i = [], 0
    loc = list(loc)
    while i < len(loc):
        p = loc[i]
        parts.append(p)
        if p == "stages" and i + 2 < len(loc) and isinstance(loc[i + 1], int) and loc[i + 2] in STAGES:
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


def _explain(err: dict, raw: Any) -> tuple[list, str, bool]:
    """(loc parts, message, point at the key rather than the value) for one pydantic error."""
    typ, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    parts = _clean_loc(err["loc"])
    got = f"(got {_show(inp)})"
    if typ == "extra_forbidden":
        key = parts[-1]
        model = _model_at(raw, parts[:-1])
        hint = _did_you_mean(key, _fields_of(model)) if model else ""
        if hint:
            return parts, f"unknown key ({hint})", True
        homes = [h for h in _homes_of(str(key)) if h != ".".join(str(p) for p in parts[:-1])]
        if homes:
            return parts, f"unknown key here: '{key}' belongs in {' or '.join(homes)}", True
        valid = f"; valid keys: {', '.join(_fields_of(model))}" if model else ""
        return parts, f"unknown key{valid}", True
    if typ == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        node = _raw_at(raw, parts)
        tag = node.get("type") if isinstance(node, dict) else ctx.get("tag")
        what = "stage type" if parts and parts[0] == "stages" else "data source type"
        hint = _did_you_mean(tag, tags)
        shown = f"'{tag}'" if isinstance(tag, str) else _show(tag)
        return parts + ["type"], f"unknown {what} {shown}{f' ({hint})' if hint else ''}; valid: {', '.join(tags)}", False
    if typ == "union_tag_not_found":
        if parts and parts[0] == "stages":
            return parts, f"needs a 'type' key: one of {', '.join(STAGES)}", False
        return parts, "needs a 'type' key", False
    if "sparsity_m_by_n" in parts:
        i = parts.index("sparsity_m_by_n")
        return parts[: i + 1], f"{_M_BY_N} (got {_show(_raw_at(raw, parts[: i + 1]))})", False
    if typ == "missing":
        if parts == ["version"]:
            return parts, "required: add 'version: 1' at the top of the recipe", True
        return parts, "required", True
    if isinstance(inp, float) and not math.isfinite(inp):
        return parts, f"must be a finite number {got}", False
    numeric = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_type", "float_type")
    if isinstance(inp, bool) and typ in numeric:
        return parts, f"must be a number, not {_show(inp)}", False
    if typ == "literal_error":
        expected = str(ctx.get("expected", ""))
        if parts == ["version"]:
            return parts, f"unsupported recipe version {_show(inp)}: this optimize-cli reads version 1", False
        opts = [a or b for a, b in re.findall(r"'([^']*)'|(\d+)", expected)]
        hint = _did_you_mean(inp, opts)
        return parts, f"must be {expected} (got {_show(inp)}{'; ' + hint if hint else ''})", False
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
    model = _model_at(raw, parts)
    first = re.match(r"([a-z_]+)\b", msg)
    if model is not None and first and first.group(1) in model.model_fields:
        name = first.group(1)
        m = re.fullmatch(re.escape(name) + r" \(([^()]*)\) (.+)", msg)  # "end_step (5) must be after ..."
        return parts + [name], f"{m.group(2)} (got {m.group(1)})" if m else msg, False
    return parts, (msg[0].lower() + msg[1:]) if msg else "invalid", False


def _without_hinted(items) -> list:
    """Drop 'required' for a key that an unknown sibling key's "did you mean" already names
    (`imagesize: [8, 8]` is one mistake, not a missing image_size as well)."""
    items = list(items)
    hinted = set()
    for parts, msg, _ in items:
        m = re.match(r"unknown key \(did you mean '([^']+)'\?\)", msg)
        if m:
            hinted.add(tuple(parts[:-1]) + (m.group(1),))
    return [it for it in items if not (it[1] == "required" and tuple(it[0]) in hinted)] or items


def _typed_problems(model: BaseModel, raw: Any, parts: list) -> list[tuple[list, str]]:
    """What pydantic's lax mode lets through: `true` for a number, `.nan`/`.inf` for a number."""
    out: list[tuple[list, str]] = []
    if not isinstance(raw, dict):
        return out
    for name in type(model).model_fields:
        if name not in raw:
            continue
        rv, v, here = raw[name], getattr(model, name, None), parts + [name]
        if isinstance(v, BaseModel):
            out += _typed_problems(v, rv, here)
        elif isinstance(v, list) and isinstance(rv, list):
            for i, (item, ritem) in enumerate(zip(v, rv, strict=False)):
                if isinstance(item, BaseModel):
                    out += _typed_problems(item, ritem, here + [i])
                elif isinstance(ritem, bool) and isinstance(item, (int, float)) and not isinstance(item, bool):
                    out.append((here + [i], f"must be a number, not {_show(ritem)}"))
        elif isinstance(v, dict) and isinstance(rv, dict):
            for k, item in v.items():
                if isinstance(item, BaseModel) and k in rv:
                    out += _typed_problems(item, rv[k], here + [k])
        elif isinstance(v, tuple) and isinstance(rv, (list, tuple)):
            if any(isinstance(x, bool) for x in rv):
                out.append((here, f"must be numbers, not true/false (got {_show(rv)})"))
        elif isinstance(rv, bool) and isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((here, f"must be a number, not {_show(rv)}"))
        elif isinstance(v, float) and not math.isfinite(v):
            out.append((here, f"must be a finite number (got {_show(v)})"))
    return out


# ------------------------------------------------------------------------------------- overrides


_INDEX = re.compile(r"-?[0-9]+")


def _set_path(data: Any, key: str, value: Any) -> str:
    """Apply one `--set a.b.0.c=value` override to the raw recipe; return the key with indexes made
    non-negative. Containers on the way are copied, so that a YAML alias shared elsewhere is untouched."""
    parts = [int(p) if _INDEX.fullmatch(p) else p for p in key.split(".")]
    if not key or any(p == "" for p in parts):
        raise RecipeError(f"--set {key}: the key must be a dotted path such as stages.0.target_sparsity")
    node = data
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(p, int):
            if not isinstance(node, list):
                raise RecipeError(f"--set {key}: {_fmt_loc(parts[:i]) or 'recipe'} is not a list")
            if not -len(node) <= p < len(node):
                raise RecipeError(f"--set {key}: {_fmt_loc(parts[: i + 1])} does not exist (the list has "
                                  f"{len(node)} item{'' if len(node) == 1 else 's'})")
            p = parts[i] = p % len(node)
            if last:
                node[p] = value
                break
            if isinstance(node[p], str) and _fmt_loc(parts[:i]) == "stages":
                node[p] = {"type": node[p]}
        else:
            if not isinstance(node, dict):
                raise RecipeError(f"--set {key}: {_fmt_loc(parts[:i]) or 'recipe'} is not a mapping")
            if last:
                node[p] = value
                break
            if node.get(p) is None:
                node[p] = {}
        child = node[p]
        node[p] = child = dict(child) if isinstance(child, dict) else list(child) if isinstance(child, list) else child
        node = child
    return ".".join(str(p) for p in parts)


def parse_set(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` → (key, YAML-typed value)."""
    if "=" not in item:
        raise RecipeError(f"--set {item}: expected KEY=VALUE, e.g. --set stages.0.target_sparsity=0.6")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as e:
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise RecipeError(f"--set {key}: value {text!r} is not valid YAML ({problem})") from None
    except Exception as e:  # noqa: BLE001 - huge numbers, deep nesting
        raise RecipeError(f"--set {key}: value cannot be read ({type(e).__name__})") from None
    return key.strip(), value


def load_recipe(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    model: Optional[str] = None,
    check_paths: bool = True,
) -> Recipe:
    """Read, override, validate and resolve a recipe; raise RecipeProblems naming file, line and key."""
    path = Path(path)
    file = str(path)
    try:
        text_bytes = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError(f"{file}: recipe file not found") from None
    except IsADirectoryError:
        raise RecipeError(f"{file}: is a directory, not a recipe file") from None
    except OSError as e:
        raise RecipeError(f"{file}: cannot read recipe ({e.strerror or e})") from None
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        line = text_bytes.count(b"\n", 0, e.start) + 1
        raise RecipeError(f"{file}:{line}: not a UTF-8 text file (byte 0x{text_bytes[e.start]:02x})") from None
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # checks every character already
        root = loader.get_single_node()
        key_problems = _key_problems(root) if root is not None else []
        if key_problems:
            raise RecipeProblems(file, key_problems)
        raw = loader.construct_document(root) if root is not None else None
    except RecipeError:
        raise
    except Exception as e:  # noqa: BLE001 - YAMLError, RecursionError, ValueError (huge ints), ...
        raise _yaml_error(file, text, e) from None
    finally:
        if loader is not None:
            loader.dispose()
    if raw is None:
        raise RecipeError(f"{file}: the recipe is empty; it needs at least 'version: 1', a model and data")
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        kind = {"list": "a list", "str": "a string", "int": "a number", "float": "a number", "bool": "true/false",
                "bytes": "binary data", "date": "a date", "datetime": "a date"}.get(kind, kind)
        line = root.start_mark.line + 1
        raise RecipeError(f"{file}:{line}: the recipe must be a mapping of keys (version, model, data, stages, "
                          f"...), not {kind}")

    origins: dict[str, str] = {}
    for item in overrides:
        try:
            key, value = parse_set(item)
            origins[_set_path(raw, key, value)] = f"--set {key}"
        except RecipeError as e:
            raise RecipeError(f"{file}: {e}") from None
    if model is not None:
        # a path typed on the command line is relative to the current directory, not to the recipe
        raw["model"] = os.path.abspath(os.path.expanduser(str(model))) if str(model) else ""
        origins["model"] = "--model"

    def where(parts, key_line=False) -> tuple[Optional[int], Optional[str]]:
        dotted = ".".join(str(p) for p in parts)
        for k, origin in origins.items():
            if dotted == k or dotted.startswith(k + "."):
                return None, origin
        line, found = _find_node(root, parts, key_line)
        if not found:  # a mapping the override created on its way
            for k, origin in origins.items():
                if k.startswith(dotted + "."):
                    return None, origin
        return line, None

    def problems_of(items) -> RecipeProblems:
        problems = []
        for parts, msg, key_line in items:
            line, origin = where(parts, key_line)
            problems.append(Problem(_fmt_loc(parts), msg, line, origin))
        problems.sort(key=lambda p: p.line if p.line is not None else float("inf"))
        return RecipeProblems(file, problems)

    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        raise problems_of(_without_hinted(_explain(err, raw) for err in e.errors(include_url=False))) from None
    except RecursionError:
        raise RecipeError(f"{file}: recipe nested too deeply") from None
    typed = _typed_problems(recipe, raw, [])
    if typed:
        raise problems_of((parts, msg, False) for parts, msg in typed)

    recipe._source = path.resolve()
    recipe._sha256 = hashlib.sha256(text_bytes).hexdigest()
    if recipe.name is None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".-_") or "recipe"
        recipe.name = stem
    rules = check_rules(recipe, base=path.resolve().parent, check_paths=check_paths)
    if rules:
        raise problems_of((p.parts, p.message, p.key_line) for p in rules)
    return recipe


# ---------------------------------------------------------------------------------------- the rules


@dataclass
class _Rule:
    parts: list
    message: str
    key_line: bool = False
    line: Optional[int] = None

    @property
    def loc(self) -> str:
        return _fmt_loc(self.parts)


def check_rules(recipe: Recipe, base: Path, check_paths: bool = True) -> list[_Rule]:
    """The deployment-tree rules of DESIGN.md; fills in derived defaults and resolves paths."""
    out: list[_Rule] = []
    types = recipe.stage_types

    # order prune → cluster → qat, each at most once
    seen: dict[str, int] = {}
    for i, t in enumerate(types):
        if t in seen:
            out.append(_Rule(["stages", i, "type"], f"'{t}' appears twice (first at stages[{seen[t]}]); "
                             "each stage may appear at most once"))
            continue
        later = [u for u in seen if STAGE_ORDER.index(u) > STAGE_ORDER.index(t)]
        if later:
            out.append(_Rule(["stages", i, "type"], f"'{t}' cannot come after '{later[0]}': the order is "
                             f"{' → '.join(STAGE_ORDER)} (qat is always the last training stage)"))
        seen[t] = i

    pruned_before = False
    for i, st in enumerate(recipe.stages):
        if isinstance(st, PruneStage):
            pruned_before = True
        if isinstance(st, ClusterStage):
            if st.preserve_sparsity is None:
                st.preserve_sparsity = pruned_before
            elif pruned_before and st.preserve_sparsity is False:
                out.append(_Rule(["stages", i, "preserve_sparsity"], "must be true after prune: clustering "
                                 "without it moves the pruned zeros into clusters and loses the sparsity; "
                                 "remove the key or set it to true", key_line=True))
            if st.preserve_sparsity and st.clusters <= 2:
                out.append(_Rule(["stages", i, "clusters"], f"must be > 2 when preserving sparsity (got "
                                 f"{st.clusters}): one cluster is reserved for the zeros"))
        for j, pat in enumerate(st.skip_layers):
            try:
                re.compile(pat)
            except re.error as e:
                out.append(_Rule(["stages", i, "skip_layers", j], f"not a valid regular expression ({e})"))
            except (OverflowError, RecursionError, ValueError) as e:
                out.append(_Rule(["stages", i, "skip_layers", j], f"not a usable regular expression "
                                 f"({' '.join(str(e).split()) or type(e).__name__})"))

    # export reachable from the path
    q = recipe.export.quantization
    q_given = q is not None
    if "qat" in types:
        if q is None:
            recipe.export.quantization = "int8"
        elif q != "int8":
            out.append(_Rule(["export", "quantization"], f"'{q}' is not reachable after qat: quantization-aware "
                             "training produces an int8 model; use int8 or remove the qat stage"))
    elif q is None:
        recipe.export.quantization = "int8"
    q = recipe.export.quantization
    io_default = {"int8": "int8", "int16x8": "int16"}.get(q, "float32")
    output_given = recipe.export.inference_output_type is not None
    if recipe.export.inference_input_type is None:
        recipe.export.inference_input_type = io_default
    if recipe.export.inference_output_type is None:
        recipe.export.inference_output_type = recipe.export.inference_input_type
    allowed_io = {"int8": {"float32", "int8", "uint8"}, "int16x8": {"float32", "int16"}}.get(q, {"float32"})
    for k in ("inference_input_type", "inference_output_type"):
        v = getattr(recipe.export, k)
        if k == "inference_output_type" and not output_given:
            if v not in allowed_io:  # copied from the input type, which is reported already
                recipe.export.inference_output_type = "float32"
            continue
        if v not in allowed_io:
            out.append(_Rule(["export", k], f"'{v}' is not possible with quantization {q}; "
                             f"valid: {', '.join(sorted(allowed_io))}"))

    # data the path needs
    if types and recipe.data.train is None:
        out.append(_Rule(["data", "train"], f"required: stage '{types[0]}' fine-tunes the model on training "
                         "data", key_line=True))
    if q in ("int8", "int16x8") and recipe.data.train is None and recipe.data.representative is None:
        default = "" if q_given else (" (int8 is the default export; choose export.quantization: dynamic, "
                                      "float16 or none to convert without calibration)")
        out.append(_Rule(["export", "quantization"], f"{q} needs calibration data: add data.train or "
                         f"data.representative{default}"))
    if recipe.gates.max_accuracy_drop is not None and recipe.data.eval is None:
        out.append(_Rule(["gates", "max_accuracy_drop"], "needs data.eval to measure accuracy", key_line=True))

    # the model
    if not recipe.model:
        out.append(_Rule(["model"], "missing: give the model path in the recipe or with --model", key_line=True))
    else:
        recipe.model = _resolve(base, recipe.model)
        if check_paths and not _exists(recipe.model):
            out.append(_Rule(["model"], f"path does not exist: {_show_path(recipe.model)}"))

    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split)
        if src is not None:
            out += _check_source(split, src, base, check_paths)
    if isinstance(recipe.data.eval, ValidationSplit) and recipe.data.train is None:
        out.append(_Rule(["data", "eval", "validation_split"], "needs data.train: it holds out part of data.train "
                         "for evaluation", key_line=True))
    # every stage's effective learning rate and batch size, so recipe.resolved.yaml shows what ran
    for st in recipe.stages:
        if st.learning_rate is None:
            st.learning_rate = recipe.training.learning_rate * float(getattr(type(st), "LR_SCALE", 1.0))
        if st.batch_size is None:
            st.batch_size = recipe.training.batch_size
    return out


def _check_source(split: str, src, base: Path, check_paths: bool) -> list[_Rule]:
    """A data source's path checks (data/<type>.py) as rules under data.<split>."""
    return [_Rule(["data", split, *parts], message) for parts, message in check_source(src, base, check_paths, _show)]


def json_schema() -> dict:
    """JSON Schema of the recipe, for editors' YAML language servers and CI linting."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/optimize-cli/optimize-cli/recipe.schema.json"
    schema["title"] = "optimize-cli recipe"
    props, defs = schema["properties"], schema.get("$defs", {})
    # what the loader accepts beyond the pydantic models: bare stage types, empty sections
    stages = props["stages"]
    stages["items"] = {"anyOf": [{"enum": list(STAGES), "description": "A stage type with its defaults."},
                                 stages["items"]]}
    for cls in [*STAGES.values(), *(m for t, m in DATA_SOURCES.items() if t != "npz")]:
        d = defs.get(cls.__name__)
        if d is not None and "type" not in d.get("required", []):
            d["required"] = ["type"] + d.get("required", [])
    for sec in _NULLABLE_SECTIONS:
        if sec in props:
            props[sec] = {"anyOf": [props[sec], {"type": "null"}]}
    return schema
