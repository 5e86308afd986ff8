"""Lower-is-better metrics and slowdowns read right (issue 10 #6): an improvement of an error metric is
"better by", a result 25× slower is a "25.0× slowdown" — in the summary, report.md, report.html and
compare, all through report/format.py."""
from __future__ import annotations

import json

from optimize_cli import report as rp
from optimize_cli.compare import compare_reports
from optimize_cli.report.format import fmt_change, fmt_speed


def _mse_improved_and_slower(example: dict) -> dict:
    example["metric"] = {"name": "mse", "higher_is_better": False, "eval_samples": 100}
    example["baseline"]["accuracy"], example["result"]["accuracy"] = 10.0, 3.2
    example["result"]["accuracy_drop"] = -6.8  # result − baseline of an error metric: negative = better
    example["baseline"]["latency_ms"], example["result"]["latency_ms"] = 0.1, 2.5
    example["result"]["speedup"] = 0.04
    for st in example.get("stages", []):
        st["keras_accuracy"] = 3.5
    if example.get("ptq_baseline"):
        example["ptq_baseline"]["accuracy"] = 11.0
    return example


def test_formatters_say_better_worse_speedup_slowdown():
    assert fmt_change(-6.8, lambda v: f"{v:.4g}") == "better by 6.8"
    assert fmt_change(0.012, lambda v: f"{100 * v:.2f} pts") == "worse by 1.20 pts"
    assert fmt_change(0.00001, lambda v: f"{100 * v:.2f} pts") == "no change"
    assert fmt_speed(2.04) == "2.04× speedup"
    assert fmt_speed(0.04) == "25.0× slowdown"
    assert fmt_speed(1.0) == "1.00×" and fmt_speed(None) == "—"


def test_summary_and_report_md_read_an_improved_error_metric_and_a_slowdown_right(example):
    rep = _mse_improved_and_slower(example)
    summary = rp.summary_lines(rep)
    assert "better by 6.8" in summary and "25.0× slowdown" in summary
    assert "drop" not in summary and "0.04×" not in summary
    md = rp.render_markdown(rep)
    assert "(better by 6.8)" in md and "(25.0× slowdown)" in md
    row = lambda name: next(line for line in md.splitlines() if line.startswith(f"| {name} "))  # noqa: E731
    assert "better by 6.8" in row("mse vs baseline") and "25.0× slowdown" in row("speedup / slowdown")
    assert "worse by 1" in row("mse vs baseline")  # the PTQ column: 11.0 against 10.0
    assert "0.04×" not in md and "-6.8" not in md and "−6.8" not in md
    html = rp.render_html(rep)
    assert "better by 6.8" in html and "25.0× slowdown" in html and "0.04×" not in html


def test_compare_reads_an_improved_error_metric_and_a_slowdown_right(example, tmp_path):
    rep = _mse_improved_and_slower(example)
    f = tmp_path / "report.json"
    f.write_text(json.dumps(rep))
    for fmt in ("md", "table"):
        out = compare_reports([f], fmt=fmt)
        assert "better by 6.8" in out and "25.0x slowdown" in out, out
        assert "0.04x" not in out and "-6.8" not in out
    runs = json.loads(compare_reports([f], fmt="json"))
    assert runs[0]["accuracy_drop"] == -6.8 and runs[0]["speedup"] == 0.04  # the JSON keeps the numbers
