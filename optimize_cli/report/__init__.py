"""report.json, report.md and report.html (DESIGN.md, report.json contract, `schema_version: 1`).

Everything here works on the plain report dict the run assembles (and, for the density plot, numpy
arrays); nothing imports TensorFlow, nothing prints or touches GITHUB_STEP_SUMMARY (the CLI appends
`render_markdown(report)` there). matplotlib is imported lazily, only by the plots.

One module per concept: ``schema`` (load_schema, validate_report with jsonschema, consistency checks),
``gates`` (the one gate table, its target gates from the target registry), ``targets`` (the per-target
tables, each target module's rows), ``figures`` (derived figures shared with `compare`: path label,
result sparsity, max unique weights, skipped layers, compression), ``format`` (the one formatter family, shared with `compare` and
`inspect`), ``table`` / ``tables``, ``markdown``, ``html``, ``plots``, ``write`` (write_reports) and
``summary`` (the stdout lines and the `--json` summary).

Definitions used throughout (the same as DESIGN.md and the tfmot seed tables; see measure.metrics):

- `compressed_bytes`: ZIP_DEFLATED size of the .tflite; `compression_saved_percent` =
  `100 * (1 - compressed_bytes / tflite_bytes)`, shown as "528,128 → 434,879 (17.66%)".
- `compression_ratio` = `baseline.compressed_bytes / result.compressed_bytes` and `speedup` =
  `baseline.latency_ms / result.latency_ms` (measure.metrics.compression_ratio / speedup).
- `accuracy_drop` is positive when the result is worse: `baseline − result` for metrics where higher is
  better (accuracy, top_k_accuracy, binary_accuracy) and `result − baseline` for error metrics where lower
  is better (mae, mse). The `max_accuracy_drop` gate therefore reads the same way for every metric.
"""
from __future__ import annotations

from ..measure.metrics import ERROR_METRICS, FRACTION_METRICS, accuracy_drop, saved_percent
from .figures import (
                      compression_ratio,
                      is_skipped,
                      path_label,
                      quant_label,
                      result_accuracy_drop,
                      result_max_unique,
                      result_sparsity,
                      skipped_names,
                      speedup,
                      stage_name,
)
from .format import (
                      fmt_bytes,
                      fmt_change,
                      fmt_drop,
                      fmt_int,
                      fmt_metric,
                      fmt_ms,
                      fmt_pct,
                      fmt_ratio,
                      fmt_seconds,
                      fmt_speed,
                      is_fraction_metric,
                      text_width,
)
from .gates import GATE_FIELDS, GATE_REL_TOLERANCE, evaluate_gates, fmt_gate, gate_kind, gate_table, verdict
from .html import render_html
from .markdown import render_markdown
from .plots import density_png, size_accuracy_png, size_accuracy_points
from .schema import (
                      SCHEMA_FILE,
                      SCHEMA_VERSION,
                      ReportError,
                      consistency_problems,
                      json_ready,
                      load_schema,
                      schema_problems,
                      validate_report,
)
from .summary import json_summary, summary_lines
from .table import Table
from .tables import gates_table, layers_table, provenance_table, results_footnotes, results_table, skipped_table
from .write import WrittenReports, write_reports

__all__ = [
    "SCHEMA_VERSION", "SCHEMA_FILE", "ReportError", "load_schema", "schema_problems", "json_ready",
    "validate_report", "consistency_problems", "GATE_FIELDS", "GATE_REL_TOLERANCE", "evaluate_gates", "fmt_gate",
    "gate_kind", "gate_table",
    "verdict", "saved_percent", "accuracy_drop", "ERROR_METRICS", "FRACTION_METRICS", "path_label", "quant_label",
    "stage_name", "skipped_names", "is_skipped", "result_sparsity", "result_max_unique", "result_accuracy_drop",
    "compression_ratio", "speedup", "fmt_int", "fmt_bytes", "fmt_ratio", "fmt_ms", "fmt_pct", "fmt_seconds",
    "fmt_metric", "fmt_drop", "fmt_speed", "fmt_change", "is_fraction_metric", "text_width", "Table", "results_table", "results_footnotes",
    "gates_table", "layers_table", "skipped_table", "provenance_table", "render_markdown", "render_html",
    "density_png", "size_accuracy_points", "size_accuracy_png", "write_reports", "WrittenReports",
    "summary_lines", "json_summary",
]
