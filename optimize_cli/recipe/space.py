"""Search spaces in recipes (`optimize-cli search`, DESIGN.md): `{search: [lo, hi]}` (int when both are
ints, `log: true`), `{search: {choices: [...]}}`, `optional: true` on a stage, and the `search:` section.

A search recipe is read as a raw mapping; concrete choices of its values are ordinary recipes that
`load_recipe` validates (`concrete()`), so the pydantic limits and the tree rules are checked for every
choice of path, for each value of each other key once, and at both ends of every range. Never imports
TensorFlow.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional, Union

from pydantic import Field, ValidationError, field_validator

from ..errors import RecipeError
from ..limits import max_search_choices
from ..strict import Strict
from .search_marks import SearchRecipeError, has_search, search_markers  # noqa: F401 - the first two re-exported
from .text import format_loc, show_value

#: the figures search.objectives may name, recorded by search/objective.py TrialReport.from_dict and read by
#: search/objective.py objective_value; `deployable_bytes` is the recipe's one target's (or the largest over
#: its targets), `deployable_bytes:<target>` a named target's
OBJECTIVES = ("compressed_bytes", "tflite_bytes", "latency_ms", "accuracy_drop", "deployable_bytes")
#: an objective on one target's deployable bytes
TARGET_OBJECTIVE = r"^deployable_bytes:[A-Za-z0-9][A-Za-z0-9._-]*$"
SAMPLERS = ("tpe", "tpe-independent", "gp", "nsga2", "random", "grid")
#: the sections whose values may be searched
SEARCHABLE = ("stages", "training", "export")
#: combinations of the path (optional stages, export.quantization choices) checked by `validate`, at most
MAX_COMBINATIONS = 256
#: the choices that change the path through the tree (checked in every combination with the optional stages)
PATH_KEYS = ("export.quantization",)


class SearchConfig(Strict):
    """The `search:` section."""

    objectives: list[Union[Literal[OBJECTIVES], Annotated[str, Field(pattern=TARGET_OBJECTIVE)]]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["compressed_bytes"], min_length=1, description="Figures to minimize.")
    trials: int = Field(20, ge=1, le=100_000, description="Finished trials the study holds in total.")
    sampler: Literal[SAMPLERS] = Field(  # type: ignore[valid-type]
        "tpe", description="tpe (multivariate, grouped) | tpe-independent | gp (needs torch) | nsga2 | random | grid.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the sampler.")
    early_stop: Optional[float] = Field(
        0.05, ge=0, le=1,
        description="Stop a trial (Optuna PRUNED) when its Keras accuracy after a stage that has stages after "
        "it is more than gates.max_accuracy_drop + this margin (metric units) below the float baseline; "
        "false turns it off. Needs gates.max_accuracy_drop.")
    builtins: bool = Field(
        True, description="Try first the built-in recipes whose path and values fit the space (the search then "
        "never ends worse than they do); not with the grid sampler.")
    sensitivity: bool = Field(
        False, description="Per-layer sensitivity pre-pass: each prunable layer pruned and clustered alone "
        "(no fine-tuning), its accuracy drop measured; each trial's prune stage then gets layer_sparsity "
        "derived from its target_sparsity (DIR/sensitivity.json).")


    @field_validator("early_stop", mode="before")
    @classmethod
    def _early_stop(cls, v):
        if v is True:
            raise ValueError("give the margin (e.g. 0.05: 5 points past gates.max_accuracy_drop), or false")
        return None if v is False else v


@dataclass
class Param:
    """One searched value: a range, a set of choices, or an optional stage (on/off)."""

    name: str  # dotted: stages.0.target_sparsity, training.learning_rate, stages.1.enabled
    parts: list
    kind: Literal["int", "float", "choice", "optional"]
    low: Any = None
    high: Any = None
    log: bool = False
    choices: list = field(default_factory=list)
    stage: Optional[int] = None  # the stage it belongs to (sampled only when that stage is on)

    def describe(self) -> str:
        if self.kind == "optional":
            return f"{self.name}: stage on or off"
        if self.kind == "choice":
            return f"{self.name}: one of {', '.join(show_value(c) for c in self.choices)}"
        return f"{self.name}: {self.kind} in [{self.low}, {self.high}]{' (log)' if self.log else ''}"

    def ends(self) -> list:
        """The values `validate` checks: both ends of a range, every choice."""
        if self.kind == "optional":
            return [True, False]
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def grid(self) -> list:
        if self.kind in ("optional", "choice"):
            return self.ends()
        if self.kind == "int" and self.high - self.low < 1000:
            return list(range(self.low, self.high + 1))
        raise RecipeError(f"{self.name}: the grid sampler needs choices, not a float range")

    def dump(self) -> dict:
        out = {"name": self.name, "kind": self.kind}
        if self.kind in ("int", "float"):
            out.update(low=self.low, high=self.high, log=self.log)
        elif self.kind == "choice":
            out["choices"] = self.choices
        return out


@dataclass
class SearchSpace:
    """The searched values of a recipe, its `search:` section, and the raw recipe they sit in."""

    params: list[Param]
    config: SearchConfig
    raw: dict
    source: Optional[Path] = None  # the recipe file
    #: applied to every concrete trial recipe (search.sensitivity: search/shape.py's Shaper), else None
    shape: Optional[Callable[[dict], dict]] = None
    #: the recipe names no stages: they are the tool's space (auto_space.py)
    auto: bool = False

    def concrete(self, values: dict) -> dict:
        """The raw recipe with `values` (name → value) in place of its spaces; stages turned off are
        dropped, `optional` keys and the `search:` section removed."""
        raw = copy.deepcopy(self.raw)
        raw.pop("search", None)
        by_name = {p.name: p for p in self.params}
        for name, v in values.items():
            p = by_name[name]
            if p.kind != "optional":
                _set(raw, p.parts, v)
        for p in self.params:  # a value nobody chose (its stage is off): the low end keeps the dict valid
            if p.kind not in ("optional",) and p.name not in values:
                _set(raw, p.parts, p.ends()[0])
        stages = raw.get("stages")
        if isinstance(stages, list):
            off = {p.stage for p in self.params if p.kind == "optional" and values.get(p.name) is False}
            raw["stages"] = [s for i, s in enumerate(stages) if i not in off]
            for s in raw["stages"]:
                if isinstance(s, dict):
                    s.pop("optional", None)
        return raw if self.shape is None else self.shape(raw)

    def combinations(self):
        """(label, values) for what `validate` checks: every choice of the path (optional stages and
        export.quantization, at most MAX_COMBINATIONS), then each other choice once and each range's high
        end once, with the rest at the first path and their first values — a key's values are checked once
        each, not multiplied by the other keys' (a space of many choices costs their sum)."""
        path = [p for p in self.params if p.kind == "optional" or (p.kind == "choice" and p.name in PATH_KEYS)]
        other = [p for p in self.params if p.kind == "choice" and p not in path]
        ranges = [p for p in self.params if p.kind in ("int", "float")]
        base = {**{p.name: p.low for p in ranges}, **{p.name: p.choices[0] for p in other}}
        combos = list(itertools.islice(itertools.product(*(p.ends() for p in path)), MAX_COMBINATIONS))
        for combo in combos:
            values = {**base, **dict(zip((p.name for p in path), combo, strict=True))}
            yield _label(values, self._shown(values, path + other)), values
        first = {**base, **dict(zip((p.name for p in path), combos[0], strict=True))}
        for p in other:
            for v in p.choices[1:]:
                values = {**first, p.name: v}
                yield _label(values, self._shown(values, path) + [p]), values
        for p in ranges:
            yield _label({p.name: p.high}, [p]), {**first, p.name: p.high}

    @staticmethod
    def _shown(values: dict, params: list) -> list:
        """The params a label names: optional stages, and the values of stages that are on."""
        return [p for p in params if p.kind == "optional" or values.get(f"stages.{p.stage}.enabled") is not False]

    def short_names(self) -> dict:
        """name → the short form the progress lines show: `prune.target_sparsity` for a stage's value,
        `cluster` for an optional stage's on/off, the key alone for a training or export value."""
        stages = self.raw.get("stages") if isinstance(self.raw.get("stages"), list) else []

        def kind(i) -> str:
            s = stages[i] if isinstance(i, int) and i < len(stages) else None
            return str(s.get("type")) if isinstance(s, dict) and s.get("type") else f"stage {i}"

        out = {}
        for p in self.params:
            if p.parts[0] == "stages":
                out[p.name] = kind(p.stage) if p.kind == "optional" else ".".join([kind(p.stage), *map(str, p.parts[2:])])
            else:
                out[p.name] = ".".join(map(str, p.parts[1:]))
        return out

    def dump(self) -> dict:
        out = {"params": [p.dump() for p in self.params], **self.config.model_dump(mode="json")}
        if self.auto:
            out["built"] = {"stages": self.raw["stages"]}  # the tool's space: the stages it chose
            if "weight_bits" in (self.raw.get("export") or {}):
                out["built"]["export"] = self.raw["export"]
        return out


