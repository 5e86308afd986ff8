"""What `run` shows on stdout once the results are written: a few plain-text lines, or the JSON summary
of `run --json`. Pure: the CLI prints them."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .figures import deployable_text, path_label
from .format import fmt_drop, fmt_int, fmt_metric, fmt_ms, fmt_ratio, fmt_size, fmt_speed
from .gates import verdict
from .schema import SCHEMA_VERSION, json_ready
from .training import filters_summary


def summary_lines(report: dict, out_dir: Optional[str | os.PathLike] = None) -> str:
    """A few plain-text lines for stdout after `run` (no colour, no Markdown)."""
    res, base = report["result"], report["baseline"]
    path = str(Path(out_dir) / res["path"]) if out_dir is not None else res["path"]
    metric = report["metric"]["name"]
    lines = [
        f"result    {path} ({path_label(report)})",
    ]
    if deployable_text(report):
        lines.append(f"deploy    {deployable_text(report)}")
    lines += [
        f"size      {fmt_size(res['tflite_bytes'], res['compressed_bytes'])}; "
        f"{fmt_ratio(res['compression_ratio'])} smaller than the baseline zip ({fmt_int(base['compressed_bytes'])} B)",
    ]
    if res.get("accuracy") is None:
        lines.append(f"{metric:<9} not measured (no eval data)")
    else:
        lines.append(f"{metric[:9]:<9} {fmt_metric(report, res['accuracy'])} (baseline {fmt_metric(report, base['accuracy'])}, "
                     f"{fmt_drop(report, res.get('accuracy_drop'))})")
    lines.append(f"latency   {fmt_ms(res['latency_ms'])} ms median, p90 {fmt_ms(res['latency_p90_ms'])} ms, "
                 f"{fmt_speed(res['speedup'])} ({res['threads']} thread{'s' if res['threads'] != 1 else ''})")
    if filters_summary(report):
        lines.append(f"filters   {filters_summary(report)}")
    for c in report.get("checks", []):
        if not c["passed"]:
            lines.append(f"WARNING   {c['name']}: FAILED — {c['message']}")
    lines.append(f"verdict   {'PASS' if report['passed'] else 'FAIL'}: {verdict(report)}")
    if out_dir is not None:
        lines.append(f"report    {Path(out_dir) / 'report.html'}, {Path(out_dir) / 'report.json'}")
    return "\n".join(lines)


def exit_code(report: dict) -> int:
    """The exit code of the run the report is of: 0, or 5 when a gate was missed."""
    from ..errors import EXIT_GATE, EXIT_OK

    return EXIT_OK if report.get("passed", True) else EXIT_GATE


def json_summary(report: dict, out_dir: Optional[str | os.PathLike] = None) -> dict:
    """What `run --json` prints: result (without the per-layer list), baseline, gates, passed, exit_code
    (as error objects and search's summary carry)."""
    res = {k: v for k, v in report["result"].items() if k != "layers"}
    out = {
        "schema_version": report.get("schema_version", SCHEMA_VERSION),
        "recipe": report["recipe"]["name"],
        "result": res,
        "baseline": dict(report["baseline"]),
        "gates": [dict(g) for g in report.get("gates", [])],
        "checks_failed": [c["name"] for c in report.get("checks", []) if not c["passed"]],
        "passed": report["passed"],
        "exit_code": exit_code(report),
    }
    if out_dir is not None:
        out["output_dir"] = str(out_dir)
        out["report"] = str(Path(out_dir) / "report.json")
    return json_ready(out)
