"""Adding a deployment target is one module and one registration line: `validate`, the JSON Schema, a
real post-training `run`, the report (report.json, report.md), the gates and `compare` all pick up a
throw-away target written to a temporary module."""
from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]

TARGET_MODULE = '''
"""echo: a throw-away target for the registration test. It "deploys" the .tflite with a 4-byte trailer
(its own file, model_echo.tflite) and measures the bytes it loads and the eval samples it was given."""
from typing import Literal

from pydantic import Field

from optimize_cli.strict import Strict
from optimize_cli.targets.base import Deployed, Gate, Measured, change_cell, int_cell

TYPE = "echo"


class EchoTarget(Strict):
    """Echo: a pretend runtime that loads the .tflite with a trailer."""

    type: Literal["echo"] = "echo"
    copies: int = Field(1, ge=1, description="How many copies of the model the runtime keeps.")


Params = EchoTarget
PACKAGE = None
GATES = {"max_echo_bytes": Gate("loaded_bytes", "max", "B", "Largest allowed bytes the echo runtime loads.")}
BASELINE = "float32"
FILE = ("model_echo.tflite", "echo_path")
INSPECT_NAMES = ("echo",)
COMPARE_ROWS = (("loaded_bytes", "loaded bytes", "B"),)


def rules(i, t, base, check_paths):
    return [(["targets", i, "copies"], "must be at most 4")] if t.copies > 4 else []


def deploy(t, tfl, ctx):
    return Deployed(bytes(tfl) + b"ECHO", {"echoed": True})


def measure(t, tfl, ctx):
    samples = None if ctx.batches is None else sum(len(y) for _, y in ctx.batches())
    return Measured({"type": TYPE, "version": "1.0", "loaded_bytes": t.copies * len(tfl), "eval_samples": samples})


def summary_line(name, f):
    return f"{name}: loads {f['loaded_bytes']:,} B"


def report_rows(report, b, r):
    return [["loaded bytes", int_cell(b.get("loaded_bytes"), " B"), int_cell(r.get("loaded_bytes"), " B"),
             change_cell(b.get("loaded_bytes"), r.get("loaded_bytes"))]]


def report_note(name, r):
    return f"echo {r['version']}"
'''


