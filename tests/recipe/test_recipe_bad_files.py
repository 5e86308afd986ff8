"""Every file in tests/bad_recipes/ fails `optimize-cli validate` with the message it documents.

Each file starts with
    # expect: <a substring of the one-line error>
    # line: <N>        (or `# line: none` for problems that have no line, such as an empty file)
and the test checks: exit code 2, nothing on stdout, exactly one line on stderr naming the file and
`file:N:`, the documented substring, and no traceback. Never imports TensorFlow.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.errors import RecipeError
from optimize_cli.recipe import RecipeProblems, load_recipe

BAD = Path(__file__).resolve().parent.parent / "bad_recipes"
FILES = sorted(BAD.glob("*.yaml"))


def _header(path: Path) -> tuple[str, int | None]:
    lines = path.read_text(encoding="utf-8").splitlines()
    m_expect = re.fullmatch(r"# expect: (.+)", lines[0]) if lines else None
    m_line = re.fullmatch(r"# line: (none|\d+)", lines[1]) if len(lines) > 1 else None
    assert m_expect, f"{path.name}: the first line must be '# expect: <substring of the error>'"
    assert m_line, f"{path.name}: the second line must be '# line: N' or '# line: none'"
    return m_expect.group(1).strip(), None if m_line.group(1) == "none" else int(m_line.group(1))


def test_bad_recipes_cover_enough_cases():
    assert len(FILES) >= 24, f"only {len(FILES)} bad recipes in {BAD}"
    for f in FILES:
        _header(f)  # every file documents its message


def test_bad_recipes_fixtures_exist():
    # the bad recipes point at these, so that only the documented problem is wrong in each
    assert (BAD / "_fixtures" / "model").is_dir()
    assert (BAD / "_fixtures" / "data.npz").is_file()


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bad_recipe_validate_fails_with_documented_message(path: Path):
    expect, line = _header(path)
    result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "60"}).invoke(main, ["validate", str(path)])
    err = result.stderr
    assert result.exit_code == 2, f"exit {result.exit_code}, stderr: {err!r}, exception: {result.exception!r}"
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "Traceback" not in err and "Traceback" not in result.output
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, f"the error is not one line: {err!r}"
    msg = lines[0]
    assert path.name in msg
    assert expect in msg, f"documented {expect!r}, got {msg!r}"
    if line is None:
        assert not re.search(re.escape(str(path)) + r":\d+:", msg), f"no line expected: {msg!r}"
    else:
        assert f"{path}:{line}:" in msg, f"expected line {line}: {msg!r}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bad_recipe_load_raises_recipe_error(path: Path):
    expect, line = _header(path)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    text = str(info.value)
    assert "\n" not in text and expect in text
    if isinstance(info.value, RecipeProblems):  # the structured form agrees with the text
        first = info.value.problems[0]
        assert first.line == line
        assert text.startswith(first.render(str(path)))


def test_bad_recipes_all_at_once_exit_2():
    result = CliRunner(env={"NO_COLOR": "1"}).invoke(main, ["validate", *map(str, FILES)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().split("\n")) == len(FILES)


@pytest.mark.parametrize("name", ["duplicate_key", "cluster_after_prune_without_preserving", "empty"])
def test_bad_recipe_subprocess_one_line_exit_2(name: str):
    path = BAD / f"{name}.yaml"
    expect, line = _header(path)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "40", "TERM": "dumb"}
    proc = subprocess.run(
        [sys.executable, "-m", "optimize_cli", "validate", str(path)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip("\n").split("\n")
    assert len(lines) == 1, proc.stderr  # long messages are not wrapped at the terminal width
    assert lines[0].startswith("error: ") and expect in lines[0]
    if line is not None:
        assert f"{path}:{line}:" in lines[0]
