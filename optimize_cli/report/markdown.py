"""report.md (and the GitHub step summary the CLI appends): pipe tables padded so they also read well
in a terminal."""
from __future__ import annotations

from . import tables
from .figures import deployable, path_label
from .format import fmt_sig
from .gates import verdict
from .targets import targets_markdown
from .training import filters_summary, training_markdown


def render_markdown(report: dict) -> str:
    """report.md and the GitHub step summary: pipe tables padded so they also read well in a terminal."""
    res = report["result"]
    md: list[str] = []
    md.append(f"# optimize-cli: {report['recipe']['name']}")
    md.append("")
    md.append(f"**{path_label(report)}** · model `{report['model']['path']}` · "
              f"{'**PASSED**' if report['passed'] else '**FAILED**'} — {verdict(report)}")
    md.append("")
    md.append(tables.result_sentence(report, lambda text: f"`{text}`"))
    if filters_summary(report):
        md.append(f"Filter pruning: {filters_summary(report)}.")
    failed = [c for c in report.get("checks", []) if not c["passed"]]
    for c in failed:
        md.append("")
        md.append(f"> **⚠ WARNING: {c['name']} — FAILED.** {c['message']}")
    for w in report.get("warnings") or []:
        md.append("")
        md.append(f"> **⚠ {w['source']}:** {w['message']}")
    md.append("")
    if deployable(report):
        md += ["## Deployable bytes", "", "What each runtime loads (LiteRT: model.tflite; TFLM: its own file; "
               "Ethos-U: Vela's flash), against the int8 post-training quantization of the input model.", "",
               "| target | file | deployable bytes | int8 PTQ | result / int8 PTQ | float32 baseline |",
               "|---|---|---:|---:|---:|---:|"]
        for d in deployable(report):
            md.append(f"| {d['name']} | `{d['file']}` | {d['bytes']:,} | "
                      f"{'—' if d['ptq_bytes'] is None else format(d['ptq_bytes'], ',')} | "
                      f"{'—' if d['ratio'] is None else fmt_sig(d['ratio'])} | "
                      f"{'—' if d['baseline_bytes'] is None else format(int(d['baseline_bytes']), ',')} |")
        md.append("")
    md.append("## Results")
    md.append("")
    md.append(tables.results_table(report).markdown())
    md.append("")
    md += [f"- {n}" for n in tables.results_footnotes(report)]
    md += targets_markdown(report)
    md += training_markdown(report)
    if report.get("checks"):
        md.append("")
        md.append("## Checks")
        md.append("")
        for c in report["checks"]:
            md.append(f"- ✅ {c['name']}: {c['message']}" if c["passed"]
                      else f"- **⚠ {c['name']}: FAILED** — {c['message']}")
    md.append("")
    md.append("## Gates")
    md.append("")
    md.append(tables.gates_table(report).markdown() if report.get("gates") else "No gates configured (recipe `gates:`).")
    md.append("")
    md.append("## Layers of the result")
    md.append("")
    if res.get("layers"):
        md.append(tables.layers_table(report).markdown())
        md.append("")
        md.append("Measured in the .tflite weight buffers (not in Keras).")
    else:
        md.append("No weight tensors reported.")
    sk = tables.skipped_table(report)
    if sk:
        md.append("")
        md.append("## Skipped layers")
        md.append("")
        md.append(sk.markdown())
    md.append("")
    md.append("## Provenance")
    md.append("")
    md.append(tables.provenance_table(report).markdown())
    md.append("")
    return "\n".join(md)

