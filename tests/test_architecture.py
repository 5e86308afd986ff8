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
