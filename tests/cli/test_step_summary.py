"""step_summary: appending the Markdown report to $GITHUB_STEP_SUMMARY (report/ no longer does it)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from optimize_cli.cli.step_summary import append_step_summary
from optimize_cli.report import render_markdown

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report_example.json"


@pytest.fixture
def example() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _append(report: dict, warn=None) -> bool:
    return append_step_summary(render_markdown(report), warn=warn or (lambda message: None))


def test_step_summary_appended_twice_keeps_both(example, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert _append(example)
    example["recipe"]["name"] = "second-run"
    assert _append(example)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("previous step\n")
    assert "# optimize-cli: prune-cluster-pcqat" in text and "# optimize-cli: second-run" in text
    assert text.count("## Results") == 2


def test_step_summary_unset_or_unwritable_is_not_an_error(example, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert _append(example) is False
    seen = []
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "dir" / "summary.md"))
    assert _append(example, warn=seen.append) is False
    assert len(seen) == 1 and "GITHUB_STEP_SUMMARY" in seen[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write read-only files")
def test_step_summary_read_only_file(example, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("x", encoding="utf-8")
    summary.chmod(stat.S_IRUSR)
    seen = []
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert _append(example, warn=seen.append) is False and seen




def test_step_summary_shows_paths_relative_and_never_the_installed_package(example, tmp_path):
    from optimize_cli.builtin import data_dir
    from optimize_cli.cli.step_summary import shown_path, summary_report

    recipe = str(data_dir("recipes") / "ptq-int8.yaml")
    model = str(data_dir("sample_models") / "digits_cnn")
    # from another folder (a CI job's repository): the package's own files by their name in the package
    assert shown_path(recipe, tmp_path) == "optimize-cli:recipes/ptq-int8.yaml"
    assert shown_path(model, tmp_path) == "optimize-cli:sample_models/digits_cnn"
    # the user's files relative to the working directory
    (tmp_path / "models").mkdir()
    assert shown_path(str(tmp_path / "models" / "m.keras"), tmp_path) == "models/m.keras"
    assert shown_path(str(tmp_path / "own.yaml"), tmp_path / "models") == "../own.yaml"
    # in a checkout of the project, its folders are the working directory's
    assert shown_path(recipe, data_dir("recipes").parent) == "recipes/ptq-int8.yaml"
    rep = {**example, "recipe": {**example["recipe"], "path": recipe}, "model": {**example["model"], "path": model}}
    md = render_markdown(summary_report(rep, tmp_path))
    assert "optimize-cli:recipes/ptq-int8.yaml" in md and "`optimize-cli:sample_models/digits_cnn`" in md
    assert os.path.abspath(recipe) not in md and str(data_dir("recipes")) not in md
    assert rep["recipe"]["path"] == recipe  # the report itself is left as it was


def test_report_md_footnotes_only_what_its_tables_use(example):
    md = render_markdown(example)
    assert "† = the stage's Keras model" in md and " †" in md.split("## Results", 1)[1].split("\n- ", 1)[0]
    ptq = {**example, "stages": []}
    md = render_markdown(ptq)
    assert "†" not in md, md
    assert "‡" in md  # the max unique weights row and its note
