"""The house rules of ARCHITECTURE.md that a machine can check: one concept per file (no module over 450
lines, no function over 100), no private name imported across modules, a stage registry that the
recipe, the tree and the run loop all read, no import circles between the package's modules (module-level
and lazy imports alike; tree.py imports nothing of the package), and no stage type spelled out to decide
something outside stages/."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "optimize_cli"
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_architecture_no_module_over_450_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long


def test_architecture_no_function_over_100_lines():
    long = {}
    for p in MODULES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 100:
                    long[f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long, long


def test_architecture_no_private_name_imported_across_modules():
    bad = []
    for p in MODULES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                bad += [f"{p.relative_to(PACKAGE)}: from {'.' * node.level}{node.module or ''} import {a.name}"
                        for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, bad


def test_architecture_packages_by_concept_exist():
    for name in ("cli", "recipe", "data", "models", "stages", "training", "measure", "run", "report"):
        assert (PACKAGE / name / "__init__.py").is_file(), name
    assert (PACKAGE / "tree.py").is_file()


# ------------------------------------------------------------------------------------- import graph


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(p): p for p in MODULES}


def imports_of(path: Path) -> set[str]:
    """The package's modules `path` imports, at module level or inside a function (a lazy import is a
    dependency too): `from A import n` is an edge to A.n when that is a module, else to A (so a package
    `__init__` that re-exports its modules has edges to them); `import A.B` is an edge to A.B."""
    name = module_name(path)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in NAMES}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else (node.module or "")
            for a in node.names:
                out |= {f"{base}.{a.name}"} if f"{base}.{a.name}" in NAMES else ({base} if base in NAMES else set())
    return out - {name}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each set of modules that import each other, directly or around a circle (Tarjan's strongly
    connected components with more than one module), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_architecture_no_import_circles():
    graph = {name: imports_of(path) for name, path in NAMES.items()}
    circles = import_circles(graph)
    shown = [{m: sorted(graph[m] & set(c)) for m in c} for c in circles]
    assert not circles, shown


def test_architecture_import_circles_are_found():
    """The checker itself: a circle through three modules, and one through a lazy import."""
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert imports_of(PACKAGE / "stages" / "__init__.py") >= {"optimize_cli.stages.prune", "optimize_cli.stages.base"}
    assert "optimize_cli.tf" in imports_of(PACKAGE / "stages" / "prune.py")  # imported inside run()


def test_architecture_tree_imports_nothing_from_the_package():
    assert imports_of(PACKAGE / "tree.py") == set()


# -------------------------------------------------------------------------------- stage-type literals


def stage_type_literals(path: Path, types: set[str], root: Path = PACKAGE) -> list[str]:
    """Where `path` spells a stage type as a string to decide something: a stage type compared (`==`,
    `!=`, `in`, `not in`, also inside a tuple/list/set compared against) or listed in a tuple/list/set of
    strings only (a list of stage types kept outside their modules). Docstrings, messages, dict keys of
    other documents and arguments (a TF_CONFIG "cluster" key) are not decisions about a stage type."""
    found = []

    def constants(node) -> list[ast.Constant]:
        if isinstance(node, ast.Constant):
            return [node]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [c for e in node.elts for c in constants(e)]
        return []

    for node in ast.walk(ast.parse(path.read_text())):
        hits: list[ast.Constant] = []
        if isinstance(node, ast.Compare):
            hits = [c for operand in (node.left, *node.comparators) for c in constants(operand)]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            hits = list(node.elts)
        found += [f"{path.relative_to(root)}:{c.lineno}: {c.value!r}" for c in hits
                  if isinstance(c.value, str) and c.value in types]
    return sorted(set(found))


def test_architecture_no_stage_type_literal_outside_the_stages():
    """What a stage type means lives in its module (stages/<type>.py: module flags such as DISTRIBUTED,
    EXPORT, path_scheme) and is read through the registry; elsewhere no code compares with a stage type."""
    from optimize_cli.stages import STAGES

    types = set(STAGES)
    assert {"prune", "cluster", "qat", "filter_prune"} <= types
    bad = [hit for p in MODULES if p.relative_to(PACKAGE).parts[0] != "stages"
           for hit in stage_type_literals(p, types)]
    assert not bad, bad


def test_architecture_stage_type_literals_are_found(tmp_path):
    code = tmp_path / "x.py"
    code.write_text('"""qat docs."""\nA = ("prune", "cluster")\nif t == "qat" or t in ("a", "prune"):\n'
                    '    f("cluster", {"qat": 1})\n')
    found = stage_type_literals(code, {"prune", "cluster", "qat"}, root=tmp_path)
    assert [h.split(": ", 1)[1] for h in found] == ["'cluster'", "'prune'", "'prune'", "'qat'"]


#: where the program may print (the CLI, and the progress it shows on stderr): the library never does
PRINTS_ALLOWED = ("cli/", "progress.py")
_STREAMS = {"sys.stdout", "sys.stderr"}  # a Console given one of these writes to the terminal


def _prints(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for each way of printing in a module: print(), sys.stdout.write(), click.echo, the
    program's consoles (stdout_console, stderr_console), and a rich Console( that is not rendering into a
    buffer of its own (file= anything but sys.stdout / sys.stderr). Not counted: quiet.py's replay of the
    native log it captured (plumbing of fd 2, not output of the tool's own)."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        dotted = ast.unparse(f)
        if name == "Console":
            file = next((k.value for k in node.keywords if k.arg == "file"), None)
            if file is None or ast.unparse(file) in _STREAMS:
                out.append((node.lineno, "Console("))
        elif name == "print" and isinstance(f, ast.Name):
            out.append((node.lineno, "print("))
        elif dotted in ("sys.stdout.write", "click.echo", "click.secho") \
                or name in ("stdout_console", "stderr_console"):
            out.append((node.lineno, dotted + "("))
    return out


def test_architecture_library_never_prints():
    """Printing (print(), a rich Console writing to the terminal, sys.stdout.write) happens only in cli/
    and progress.py: the library returns text and records, and tells progress callbacks."""
    bad = []
    for p in MODULES:
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith(PRINTS_ALLOWED):
            continue
        bad += [f"{rel}:{line} {what}" for line, what in _prints(ast.parse(p.read_text()))]
    assert not bad, bad


def test_architecture_print_check_sees_every_form():
    code = """
