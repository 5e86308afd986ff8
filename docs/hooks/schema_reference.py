"""MkDocs hook: the recipe and report.json reference pages, generated from the two JSON Schemas the tool
ships, so that the pages cannot drift from what `optimize-cli validate` and the report writer enforce.

A page asks for a schema with a line of its own, `<!-- schema-reference: recipe -->` (the schema
`optimize-cli schema` prints) or `<!-- schema-reference: report -->` (`optimize-cli schema --report`,
optimize_cli/report.schema.json); the hook replaces it with one table per object of the schema: its keys,
their types (links to the objects they hold), defaults and descriptions.

`render(schema, prefix)` is the whole generator; tests/test_docs.py checks its output covers every
property of both schemas without building the site."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MARKER = re.compile(r"^<!--\s*schema-reference:\s*(recipe|report)\s*-->\s*$", re.MULTILINE)


def schemas() -> dict:
    """The two schemas, as the installed package has them."""
    from importlib.resources import files

    from optimize_cli.recipe import json_schema

    report = json.loads(files("optimize_cli").joinpath("report.schema.json").read_text(encoding="utf-8"))
    return {"recipe": json_schema(), "report": report}


def on_page_markdown(markdown, page=None, config=None, files=None, **_):  # noqa: ARG001 - the hook's signature
    if not MARKER.search(markdown):
        return markdown
    found = schemas()
    return MARKER.sub(lambda m: render(found[m.group(1)], m.group(1)), markdown)


# --------------------------------------------------------------------------------------------- the walk


@dataclass
class Row:
    key: str
    type: str
    default: str
    description: str


@dataclass
class Section:
    id: str
    title: str
    node: dict
    path: str                      # where the object sits in a document (`data.train`, `stages[]`)
    used_in: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    owner: "Section | None" = None  # an inline object's nearest definition (None: the top level)
    name: str = ""                 # a definition's name

    def heading(self) -> str:
        """A definition by its name; an inline object by its path, relative to its definition when that
        is used in more than one place (`targets › <name>`)."""
        o = self.owner
        if o is None or len(o.used_in) == 1 or not self.path.startswith(o.path):
            return self.title
        rel = self.path[len(o.path):].lstrip(".")
        return f"{o.name} › `{rel}`"


def is_search_space(node: dict) -> bool:
    """`{search: [lo, hi]}` / `{search: {choices: [...]}}`: the value a search recipe may put in a key."""
    return node.get("type") == "object" and node.get("required") == ["search"] and "search" in node.get("properties", {})


def is_union(node: dict) -> bool:
    """An object told apart by its `type` key (stages, targets, data sources): only `type` of its own and
    an allOf of `if type == X then $ref`; each referenced object is documented in its own section."""
    return (set(node.get("properties", {})) <= {"type"} and bool(node.get("allOf"))
            and all("then" in branch for branch in node["allOf"]))


def union_refs(node: dict) -> list[str]:
    out = []
    for branch in node.get("allOf", []):
        ref = branch["then"].get("$ref")
        if ref and ref not in out:
            out.append(ref)
    return out


class Walker:
    """Sections in reading order (depth first from the top level), each with its rows."""

    def __init__(self, schema: dict, prefix: str, nulls: bool = False):
        self.schema, self.prefix, self.nulls = schema, prefix, nulls
        self.defs = schema.get("$defs", {})
        self.sections: list[Section] = []
        self.by_key: dict = {}

    def run(self) -> list[Section]:
        top = self._section("top", "Top level", self.schema, "")
        self._fill(top)
        for name in self.defs:  # a definition nothing refers to still gets its section
            ref = f"#/$defs/{name}"
            if ref not in self.by_key:
                self._fill(self._def_section(ref, ""))
        return self.sections

    # sections ------------------------------------------------------------------------------------------

    def _section(self, key, title, node, path) -> Section:
        sid = f"{self.prefix}-" + re.sub(r"[^a-z0-9]+", "-", str(key).lower()).strip("-")
        s = Section(sid, title, node, path)
        self.sections.append(s)
        self.by_key[key if key != "top" else "top"] = s
        return s

    def _def_section(self, ref: str, path: str) -> Section:
        name = ref.rsplit("/", 1)[-1]
        node = self.defs[name]
        kind = node.get("properties", {}).get("type", {})
        title = f"{name} (`type: {kind['const']}`)" if "const" in kind else name
        s = self._section(ref, title, node, path)
        s.id, s.name = f"{self.prefix}-{name.lower()}", name
        if path:
            s.used_in.append(path)
        return s

    def _link(self, ref: str, path: str) -> str:
        """The section of a $ref (made and filled on first sight, depth first), as a Markdown link."""
        s = self.by_key.get(ref)
        if s is None:
            s = self._def_section(ref, path)
            self._fill(s)
        elif path and path not in s.used_in:
            s.used_in.append(path)
        return f"[{ref.rsplit('/', 1)[-1]}](#{s.id})"

    def _inline(self, node: dict, path: str, search: bool = False) -> str:
        key = "search-space" if search else ("inline", path)
        s = self.by_key.get(key)
        if s is None:
            if search:
                s = self._section(key, "Search spaces (`{search: ...}`)", node, path)
                s.rows = search_space_rows(node)
                s.used_in.append(path)
                return f"[search space](#{s.id})"
            else:
                s = self._section(key, f"`{path}`", node, path)
                s.owner = self.filling.owner if self.filling.owner is not None else (
                    self.filling if self.filling.name else None)
                s.id = f"{self.prefix}-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "x")
            self._fill(s)
        if search and path not in s.used_in:
            s.used_in.append(path)
        return f"[{'search space' if search else 'object'}](#{s.id})"

    def _fill(self, s: Section) -> None:
        outer, self.filling = getattr(self, "filling", None), s
        try:
            self._rows(s)
        finally:
            self.filling = outer

    def _rows(self, s: Section) -> None:
        required = set(s.node.get("required", []))
        for name, prop in s.node.get("properties", {}).items():
            path = f"{s.path}.{name}" if s.path else name
            default = ("always" if name in required else "optional") if self.nulls else default_text(
                prop, name in required)
            s.rows.append(Row(name, self.type_label(prop, path), default, self.describe(prop)))
        extra = s.node.get("additionalProperties")
        if isinstance(extra, dict) and not s.node.get("properties"):
            path = f"{s.path}.<name>" if s.path else "<name>"
            s.rows.append(Row("<name>", self.type_label(extra, path), "—", self.describe(extra)))

    # cells ---------------------------------------------------------------------------------------------

    def describe(self, node: dict) -> str:
        text = node.get("description")
        if text is None and "$ref" in node:
            text = self.defs[node["$ref"].rsplit("/", 1)[-1]].get("description")
        if text is None:
            for branch in node.get("anyOf", []):
                if "$ref" in branch:
                    text = self.defs[branch["$ref"].rsplit("/", 1)[-1]].get("description")
                    break
        return cell(text or "")

    def type_label(self, node: dict, path: str) -> str:
        if "$ref" in node:
            return self._link(node["$ref"], path)
        if is_search_space(node):
            return self._inline(node, path, search=True)
        if is_union(node):
            return "one of " + ", ".join(self._link(r, path) for r in union_refs(node))
        for key in ("anyOf", "oneOf"):
            if key in node:
                labels = [self.type_label(b, path) for b in node[key] if b.get("type") != "null"]
                if self.nulls and any(b.get("type") == "null" for b in node[key]):
                    labels.append("null")
                return " or ".join(dict.fromkeys(x for x in labels if x)) or "null"
        return self._plain(node, path)

    def _plain(self, node: dict, path: str) -> str:
        if "const" in node:
            return f"`{json.dumps(node['const'])}`"
        if "enum" in node:
            return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
        types = node.get("type")
        types = [t for t in (types if isinstance(types, list) else [types]) if t and (t != "null" or self.nulls)]
        words = []
        for t in types:
            if t == "array":
                items = node.get("items")
                words.append("list of " + self.type_label(items, f"{path}[]") if isinstance(items, dict) else "list")
            elif t == "object" and node.get("properties"):
                words.append(self._inline(node, path))
            elif t == "object" and isinstance(node.get("additionalProperties"), dict):
                words.append("map of name → " + self.type_label(node["additionalProperties"], f"{path}.<name>"))
            else:
                words.append(t)
        label = " or ".join(words) or "any"
        bounds = bounds_text(node)
        return f"{label} ({bounds})" if bounds else label


def search_space_rows(node: dict) -> list[Row]:
    """The value of a searchable key: `{search: [lo, hi], log: true}` or `{search: {choices: [...]}}`."""
    props = node["properties"]
    ranges = [b for b in props["search"].get("anyOf", []) if b.get("type") == "array"]
    choices = [b for b in props["search"].get("anyOf", [props["search"]]) if b.get("type") == "object"]
    rows = [Row("search", "`[lo, hi]` or `{choices: [...]}`", "**required**",
                cell(ranges[0].get("description", "") if ranges else "A range or a list of choices."))]
    if choices:
        rows.append(Row("search.choices", "list (items ≥ 1)", "—",
                        cell(choices[0]["properties"]["choices"].get("description", ""))))
    for name, prop in props.items():
        if name != "search":
            rows.append(Row(name, prop.get("type", "any"), default_text(prop, False), cell(prop.get("description", ""))))
    return rows


def bounds_text(node: dict) -> str:
    marks = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
             ("minLength", "length ≥"), ("minItems", "items ≥"), ("maxItems", "items ≤"))
    out = [f"{sign} {node[k]:g}" if isinstance(node[k], float) else f"{sign} {node[k]}" for k, sign in marks
           if k in node]
    if "pattern" in node:
        out.append(f"pattern `{node['pattern']}`")
    return ", ".join(out)


def default_text(node: dict, required: bool) -> str:
    if "default" in node:
        return f"`{json.dumps(node['default'], ensure_ascii=False)}`"
    return "**required**" if required else "—"


def cell(text: str) -> str:
    """One table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# ---------------------------------------------------------------------------------------------- render


def render(schema: dict, prefix: str) -> str:
    """The reference: the schema's description and rules, then one section per object (heading with a
    stable id `{prefix}-<name>`, where it is used, a key | type | default | description table)."""
    sections = Walker(schema, prefix, nulls=prefix == "report").run()
    out = []
    if schema.get("description"):
        out += [cell(schema["description"]), ""]
    rules = [cell(b["description"]) for b in schema.get("allOf", []) if b.get("description")]
    if rules:
        out += ["Rules across keys, checked by the schema too:", ""] + [f"- {r}" for r in rules] + [""]
    for s in sections:
        out += [f"## {s.heading()} {{#{s.id}}}", ""]
        if s.node is not schema and s.node.get("description"):
            out += [cell(s.node["description"]), ""]
        if s.used_in:
            out += ["Used in: " + ", ".join(f"`{p}`" for p in s.used_in) + ".", ""]
        if s.rows:
            third = "present" if prefix == "report" else "default"
            out += [f"| key | type | {third} | description |", "|---|---|---|---|"]
            out += [f"| `{r.key}` | {r.type} | {r.default} | {r.description} |" for r in s.rows]
            out.append("")
    return "\n".join(out)
