"""Appending the Markdown report to GitHub's step summary ($GITHUB_STEP_SUMMARY).

Only the CLI touches the environment and prints (run/ and report/ never do): it renders the Markdown with
``report.render_markdown`` and decides where warnings go."""
from __future__ import annotations

import os
from typing import Callable, Optional


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
