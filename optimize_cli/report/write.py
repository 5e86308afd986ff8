"""Writing report.json, report.md and report.html into a run's output directory. Prints nothing:
consistency warnings go to the caller's ``warn`` and are returned."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Optional

from .html import render_html
from .markdown import render_markdown
from .schema import json_ready, validate_report

Warn = Callable[[str], None]


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class WrittenReports(dict):
    """{"json": path, "md": path, "html": path} of the files written, plus ``warnings``: the consistency
    warnings ("report: …") the caller should show (the run shows them on stderr)."""

    warnings: list[str]


def write_reports(report: dict, out_dir: str | os.PathLike, densities: Optional[dict] = None,
                  warn: Optional[Warn] = None) -> WrittenReports:
    """Validate, then write report.json (indent 2), report.md and report.html into `out_dir`.

    Raises ReportError (nothing written) when the report breaks the schema. Consistency warnings
    ("report: …") are passed to `warn` when given and returned in the result's ``warnings``.
    Returns {"json": path, "md": path, "html": path}."""
    plain = json_ready(report)
    warnings = [f"report: {problem}" for problem in validate_report(plain)]
    for w in warnings:
        if warn is not None:
            warn(w)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = WrittenReports(json=out / "report.json", md=out / "report.md", html=out / "report.html")
    paths.warnings = warnings
    md = render_markdown(plain)
    page = render_html(plain, densities)
    _write_text(paths["json"], json.dumps(plain, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    _write_text(paths["md"], md)
    _write_text(paths["html"], page)
    return paths
