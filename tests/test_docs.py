"""The documentation site: the generated reference pages cover every property of the recipe and report.json
schemas and every click command and option (cheap: the generator and mkdocs-click's Markdown extension
run in-process, no site build), and the real `mkdocs build --strict` passes (slow)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "hooks" / "schema_reference.py"


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location("schema_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _objects(node, defs_seen, out, inside_search=False):
    """Every object schema with properties, found anywhere in `node` (conditions, `if`/`then`/`not`, are
    rules about other keys, not new ones): (its property names, whether it sits inside a search space)."""
    if isinstance(node, list):
        for x in node:
            _objects(x, defs_seen, out, inside_search)
        return
    if not isinstance(node, dict):
        return
    search = inside_search or (node.get("required") == ["search"] and "search" in node.get("properties", {}))
    if node.get("properties"):
        out.append((frozenset(node["properties"]), search, node))
    for key, value in node.items():
        if key in ("if", "then", "else", "not", "$defs"):
            continue
        if key == "properties":
            for prop in value.values():
                _objects(prop, defs_seen, out, search)
        elif isinstance(value, (dict, list)):
            _objects(value, defs_seen, out, search)


def _sections(markdown: str) -> dict[str, set[str]]:
    """{heading id: keys of its table rows} of a rendered reference page."""
    out, current = {}, None
    for line in markdown.splitlines():
        m = re.match(r"^## .* \{#([a-z0-9_-]+)\}$", line)
        if m:
            current = out.setdefault(m.group(1), set())
            continue
        m = re.match(r"^\| `([^`]+)` \|", line)
        if m and current is not None:
            current.add(m.group(1))
    return out


@pytest.mark.parametrize("which", ["recipe", "report"])
def test_docs_reference_covers_every_schema_property(hook, which):
    schema = hook.schemas()[which]
    page = hook.render(schema, which)
    sections = _sections(page)
    assert len(set(sections)) == len([ln for ln in page.splitlines() if ln.startswith("## ")]), "ids are unique"
    tables = list(sections.values())
    # every definition has its own section with exactly its keys
    for name, node in schema.get("$defs", {}).items():
        keys = sections.get(f"{which}-{name.lower()}")
        assert keys is not None, f"{which}: no section for $defs/{name}"
        props = set(node.get("properties", {})) or ({"<name>"} if isinstance(node.get("additionalProperties"), dict) else set())
        assert keys == props, f"{which}: {name}: {sorted(props ^ keys)}"
    assert sections[f"{which}-top"] == set(schema["properties"])
    # every object anywhere (inline ones included) is some section's table
    found = []
    for node in [schema, *schema.get("$defs", {}).values()]:
        _objects(node, None, found)
    for props, in_search, node in found:
        if in_search:  # the search-space value: one section documents its keys once
            assert {"search", "log", "search.choices"} <= sections[f"{which}-search-space"], props
            continue
        if "$ref" in node:  # a definition narrowed (ptq_baseline: quantization int8): its keys are the definition's
            target = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            assert set(props) <= set(target.get("properties", {})), props
            continue
        if hook.is_union(node):  # {type: ...} told apart by type: each branch is a definition (checked above)
            assert all(f"{which}-{r.rsplit('/', 1)[-1].lower()}" in sections for r in hook.union_refs(node))
            continue
        assert any(set(props) == t for t in tables), f"{which}: no table with the keys {sorted(props)}"
    # descriptions: every property of report.json says what it is
    if which == "report":
        empty = [ln for ln in page.splitlines() if ln.startswith("| `") and ln.rstrip().endswith("|  |")]
        assert not empty, empty


def test_docs_reference_escapes_pipes_and_keeps_rows_on_one_line(hook):
    page = hook.render(hook.schemas()["recipe"], "recipe")
    rows = [ln for ln in page.splitlines() if ln.startswith("| `")]
    assert rows
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row  # 4 cells


def _commands(group: click.Group, prefix="optimize-cli"):
    ctx = click.Context(group, info_name="optimize-cli")
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if not cmd.hidden:
            yield f"{prefix} {name}", cmd


def _has_flag(text: str, flag: str) -> bool:
    return re.search(re.escape(flag) + r"(?![\w-])", text) is not None


def test_docs_cli_reference_covers_every_command_and_option():
    import markdown

    from optimize_cli.cli import main

    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert "::: mkdocs-click" in page and ":module: optimize_cli.cli" in page and ":command: main" in page
    html = markdown.markdown(page, extensions=["mkdocs-click", "attr_list", "tables", "toc"])
    commands = list(_commands(main))
    assert {n.split()[1] for n, _ in commands} >= {"run", "search", "validate", "tree", "recipes", "schema",
                                                    "inspect", "compare", "completion"}
    headings = [(m.start(), re.sub(r"<[^>]+>", "", m.group(1)).strip()) for m in re.finditer(r"<h\d[^>]*>(.*?)</h\d>", html)]
    for name, cmd in commands:
        short = name.split()[-1]
        at = [i for i, (_, text) in enumerate(headings) if text in (short, name)]
        assert at, f"no section for {name}"
        start = headings[at[0]][0]
        end = headings[at[0] + 1][0] if at[0] + 1 < len(headings) else len(html)
        section = html[start:end]
        assert f"optimize-cli {short} [OPTIONS]" in section, f"{name}: no usage line"
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                for flag in param.opts:
                    assert _has_flag(section, flag), f"{name}: {flag} is not documented"
            if isinstance(param, click.Option) and param.hidden:
                assert not any(_has_flag(section, flag) for flag in param.opts), f"{name}: hidden {param.opts}"
    hidden = [n for n in main.list_commands(click.Context(main)) if main.get_command(click.Context(main), n).hidden]
    for name in hidden:
        assert all(text != name for _, text in headings), f"hidden command {name} is documented"


def test_docs_nav_lists_every_page():
    import yaml

    # mkdocs.yml may hold python tags in general; this one does not, so safe_load reads it
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    listed = set(pages(config["nav"]))
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert listed == on_disk


@pytest.mark.slow
def test_docs_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    recipe = (tmp_path / "site" / "reference" / "recipe" / "index.html").read_text(encoding="utf-8")
    report = (tmp_path / "site" / "reference" / "report" / "index.html").read_text(encoding="utf-8")
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert 'id="recipe-prunestage"' in recipe and "target_sparsity" in recipe
    assert 'id="report-result"' in report and "deployable_bytes" in report
    assert 'id="optimize-cli-run"' in cli and "--resume" in cli
    assert "schema-reference:" not in recipe + report  # every marker was replaced
    json.loads((ROOT / "optimize_cli" / "report.schema.json").read_text(encoding="utf-8"))


def _doc_commands():
    """(page, argv) for every `optimize-cli ...` line of the docs' and the README's sh blocks, without
    placeholders (`…`, `<...>`, `$(...)`)."""
    import shlex

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:sh|make)\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():  # continued lines joined
                line = line.strip().lstrip("\t")
                if not line.startswith("optimize-cli ") or re.search(r"…|\.\.\.|<[a-z]|\$\(", line):
                    continue
                argv = shlex.split(line.split(" > ")[0].split(" >> ")[0], comments=True)
                yield page.relative_to(ROOT).as_posix(), argv


def test_docs_commands_parse_with_the_real_cli():
    """Every command the docs show uses a real command and real options (parsed by click, not run)."""
    from optimize_cli.cli import main

    seen = 0
    for page, argv in _doc_commands():
        args = [a for a in argv[1:] if a != "--debug"]
        if args[0] in ("--version", "--help"):
            continue
        cmd = main.get_command(click.Context(main), args[0])
        assert cmd is not None and not cmd.hidden, f"{page}: {shlex_join(argv)}: no command {args[0]}"
        try:
            cmd.make_context(args[0], args[1:], parent=click.Context(main, info_name="optimize-cli"))
        except click.exceptions.Exit:
            pass
        except click.UsageError as e:
            pytest.fail(f"{page}: {shlex_join(argv)}: {e.format_message()}")
        seen += 1
    assert seen > 40


def shlex_join(argv):
    import shlex

    return shlex.join(argv)
