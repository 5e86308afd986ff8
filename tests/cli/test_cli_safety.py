"""Safety at the CLI: recipes are read with YAML's safe loader only; model files and python data sources
run no code unless the user says so (--trust-model, --allow-code)."""
from __future__ import annotations

import hashlib
import os
import re

import pytest
from run_helpers import MODEL, ROOT, cli, ptq_recipe, write_recipe

PACKAGE = ROOT / "optimize_cli"
PTQ = ptq_recipe('safety', 100)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Nothing a test runs may write outside its temporary directory (no runs/ in the repository)."""
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------------------------------- YAML

_UNSAFE_YAML = re.compile(
    r"yaml\.(load|load_all|full_load|full_load_all|unsafe_load|unsafe_load_all)\s*\("
    r"|\b(Unsafe|Full)?Loader\s*=\s*yaml\.(Loader|FullLoader|UnsafeLoader|UnsafeConstructor)"
    r"|yaml\.(Loader|FullLoader|UnsafeLoader)\b|yaml\.constructor\.(Full|Unsafe)Constructor"
)


def test_safety_package_uses_only_safe_yaml_loading():
    """Every YAML read in optimize_cli/ is yaml.safe_load or yaml.SafeLoader (grep proves it)."""
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    offending, safe_uses = [], 0
    for f in sources:
        text = f.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if _UNSAFE_YAML.search(line):
                offending.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
            safe_uses += len(re.findall(r"yaml\.(safe_load|SafeLoader)\b", line))
    assert offending == []
    assert safe_uses >= 2  # the recipe loader and --set values
    # and numpy never unpickles data files
    for f in sources:
        for call in re.findall(r"np\.load\([^)]*\)", f.read_text()):
            assert "allow_pickle=False" in call, f"{f.name}: {call}"


def test_safety_recipe_with_python_tag_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "yaml_code_ran"
    recipe = tmp_path / "evil.yaml"
    recipe.write_text(f"version: 1\nname: !!python/object/apply:os.system ['touch {marker}']\n"
                      f"model: {MODEL}\nstages: []\n")
    res = cli("run", recipe, "--output", tmp_path / "out")
    assert res.exit_code == 2
    line, = res.stderr.strip().splitlines()
    assert str(recipe) in line
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------- model code


@pytest.fixture(scope="module")
def lambda_models(tmp_path_factory):
    """.h5 and .keras digits-shaped models with a Lambda whose code writes a marker file when it runs."""
    from optimize_cli.tf import keras

    d = tmp_path_factory.mktemp("lambda")
    marker = d / "lambda_code_ran"
    marker_path = str(marker)
    L = keras.layers
    inp = keras.Input((8, 8, 1), name="image")
    h = L.Flatten()(inp)
    h = L.Lambda(lambda t: t + float(len(open(marker_path, "w").name) * 0), name="doubler")(h)
    m = keras.Model(inp, L.Dense(10, activation="softmax", name="head")(h))
    m.save(str(d / "lam.h5"))
    m.save(str(d / "lam.keras"))
    marker.unlink(missing_ok=True)
    return d, marker


@pytest.mark.parametrize("name", ["lam.h5", "lam.keras"])
def test_safety_lambda_model_refused_without_trust_model_and_its_code_never_runs(lambda_models, name, tmp_path):
    d, marker = lambda_models
    recipe = write_recipe(tmp_path, PTQ)
    res = cli("run", recipe, "--model", d / name, "--output", tmp_path / "out", "--quiet")
    assert res.exit_code == 3, res.output
    line, = res.stderr.strip().splitlines()
    assert f"{d / name}: layer 'doubler' is a Lambda layer" in line and "--trust-model" in line
    assert "Traceback" not in res.output
    assert not marker.exists(), "the Lambda's code ran although the model was refused"
    assert sorted(os.listdir(tmp_path)) == ["recipe.yaml"]  # no output, no .partial left


# ------------------------------------------------------------------------------------- data code


def test_safety_python_data_source_needs_allow_code(tmp_path):
    marker = tmp_path / "module_code_ran"
    module = "safety_source_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:8]
    (tmp_path / f"{module}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef make():\n    raise RuntimeError('refused on purpose')\n")
    doc = {**PTQ, "data": {"eval": {"type": "python", "function": f"{module}:make", "path": str(tmp_path)}}}
    recipe = write_recipe(tmp_path, doc)

    res = cli("run", recipe, "--output", tmp_path / "out", "--quiet")
    assert res.exit_code == 2
    line, = res.stderr.strip().splitlines()
    assert "data.eval: python data sources run code from the recipe; pass --allow-code" in line
    assert not marker.exists(), "the module was imported without --allow-code"

    res = cli("run", recipe, "--output", tmp_path / "out", "--quiet", "--allow-code")
    assert res.exit_code == 3
    line, = res.stderr.strip().splitlines()
    assert f"data.eval.function: {module}:make raised RuntimeError: refused on purpose" in line
    assert marker.exists()  # with --allow-code the recipe's code does run
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()
