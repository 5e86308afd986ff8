"""run/__init__.py and run/path.py: `run` returns a typed RunResult whose dump is the report.json it
wrote, and prints nothing on stdout; the CLI prints the summary and appends the Markdown report to
GITHUB_STEP_SUMMARY, once."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def load(name: str, *sets: str):
    from optimize_cli.recipe import load_recipe

    return load_recipe(ROOT / "recipes" / name, list(sets))


@pytest.fixture(scope="module")
def prune_run(tmp_path_factory):
    """One short prune → int8 run in-process through the library, stdout and stderr captured at the fd
    level, with GITHUB_STEP_SUMMARY set: (RunResult, output dir, captured stdout, the summary file)."""
    import os
    import sys
    import tempfile

    from optimize_cli.progress import Reporter
    from optimize_cli.run import RunOptions, run

    d = tmp_path_factory.mktemp("prune")
    summary = d / "step_summary.md"
    summary.write_text("# earlier step\n")
    recipe = load("prune-ptq.yaml", "stages.0.epochs=1")
    saved_env = os.environ.get("GITHUB_STEP_SUMMARY")
    os.environ["GITHUB_STEP_SUMMARY"] = str(summary)
    with tempfile.TemporaryFile() as sink:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        try:
            result = run(recipe, RunOptions(output=d / "out"), Reporter(quiet=False))
            sys.stdout.flush()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            if saved_env is None:
                os.environ.pop("GITHUB_STEP_SUMMARY", None)
            else:
                os.environ["GITHUB_STEP_SUMMARY"] = saved_env
        sink.seek(0)
        stdout = sink.read().decode()
    return result, d / "out", stdout, summary


def test_run_result_dump_is_the_report_json_written(prune_run):
    from optimize_cli.run import RunResult

    result, out, _, _ = prune_run
    assert isinstance(result, RunResult)
    written = json.loads((out / "report.json").read_text())
    dumped = json.loads(json.dumps(result.dump()))
    assert dumped == written
    assert list(dumped) == list(written)  # the same keys in the same order
    assert list(dumped["result"]) == list(written["result"])
    assert [list(s) for s in dumped["stages"]] == [list(s) for s in written["stages"]]
    assert result.exit_code == 0 and result.output == out
    assert [s.type for s in result.stages] == ["prune"]


def test_run_result_stage_record_json_is_the_stage_record_dump(prune_run):
    result, out, _, _ = prune_run
    rec = json.loads((out / "stages" / "01_prune" / "record.json").read_text())
    assert rec == json.loads(json.dumps(result.stages[0].dump()))


def test_run_result_library_prints_nothing_on_stdout_nor_to_the_step_summary(prune_run):
    _, _, stdout, summary = prune_run
    assert stdout == ""
    assert summary.read_text() == "# earlier step\n"


def test_run_result_cli_prints_the_summary_the_library_did_not(prune_run, capsys):
    from optimize_cli.cli.run import announce
    from optimize_cli.progress import Reporter
    from optimize_cli.report import summary_lines

    result, out, _, _ = prune_run
    code = announce(result, as_json=False, reporter=Reporter(quiet=True))
    printed = capsys.readouterr().out
    assert code == 0
    assert printed == summary_lines(result.dump(), out_dir=out) + "\n"
    lines = printed.splitlines()
    assert lines[0].startswith(f"result    {out / 'model.tflite'} (")
    assert lines[-1] == f"report    {out / 'report.html'}, {out / 'report.json'}"  # where to look next


def test_run_result_cli_appends_the_step_summary_exactly_once(tmp_path, monkeypatch):
    from optimize_cli.report import render_markdown

    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "ptq-dynamic.yaml"), "--output", str(out),
                                    "--quiet", "--json"])
    assert res.exit_code == 0, res.output
    from optimize_cli.cli.step_summary import summary_report

    md = render_markdown(summary_report(json.loads((out / "report.json").read_text())))  # paths as CI shows them
    assert summary.read_text() == "# earlier step\n" + "\n" + md + ("" if md.endswith("\n") else "\n")
    assert str(ROOT) not in summary.read_text()
    assert json.loads(res.stdout)  # --json: the JSON summary is what stdout carries


def test_run_result_cli_unwritable_step_summary_is_a_warning(tmp_path, monkeypatch, capsys):
    from optimize_cli.cli import run as cli_run
    from optimize_cli.report import render_markdown

    target = tmp_path / "no" / "such" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    rep = json.loads((ROOT / "tests" / "fixtures" / "report_example.json").read_text())
    assert cli_run.append_step_summary(render_markdown(rep), warn=cli_run._warn) is False
    assert capsys.readouterr().err.startswith(
        f"optimize-cli: warning: cannot append the report to GITHUB_STEP_SUMMARY={target}: ")
    assert not target.exists()


def test_run_result_package_never_writes_stdout_or_the_step_summary_in_its_source():
    """A static companion to the in-process check: no print, sys.stdout, click.echo or GITHUB_STEP_SUMMARY
    anywhere under optimize_cli/run/."""
    import re

    banned = re.compile(r"\bprint\(|\bsys\.stdout\b|\bclick\.echo\b|GITHUB_STEP_SUMMARY")
    for f in sorted((ROOT / "optimize_cli" / "run").glob("*.py")):
        found = banned.search(f.read_text())
        assert found is None, f"{f.name} uses {found.group(0)}"