def _label(values: dict, params: list[Param]) -> str:
    return ", ".join(f"{p.name}={show_value(values[p.name])}" for p in params) or "the recipe as written"


def _set(raw, parts, value) -> None:
    node = raw
    for k in parts[:-1]:
        node = node[k]
    node[parts[-1]] = value


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _param(file: str, parts: list, node: dict) -> Param:
    where = f"{file}: {format_loc(parts)}"
    extra = set(node) - {"search", "log"}
    if extra:
        raise RecipeError(f"{where}: unknown key '{sorted(extra)[0]}' in a search space (search, log)")
    spec, log = node["search"], node.get("log", False)
    stage = parts[1] if parts[0] == "stages" and len(parts) > 1 and isinstance(parts[1], int) else None
    name = ".".join(str(p) for p in parts)
    if parts[0] not in SEARCHABLE:
        raise RecipeError(f"{where}: search spaces are allowed in {', '.join(SEARCHABLE)} only")
    if not isinstance(log, bool):
        raise RecipeError(f"{where}: log must be true or false (got {show_value(log)})")
    if isinstance(spec, dict) and set(spec) == {"choices"}:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise RecipeError(f"{where}: choices must be a non-empty list")
        if log:
            raise RecipeError(f"{where}: log applies to a range [lo, hi], not to choices")
        if len(choices) > max_search_choices():
            raise RecipeError(f"{where}: {len(choices):,} choices, more than the {max_search_choices():,} a search "
                              "space may list (OPTIMIZE_CLI_MAX_SEARCH_CHOICES raises the bound); give a range "
                              "[lo, hi] instead")
        if len({repr(c) for c in choices}) != len(choices):
            raise RecipeError(f"{where}: choices are repeated")
        return Param(name, parts, "choice", choices=choices, stage=stage)
    if not (isinstance(spec, list) and len(spec) == 2 and all(_number(v) for v in spec)):
        raise RecipeError(f"{where}: search must be [lo, hi] (two numbers) or {{choices: [...]}} "
                          f"(got {show_value(spec)})")
    lo, hi = spec
    if not lo < hi:
        raise RecipeError(f"{where}: search range [{lo}, {hi}] must have lo < hi")
    if log and lo <= 0:
        raise RecipeError(f"{where}: a log range needs lo > 0 (got {lo})")
    kind = "int" if isinstance(lo, int) and isinstance(hi, int) else "float"
    return Param(name, parts, kind, low=lo if kind == "int" else float(lo), high=hi if kind == "int" else float(hi),
                 log=log, stage=stage)


