"""The house rules of ARCHITECTURE.md that a machine can check: one concept per file (no module over 450
lines, no function over 100), no private name imported across modules, and a stage registry that the
recipe, the tree and the run loop all read."""
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
