"""Where things are in the recipe file: line numbers of YAML nodes, keys the YAML reader would silently
merge or misread, and one-line YAML syntax errors."""
from __future__ import annotations

import re
from typing import Optional

import yaml

from ..errors import RecipeError
from .problems import Problem
from .text import format_loc, show_value


def find_node(root, parts, key_line: bool = False) -> tuple[Optional[int], bool]:
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


def node_line(root, parts, key_line: bool = False) -> Optional[int]:
    """1-based line of the YAML node at `parts` (see `find_node`)."""
    return find_node(root, parts, key_line)[0]


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_KIND = {
    "tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:timestamp": "a date",
}


def key_problems(root) -> list[Problem]:
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
                    out.append(Problem(format_loc(parts), "a key must be a plain name, not a list or mapping", line))
                    continue
                if k.tag != _STR_TAG:
                    kind = _TAG_KIND.get(k.tag, "not text")
                    out.append(Problem(format_loc(parts), f"key {show_value(k.value)} is {kind}, not a name; keys are "
                                       "names such as 'model' (quote it if you mean the text)", line))
                    continue
                if k.value in first:
                    out.append(Problem(format_loc(parts + [k.value]), f"duplicate key (first at line "
                                       f"{first[k.value]}); YAML would silently keep only the last one", line))
                else:
                    first[k.value] = line
                stack.append((v, parts + [k.value]))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, parts + [i]))
    out.sort(key=lambda p: p.line or 0)
    return out


def yaml_error(file: str, text: str, e: Exception) -> RecipeError:
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