def parse_space(file: str, raw: dict) -> SearchSpace:
    """The spaces and the `search:` section of a raw recipe; each problem is one RecipeError line. A
    search recipe that names no `stages:` and searches nothing itself gets the tool's space for its model
    (auto_space.py); one that searches its own values without stages stays post-training only."""
    auto = "stages" not in raw and not search_markers({k: v for k, v in raw.items() if k != "search"}, [])
    if auto:
        from .auto_space import auto_export, auto_stages

        raw = {**raw, "stages": auto_stages(file, raw)}
        export = auto_export(raw)
        if export is not None:
            raw["export"] = export
    try:
        config = SearchConfig.model_validate(raw.get("search") or {})
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        raise RecipeError(f"{file}: {format_loc(['search', *err['loc']])}: {err['msg']}") from None
    params = [_param(file, parts, node) for parts, node in search_markers(
        {k: v for k, v in raw.items() if k != "search"}, [])]
    stages = raw.get("stages") if isinstance(raw.get("stages"), list) else []
    for i, s in enumerate(stages):
        if isinstance(s, dict) and "optional" in s:
            if not isinstance(s["optional"], bool):
                raise RecipeError(f"{file}: stages[{i}].optional: must be true or false "
                                  f"(got {show_value(s['optional'])})")
            if s["optional"]:
                params.append(Param(f"stages.{i}.enabled", ["stages", i, "enabled"], "optional", stage=i))
    params.sort(key=lambda p: (p.kind != "optional", p.name))  # the path first: other values depend on it
    if not params and "search" not in raw:
        from ..builtin import search_recipe_names

        raise RecipeError(f"{file}: not a search recipe (it has no search: section and searches no value); "
                          f"run it with 'optimize-cli run', or search with a built-in search recipe: "
                          f"{', '.join(search_recipe_names())}")
    if not params:
        raise RecipeError(f"{file}: the search section is there but nothing is searched: give a value as "
                          "{search: [lo, hi]} or {search: {choices: [...]}}, or a stage optional: true")
    if config.sampler == "grid":
        for p in params:
            p.grid()
    return SearchSpace(params, config, raw, auto=auto)


def load_space(path: str | Path, model: Optional[str] = None, check_paths: bool = True,
               every: Optional[list] = None):
    """(SearchSpace, the Recipe of its first combination): every combination of optional stages and
    choices, and both ends of every range, validated as a plain recipe (limits and tree rules). `every`,
    when given, receives (label, Recipe) for each combination checked."""
    from .load import load_recipe

    found: list[SearchSpace] = []

    def take(raw: dict) -> dict:
        if not found:
            found.append(parse_space(str(path), raw))
        return found[0].concrete(current[0])

    current: list[dict] = [{}]
    first = None
    for label, values in _combos_of(path, model, take, found):
        current[0] = values
        try:
            r = load_recipe(path, model=model, check_paths=check_paths and first is None, raw_hook=take)
        except RecipeError as e:
            lines = [p.render(e.file) for p in e.problems] if hasattr(e, "problems") else [str(e)]
            raise RecipeError(f"{lines[0]} (with {label})") from None
        first = first or r
        if every is not None:
            every.append((label, r))
    return found[0], first


def _combos_of(path, model, take, found):
    """The space's combinations; the space is read by a first load (values at their low ends)."""
    from .load import load_recipe

    if not found:
        try:
            load_recipe(path, model=model, check_paths=False, raw_hook=take)
        except RecipeError:
            if not found:
                raise
    yield from found[0].combinations()
