"""Reading a recipe: file → text → YAML (with line numbers) → overrides → Recipe → resolved Recipe.

Every problem becomes a `RecipeError` whose message names the file, the line and the dotted path of the
bad value, e.g. ``recipes/x.yaml:14: stages[1].clusters: must be > 2 when preserving sparsity``.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Optional

import yaml
from pydantic import ValidationError

from ..errors import RecipeError
from .model import Recipe
from .overrides import from_cwd, parse_set, set_path
from .problems import DataProblems, Problem, RecipeProblems, explain, typed_problems, without_hinted
from .read_bounds import composed, read_recipe_bytes
from .resolve import check_rules, raw_path_rules
from .search_marks import SearchRecipeError, has_search
from .text import format_loc
from .yaml_lines import find_node, key_problems, yaml_error

_KINDS = {"list": "a list", "str": "a string", "int": "a number", "float": "a number", "bool": "true/false",
          "bytes": "binary data", "date": "a date", "datetime": "a date"}


def _read(path: Path, file: str) -> tuple[bytes, str]:
    try:
        text_bytes = read_recipe_bytes(path, file)
    except FileNotFoundError:
        from ..builtin import unknown_recipe_hint

        raise RecipeError(f"{file}: recipe file not found{unknown_recipe_hint(file)}") from None
    except IsADirectoryError:
        raise RecipeError(f"{file}: is a directory, not a recipe file") from None
    except OSError as e:
        raise RecipeError(f"{file}: cannot read recipe ({e.strerror or e})") from None
    try:
        return text_bytes, text_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        line = text_bytes.count(b"\n", 0, e.start) + 1
        raise RecipeError(f"{file}:{line}: not a UTF-8 text file (byte 0x{text_bytes[e.start]:02x})") from None


def _compose(file: str, text: str) -> tuple[Any, dict]:
    """(YAML root node, raw mapping): duplicate and non-name keys are problems before construction."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # checks every character already
        root = loader.get_single_node()
        problems = key_problems(root) if root is not None else []
        if problems:
            raise RecipeProblems(file, problems)
        raw = loader.construct_document(root) if root is not None else None
    except RecipeError:
        raise
    except Exception as e:  # noqa: BLE001 - YAMLError, RecursionError, ValueError (huge ints), ...
        raise yaml_error(file, text, e) from None
    finally:
        if loader is not None:
            loader.dispose()
    if raw is None:
        raise RecipeError(f"{file}: the recipe is empty; it needs at least 'version: 1', a model and data")
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        kind = _KINDS.get(kind, kind)
        line = root.start_mark.line + 1
        raise RecipeError(f"{file}:{line}: the recipe must be a mapping of keys (version, model, data, stages, "
                          f"...), not {kind}")
    return root, raw


def _override(file: str, raw: dict, overrides, model: Optional[str]) -> dict[str, str]:
    """Apply --set and --model to the raw recipe; returns dotted key → where its value came from."""
    origins: dict[str, str] = {}
    for item in overrides:
        try:
            key, value = parse_set(item)
            origins[set_path(raw, key, from_cwd(key, value))] = f"--set {key}"
        except RecipeError as e:
            raise RecipeError(f"{file}: {e}") from None
    if model is not None:
        # a path typed on the command line is relative to the current directory, not to the recipe
        raw["model"] = os.path.abspath(os.path.expanduser(str(model))) if str(model) else ""
        origins["model"] = "--model"
    return origins


#: the keys the data and model errors of a run start with (Recipe.locate puts their file:line in front)
_PLACED = [["model"], ["evaluation", "output"]] + [["data", split, *key] for split in ("train", "eval", "representative")
                                                   for key in ((), ("path",), ("x",), ("y",))]


def _places(file: str, where) -> dict[str, str]:
    """dotted key → "file:line" of the key (or of the nearest mapping above it), or the option it came from."""
    out = {}
    for parts in _PLACED:
        line, origin = where(parts, True)
        if origin is not None or line is not None:
            out[".".join(parts)] = origin if origin is not None else f"{file}:{line}"
    return out


def _problems_maker(file: str, root, origins: dict[str, str]) -> tuple[Callable[..., RecipeProblems], Callable]:
    """A function that turns (parts, message, key_line) items into RecipeProblems sorted by line, each
    placed at its line in the file or at the command-line option it came from; and the function that
    finds that place, `where(parts, key_line) -> (line, origin)`."""

    def where(parts, key_line=False) -> tuple[Optional[int], Optional[str]]:
        dotted = ".".join(str(p) for p in parts)
        for k, origin in origins.items():
            if dotted == k or dotted.startswith(k + "."):
                return None, origin
        line, found = find_node(root, parts, key_line)
        if not found:  # a mapping the override created on its way
            for k, origin in origins.items():
                if k.startswith(dotted + "."):
                    return None, origin
        return line, None

    def problems_of(items, cls: type[RecipeProblems] = RecipeProblems) -> RecipeProblems:
        problems = []
        for parts, msg, key_line in items:
            line, origin = where(parts, key_line)
            problems.append(Problem(format_loc(parts), msg, line, origin))
        problems.sort(key=lambda p: p.line if p.line is not None else float("inf"))
        return cls(file, problems)

    return problems_of, where


def load_recipe(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    model: Optional[str] = None,
    check_paths: bool = True,
    raw_hook: Optional[Callable[[dict], dict]] = None,
) -> Recipe:
    """Read, override, validate and resolve a recipe; raise RecipeProblems naming file, line and key.
    A search recipe is refused (SearchRecipeError) unless ``raw_hook`` turns it into a plain one."""
    path = Path(path)
    file = str(path)
    text_bytes, text = _read(path, file)
    root, raw = composed(file, text, _compose)
    problems_of, where = _problems_maker(file, root, _override(file, raw, overrides, model))
    if raw_hook is not None:
        raw = raw_hook(raw)
    elif has_search(raw):
        raise SearchRecipeError(f"{file}: this is a search recipe (it has search spaces); run it with "
                                f"'optimize-cli search {file}'")
    base = path.resolve().parent
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        schema = list(without_hinted(explain(err, raw) for err in e.errors(include_url=False)))
        paths = [(p.parts, p.message, p.key_line) for p in raw_path_rules(raw, base, check_paths)]
        raise problems_of(schema + paths) from None  # both at once: a fix need not reveal more
    except RecursionError:
        raise RecipeError(f"{file}: recipe nested too deeply") from None
    typed = typed_problems(recipe, raw, [])
    if typed:
        paths = [(p.parts, p.message, p.key_line) for p in raw_path_rules(raw, base, check_paths)]
        raise problems_of([(parts, msg, False) for parts, msg in typed] + paths)

    recipe.set_source(path.resolve(), hashlib.sha256(text_bytes).hexdigest())
    recipe.set_places(_places(file, where))
    if recipe.name is None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".-_") or "recipe"
        recipe.name = stem
    rules = check_rules(recipe, base=base, check_paths=check_paths)
    if rules:  # only data that does not fit: exit 3, as the loader's own check would
        cls = DataProblems if all(p.data_fit for p in rules) else RecipeProblems
        raise problems_of([(p.parts, p.message, p.key_line) for p in rules], cls)
    return recipe
