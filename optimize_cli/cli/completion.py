"""`optimize-cli completion [bash|zsh|fish]`: print the shell completion script (click's)."""
from __future__ import annotations

import os
from pathlib import Path

import click

SHELLS = ("bash", "zsh", "fish")
#: the variable click's completion reads (prog name upper-cased, dashes as underscores)
COMPLETE_VAR = "_OPTIMIZE_CLI_COMPLETE"

EPILOG = f"""\b
Examples:
  eval "$(optimize-cli completion bash)"        # in ~/.bashrc
  eval "$(optimize-cli completion zsh)"         # in ~/.zshrc
  optimize-cli completion fish > ~/.config/fish/completions/optimize-cli.fish
The script is what click prints for {COMPLETE_VAR}=bash_source optimize-cli (zsh_source, fish_source).
"""


@click.command(epilog=EPILOG)
@click.argument("shell", required=False, type=click.Choice(SHELLS))
def completion(shell) -> None:
    """Print the completion script for SHELL (default: the one $SHELL names, else bash)."""
    from click.shell_completion import get_completion_class

    main = click.get_current_context().find_root().command
    if shell is None:
        name = os.path.basename(os.environ.get("SHELL", ""))
        shell = name if name in SHELLS else "bash"
    cls = get_completion_class(shell)
    click.echo(cls(main, {}, "optimize-cli", COMPLETE_VAR).source())


# ------------------------------------------------------------------ what the shell completes

def _builtin_names(incomplete: str) -> list[str]:
    from ..builtin import recipe_names

    return [n for n in recipe_names() if n.startswith(incomplete)]


class RecipePath(click.Path):
    """RECIPE: a recipe file or a built-in recipe's name. Completes the built-in names, and files."""

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        names = [] if "/" in incomplete else [CompletionItem(n) for n in _builtin_names(incomplete)]
        return names + super().shell_complete(ctx, param, incomplete)


#: the type of every RECIPE argument (run, validate, search, tree)
RECIPE = RecipePath(path_type=Path)


def _resolve(schema: dict, node: dict) -> dict:
    """A schema node with its $ref followed; a union of sections (data sources) as one node with all their
    keys; a union that also takes a plain value (a number or a search space) is a value, not a section."""
    for _ in range(8):
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            continue
        options = node.get("anyOf") or node.get("oneOf")
        if not options:
            branches = [b["then"] for b in node.get("allOf") or [] if isinstance(b.get("then"), dict)]
            if not branches:
                return node
            props = dict(node.get("properties") or {})  # a source type's keys, for every type
            for b in branches:
                props.update(_resolve(schema, b).get("properties") or {})
            return {"properties": props}
        options = [o for o in options if o.get("type") != "null"]
        if any("$ref" not in o and o.get("type") != "object" for o in options):
            return {}  # a value (maybe also a search space)
        resolved = [_resolve(schema, o) for o in options]
        props: dict = {}
        for r in resolved:
            props.update(r.get("properties") or {})
        return {"properties": props}
    return node


def _keys(schema: dict, node: dict, prefix: str, depth: int) -> list[str]:
    """Dotted keys under `node`: a value's key, or a section's keys below it (up to `depth` levels)."""
    node = _resolve(schema, node)
    props = node.get("properties")
    if not props or depth == 0:
        return [prefix]
    out = []
    for name, sub in props.items():
        if name not in ("optional", "search"):  # a search recipe's markers, not values
            out += _keys(schema, sub, f"{prefix}.{name}" if prefix else name, depth - 1)
    return out


def _stage_types(recipe_arg) -> list[str]:
    """The stage types of the recipe on the command line, read as plain YAML (nothing validated)."""
    import yaml

    from ..builtin import recipe_path

    if not recipe_arg:
        return []
    try:
        raw = yaml.safe_load(recipe_path(str(recipe_arg)).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    stages = raw.get("stages") if isinstance(raw, dict) else None
    if not isinstance(stages, list):
        return []
    return [s if isinstance(s, str) else str(s.get("type")) if isinstance(s, dict) else "" for s in stages]


def recipe_keys(recipe_arg=None) -> list[str]:
    """The keys `--set` accepts: every section's keys, and `stages.N.<key>` for each stage of the recipe
    named on the command line."""
    from ..recipe import json_schema

    schema = json_schema()
    out = []
    for name, node in schema["properties"].items():
        if name in ("stages", "targets", "search", "version"):
            continue
        out += _keys(schema, node, name, 3)
    stage_defs = {}
    for d in schema["$defs"].values():
        kind = ((d.get("properties") or {}).get("type") or {})
        for t in kind.get("enum") or ([kind["const"]] if "const" in kind else []):
            stage_defs[t] = d
    for i, t in enumerate(_stage_types(recipe_arg)):
        if t in stage_defs:
            out += [f"stages.{i}.{k}" for k in _keys(schema, stage_defs[t], "", 2) if k != "type"]
    return out


def complete_set(ctx, param, incomplete: str):
    """`--set KEY=VALUE`: the recipe keys, each with its `=`, for the recipe already on the command line."""
    from click.shell_completion import CompletionItem

    if "=" in incomplete:
        return []
    # the RECIPE already typed (with `--set` still open, click leaves the arguments unparsed in ctx.args)
    recipe_arg = (ctx.params.get("recipe") or (ctx.params.get("recipes") or [None])[0]
                  or next((a for a in ctx.args if not a.startswith("-")), None))
    return [CompletionItem(f"{k}=") for k in recipe_keys(recipe_arg) if k.startswith(incomplete)]