print("x")
sys.stdout.write("x")
click.echo("x")
Console()
Console(stderr=True)
Console(file=sys.stdout)
rich.console.Console(file=sys.stderr)
stdout_console().print("x")
Console(file=buf).print("rendered into a string")
self.print("a method of one's own")
"""
    assert [what for _, what in _prints(ast.parse(code))] == [
        "print(", "sys.stdout.write(", "click.echo(", "Console(", "Console(", "Console(",
        "Console(", "stdout_console("]


#: where a target type's name may appear as a string outside optimize_cli/targets/: "litert" is also the
#: LiteRT library, whose version report.json records as `versions.litert` (a contract key, not a target)
LIBRARY_NAME_USES = {"tf.py": {"litert"}, "cli/__init__.py": {"litert"}, "report/tables.py": {"litert"}}


def test_architecture_target_types_are_named_only_by_their_modules():
    """No `if type == "tflm"` chains: a target type's string appears only in optimize_cli/targets/ (its
    module owns what it means); everything else asks the registry."""
    from optimize_cli.targets import TARGET_TYPES

    bad = []
    for p in MODULES:
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith("targets/"):
            continue
        allowed = LIBRARY_NAME_USES.get(rel, set())
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and node.value in TARGET_TYPES and node.value not in allowed:
                bad.append(f"{rel}:{node.lineno} {node.value!r}")
    assert not bad, bad
