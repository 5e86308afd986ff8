"""Appending the Markdown report to GitHub's step summary ($GITHUB_STEP_SUMMARY).

Only the CLI touches the environment and prints (run/ and report/ never do): it renders the Markdown with
``report.render_markdown`` and decides where warnings go."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Callable, Optional

#: how many folders up a path relative to the working directory may go before it is shown as given
MAX_UP = 2


def shown_path(path: Optional[str], cwd: Optional[str | os.PathLike] = None) -> Optional[str]:
    """A path as the step summary shows it: relative to the working directory (the repository in CI); a
    file of the installed package (a built-in recipe, a sample model) as `optimize-cli:recipes/x.yaml`,
    never its site-packages path; other paths relative when at most MAX_UP folders up, else as given."""
    if not path:
        return path
    from ..builtin import data_dir

    p = Path(os.path.abspath(path))
    here = Path(os.path.abspath(cwd or os.getcwd()))
    for name in ("recipes", "sample_models"):
        root = Path(os.path.abspath(data_dir(name)))
        inside = p == root or root in p.parents
        if inside and here != root.parent and here not in root.parents:  # a checkout's folders stay relative
            return f"optimize-cli:{name}/{p.relative_to(root).as_posix()}".rstrip("/.")
    try:
        rel = os.path.relpath(p, here)
    except ValueError:  # another drive
        return str(path)
    return str(path) if rel.split(os.sep)[:MAX_UP + 1] == [os.pardir] * (MAX_UP + 1) else Path(rel).as_posix()


def summary_report(report: dict, cwd: Optional[str | os.PathLike] = None) -> dict:
    """A copy of report.json's dict whose recipe and model paths are shown_path's (the report itself keeps
    the paths as they were)."""
    out = copy.deepcopy(report)
    for key in ("recipe", "model"):
        if isinstance(out.get(key), dict) and out[key].get("path"):
            out[key]["path"] = shown_path(out[key]["path"], cwd)
    return out


def append_step_summary(markdown: str, warn: Callable[[str], None],
                        path: Optional[str | os.PathLike] = None) -> bool:
    """Append ``markdown`` to $GITHUB_STEP_SUMMARY (or `path`), after a blank line when the file is not
    empty. Never truncates; an unwritable path is a warning (to ``warn``), not an error. Returns True when
    something was written."""
    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    text = markdown
    try:
        with open(target, "a", encoding="utf-8") as f:
            if f.tell() > 0:
                text = "\n" + text
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        warn(f"cannot append the report to GITHUB_STEP_SUMMARY={target}: {exc.strerror or exc}")
        return False
    return True
