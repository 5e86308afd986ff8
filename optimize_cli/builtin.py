"""Where the built-in recipes and sample models are: package data in an installed wheel
(`optimize_cli/recipes`, `optimize_cli/sample_models`), the top-level folders of a source checkout or an
editable install. A built-in recipe's name is accepted wherever a recipe path is.

Never imports TensorFlow."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`recipes` or `sample_models`: the installed package data, else the checkout's top-level folder."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE / name


def recipes_dir() -> Path:
    return data_dir("recipes")


def recipe_files() -> list[Path]:
    """The built-in recipes, by file name."""
    return sorted(recipes_dir().glob("*.yaml"))


#: the example recipes (recipes/examples/<stem>.yaml) go by their `name:`, `example-<stem>` with dashes
EXAMPLE_PREFIX = "example-"


def example_files() -> list[Path]:
    """The example recipes (an image folder, TFRecord files, a two-output model, distillation)."""
    return sorted((recipes_dir() / "examples").glob("*.yaml"))


def recipe_path(arg: str | Path) -> Path:
    """RECIPE as given: an existing path stays itself; otherwise a built-in recipe's name (`ptq-int8`,
    `ptq-int8.yaml`) is its file, and an example's name (`example-binary`, `example-multi-output`) its file
    in recipes/examples/; anything else is returned unchanged, for the loader to report."""
    p = Path(arg)
    if p.exists() or p.is_symlink() or len(p.parts) != 1:
        return p
    stem = p.name[:-5] if p.name.endswith(".yaml") else p.name
    builtin = recipes_dir() / f"{stem}.yaml"
    if builtin.is_file():
        return builtin
    if stem.startswith(EXAMPLE_PREFIX):
        example = recipes_dir() / "examples" / f"{stem[len(EXAMPLE_PREFIX):].replace('-', '_')}.yaml"
        if example.is_file():
            return example
    return p


def recipe_names() -> list[str]:
    """The built-in recipes' names (their file names without .yaml), sorted."""
    return sorted(p.stem for p in recipe_files())


def unknown_recipe_hint(arg: str | Path) -> str:
    """For a RECIPE that is neither a file nor a built-in name: "; did you mean 'ptq-int8'? (a built-in
    recipe; optimize-cli recipes lists them)", or "" when no name is close (or it looks like a path)."""
    import difflib

    p = Path(arg)
    if len(p.parts) != 1:
        return ""
    stem = p.name[:-5] if p.name.endswith(".yaml") else p.name
    close = difflib.get_close_matches(stem, recipe_names(), n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean '{close[0]}'? (a built-in recipe; 'optimize-cli recipes' lists them)"


def search_recipe_names() -> list[str]:
    """The built-in recipes with a `search:` section (read with safe_load; no recipe validation)."""
    import yaml

    out = []
    for p in recipe_files():
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and "search" in doc:
            out.append(p.stem)
    return sorted(out)
