"""The composite GitHub Action (action.yml): its `run:` steps executed with bash as the runner does
(`bash --noprofile --norc -eo pipefail`, the step's `env:` with `${{ inputs.* }}` filled in, INPUT_* variables,
a GITHUB_OUTPUT and a GITHUB_STEP_SUMMARY file, GITHUB_ACTION_PATH), on a quick PTQ recipe of the sample model.
`uses:` steps (actions/setup-python) cannot run here and are skipped; `install: none` uses this environment's
optimize-cli (first on PATH, as setup-python's would be)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from run_helpers import ROOT, ptq_recipe, write_recipe

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
_EXPR = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def _evaluate(value: str, context: dict) -> str:
    def sub(m):
        if m.group(1) not in context:
            raise AssertionError(f"action.yml uses ${{{{ {m.group(1)} }}}}, which the test runner does not know")
        return str(context[m.group(1)])

    return _EXPR.sub(sub, str(value))


def run_action(inputs: dict, workspace: Path) -> tuple[int, dict, str, list]:
    """(the exit code of the first failing step or 0, the action's outputs, the step summary, skipped uses:)."""
    given = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    given.update(inputs)
    context = {f"inputs.{k}": v for k, v in given.items()}
    output_file, summary = workspace / "github_output", workspace / "step_summary"
    output_file.write_text(""), summary.write_text("")
    base = {**os.environ, "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_WORKSPACE": str(workspace), "NO_COLOR": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    code, skipped, outputs = 0, [], {}
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step:
            skipped.append(step["uses"])
            continue
        assert step.get("shell") == "bash" and "${{" not in step["run"], "inputs reach scripts as env only"
        env = {**base, **{k: _evaluate(v, context) for k, v in (step.get("env") or {}).items()}}
        script = workspace / f"step{i}.sh"
        script.write_text(step["run"])
        before = output_file.read_text()
        res = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                             env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        if "id" in step:  # what this step appended to GITHUB_OUTPUT: key=value lines
            new = output_file.read_text()[len(before):]
            context.update({f"steps.{step['id']}.outputs.{k}": v for k, _, v in
                            (ln.partition("=") for ln in new.splitlines() if "=" in ln)})
        if res.returncode != 0:
            code = res.returncode
            break
    for k, v in ACTION["outputs"].items():
        known = all(m in context for m in _EXPR.findall(v["value"]))  # a step that did not run: unset
        outputs[k] = _evaluate(v["value"], context) if known else None
    return code, outputs, summary.read_text(), skipped


@pytest.mark.slow
def test_github_action_runs_the_recipe_sets_outputs_and_the_step_summary(tmp_path):
    recipe = write_recipe(tmp_path, ptq_recipe("action-ptq"))
    code, out, summary, skipped = run_action(
        {"recipe": str(recipe), "output": str(tmp_path / "out"), "install": "none",
         "set": "gates.max_accuracy_drop=0.05\n  evaluation.latency_runs=2\n\n"}, tmp_path)
    assert skipped == ["actions/setup-python@v5"]
    assert code == 0, out
    report = json.loads(Path(out["report"]).read_text())
    assert Path(out["report"]) == (tmp_path / "out" / "report.json").resolve()
    assert out["passed"] == "true" and out["exit-code"] == "0"
    assert int(out["compressed-bytes"]) == report["result"]["compressed_bytes"]
    assert int(out["tflite-bytes"]) == report["result"]["tflite_bytes"]
    assert float(out["accuracy-drop"]) == pytest.approx(report["result"]["accuracy_drop"])
    assert [g["name"] for g in report["gates"]] == ["max_accuracy_drop"]  # the multi-line `set`
    assert "action-ptq" in summary and "max_accuracy_drop" in summary  # report.md, appended by the CLI

    # a missed gate: the step fails (exit 5) with every output and the summary still written
    code, out, summary, _ = run_action(
        {"recipe": str(recipe), "output": str(tmp_path / "out2"), "install": "none",
         "set": "gates.max_compressed_bytes=1"}, tmp_path)
    assert code == 5 and out["exit-code"] == "5" and out["passed"] == "false"
    assert Path(out["report"]).is_file() and int(out["compressed-bytes"]) > 1
    assert "max_compressed_bytes" in summary


def test_github_action_declares_the_contract_inputs_and_outputs():
    assert ACTION["runs"]["using"] == "composite"
    assert {"recipe", "model", "output", "set", "python-version"} <= set(ACTION["inputs"])
    assert ACTION["inputs"]["recipe"]["required"] is True
    assert {"report", "passed", "compressed-bytes", "accuracy-drop", "deployable-bytes"} <= set(ACTION["outputs"])
