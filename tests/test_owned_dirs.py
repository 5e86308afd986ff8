"""Folders the tool empties and refills (a search's pareto/): only its own are emptied (issue 22)."""
from __future__ import annotations

import pytest

from optimize_cli.errors import StageError
from optimize_cli.owned_dirs import MARKER, fresh_dir, is_ours

NAMES = r"\d+\.yaml"


def test_owned_dirs_fresh_dir_empties_its_own_and_marks_it(tmp_path):
    d = fresh_dir(tmp_path / "pareto", NAMES)
    (d / "00.yaml").write_text("a")
    assert is_ours(d, NAMES)
    assert sorted(p.name for p in fresh_dir(d, NAMES).iterdir()) == [MARKER]


def test_owned_dirs_an_earlier_unmarked_folder_of_its_files_counts_as_its_own(tmp_path):
    (tmp_path / "pareto").mkdir()
    (tmp_path / "pareto" / "03.yaml").write_text("a")
    assert is_ours(tmp_path / "pareto", NAMES)


@pytest.mark.parametrize("make", ["user file", "link", "file"])
def test_owned_dirs_a_users_folder_is_never_emptied(tmp_path, make):
    d = tmp_path / "pareto"
    if make == "user file":
        d.mkdir()
        (d / "thesis.tex").write_text("mine")
    elif make == "link":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "00.yaml").write_text("mine")
        d.symlink_to(tmp_path / "elsewhere")
    else:
        d.write_text("mine")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(StageError, match="exists and was not written by optimize-cli"):
        fresh_dir(d, NAMES)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