@pytest.fixture
def echo(tmp_path, monkeypatch):
    """The throw-away target module, registered in one line, unregistered afterwards."""
    from optimize_cli import targets

    (tmp_path / "echo_target.py").write_text(TARGET_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("echo_target")
    targets.register(module)  # the one line
    try:
        yield module
    finally:
        targets.unregister("echo")
        sys.modules.pop("echo_target", None)


def write_recipe(where: Path, targets, gates=None, name="r.yaml") -> str:
    doc = {"version": 1, "name": "echo", "model": str(ROOT / "sample_models" / "digits_cnn"),
           "data": {"eval": {"type": "npz", "path": str(ROOT / "sample_models" / "digits.npz"), "x": "x_test",
                             "y": "y_test"}},
           "export": {"quantization": "dynamic", "slim": False}, "evaluation": {"latency_runs": 2, "latency_warmup": 1},
           "targets": targets, **({"gates": gates} if gates else {})}
    path = where / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_target_registry_validate_picks_up_a_new_target(echo, tmp_path):
    from optimize_cli.cli import main
    from optimize_cli.recipe import GatesConfig, load_recipe

    r = load_recipe(write_recipe(tmp_path, ["litert", {"type": "echo", "copies": 2}], {"max_echo_bytes": 10}))
    assert [t.type for t in r.targets] == ["litert", "echo"] and isinstance(r.targets[1], echo.EchoTarget)
    assert r.targets[1].copies == 2 and r.gates.max_echo_bytes == 10
    assert load_recipe(write_recipe(tmp_path, ["echo"], name="bare.yaml")).targets[0].copies == 1
    assert "max_echo_bytes" in GatesConfig.model_fields
    runner = CliRunner()
    assert runner.invoke(main, ["validate", write_recipe(tmp_path, ["echo"])]).exit_code == 0
    cases = [
        (["echo", {"type": "echo", "copies": 2}], None, "target 'echo' is listed twice"),
        ([{"type": "echo", "copies": 5}], None, "targets[0].copies: must be at most 4"),
        ([{"type": "echo", "depth": 3}], None, "targets[0].depth: unknown key"),
        (["ech"], None, "did you mean 'echo'"),
        (["tflm"], {"max_echo_bytes": 10}, "gates.max_echo_bytes: needs a 'echo' target"),
        (["echo"], {"max_echo_byte": 10}, "did you mean 'max_echo_bytes'"),
    ]
    for i, (targets, gates, message) in enumerate(cases):
        res = runner.invoke(main, ["validate", write_recipe(tmp_path, targets, gates, f"bad{i}.yaml")])
        assert res.exit_code == 2 and message in res.output, (targets, res.output)


def test_target_registry_schema_describes_a_new_target(echo):
    from optimize_cli.recipe import json_schema

    schema = json_schema()
    assert schema["$defs"]["EchoTarget"]["properties"]["copies"]["description"] == \
        "How many copies of the model the runtime keeps."
    assert schema["$defs"]["GatesConfig"]["properties"]["max_echo_bytes"]["description"] == \
        "Largest allowed bytes the echo runtime loads."
    items = schema["properties"]["targets"]["items"]["anyOf"]
    assert "echo" in items[0]["enum"] and "echo" in items[1]["properties"]["type"]["enum"]


def test_target_registry_unregister_restores_the_builtin_targets(echo):
    from optimize_cli import targets
    from optimize_cli.recipe import GatesConfig, json_schema
    from optimize_cli.report.gates import gate_table

    targets.unregister("echo")
    try:
        assert targets.TARGET_TYPES == ["litert", "tflm", "ethos-u"] and "EchoTarget" not in json_schema()["$defs"]
        assert "max_echo_bytes" not in GatesConfig.model_fields and "max_echo_bytes" not in gate_table()
    finally:
        targets.register(echo)


@pytest.fixture
def echo_run(echo, tmp_path):
    """A real post-training (dynamic range) run of the sample CNN measured on the echo target, its gate
    missed on purpose."""
    from optimize_cli.cli import main

    recipe = write_recipe(tmp_path, ["litert", "echo"], {"max_echo_bytes": 1})
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", recipe, "--output", str(out), "--quiet"], catch_exceptions=False)
    return res, out


@pytest.mark.slow
def test_target_registry_run_report_gates_and_compare_see_a_new_target(echo_run):
    from optimize_cli.cli import main

    res, out = echo_run
    assert res.exit_code == 5, res.output  # the echo gate was missed; everything is still written
    report = json.loads((out / "report.json").read_text())
    tfl = (out / "model.tflite").read_bytes()
    figures = report["result"]["targets"]["echo"]
    assert figures["type"] == "echo" and figures["model"] == "result" and figures["eval_samples"] == 540
    assert (out / "model_echo.tflite").read_bytes() == tfl + b"ECHO" and figures["echo_path"] == "model_echo.tflite"
    assert figures["loaded_bytes"] == len(tfl) + 4
    assert figures["deployable_bytes"] == len(tfl) + 4 and figures["echoed"] is True  # the deploy hook's file
    assert report["baseline"]["targets"]["echo"]["loaded_bytes"] == report["baseline"]["tflite_bytes"] + 4
    (gate,) = report["gates"]
    assert gate == {"name": "max_echo_bytes", "limit": 1, "value": len(tfl) + 4, "passed": False}

    md = (out / "report.md").read_text()
    assert "## Target echo" in md and "Measured with echo 1.0." in md
    assert re.search(rf"\| loaded bytes \|\s+{report['baseline']['tflite_bytes'] + 4:,} B \|\s+{len(tfl) + 4:,} B \|", md)
    assert re.search(rf"\| max_echo_bytes \|\s+≤ 1 B \|\s+{len(tfl) + 4:,} B \| \*\*FAIL\*\* \|", md)

    cmp = CliRunner().invoke(main, ["compare", str(out), "--format", "md"], catch_exceptions=False)
    assert cmp.exit_code == 0, cmp.output
    assert f"| echo: loaded bytes | {report['baseline']['tflite_bytes'] + 4:,} | {len(tfl) + 4:,} |" in cmp.stdout


@pytest.mark.slow
def test_target_registry_inspect_measures_a_new_target(echo_run):
    from optimize_cli.cli import main

    out = echo_run[1]
    res = CliRunner().invoke(main, ["inspect", str(out / "model.tflite"), "--target", "echo"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"echo: loads {(out / 'model.tflite').stat().st_size:,} B" in res.stdout


def test_target_registry_module_shape_is_what_base_documents(echo):
    from optimize_cli import targets

    assert targets.TARGETS[-1] is echo and targets.module_for("echo") is echo
    assert targets.GATES["max_echo_bytes"][0] == "echo" and "echo" in targets.INSPECT_NAMES
    text = textwrap.dedent(targets.base.__doc__)
    for name in ("Params", "PACKAGE", "GATES", "rules", "measure", "deploy", "FILE", "summary_line", "report_rows",
                 "COMPARE_ROWS", "INSPECT_NAMES"):
        assert name in text, name


def test_target_registry_file_names_and_import_without_target_libraries():
    """The second target of a type writes its file under its own name; importing the registry (and
    building the recipe from it) imports neither TensorFlow nor a target's library."""
    import subprocess

    from optimize_cli import targets
    from optimize_cli.targets.ethos_u import EthosUTarget
    from optimize_cli.targets.tflm import TflmTarget

    u65 = EthosUTarget(accelerator="ethos-u65-256")
    assert targets.file_name(u65, True) == ("model_vela.tflite", "vela_path")
    assert targets.file_name(u65, False) == ("model_vela_ethos-u65-256.tflite", "vela_path")
    assert targets.file_name(TflmTarget(), True) == ("model_tflm.tflite", "tflm_path")
    code = ("import sys, optimize_cli.targets, optimize_cli.recipe\n"
            "bad = [m for m in ('tensorflow', 'tflite_micro', 'ethosu', 'ai_edge_litert') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_target_registry_refuses_a_module_without_its_parts():
    import types

    from optimize_cli import targets
    from optimize_cli.targets.tflm import TflmTarget

    with pytest.raises(TypeError, match="needs Params"):
        targets.register(types.ModuleType("empty_target"))
    half = types.ModuleType("half_target")
    half.Params, half.measure = TflmTarget, lambda *a: None
    with pytest.raises(TypeError, match="summary_line, report_rows, report_note"):
        targets.register(half)
    assert targets.TARGET_TYPES == ["litert", "tflm", "ethos-u"]
