"""The report's tables, shared by report.md and report.html: results (one column per model along the
path, like the seed results tables), gates, layers of the result, skipped layers and provenance."""
from __future__ import annotations

from typing import Callable, Optional

from ..measure.metrics import accuracy_drop
from . import figures
from . import format as fmt
from .gates import fmt_gate, gate_op
from .table import Table


def result_sentence(report: dict, code: Callable[[str], str], escape: Callable[[str], str] = str) -> str:
    """"Result `model.tflite`: 142,320 B, zip 61,244 B (tfmot's convention), 7.10× smaller zipped than the float32
    baseline, accuracy 90.80% (worse by 1.20 pts), 0.090 ms (2.04× speedup)." with the path rendered by
    ``code`` and every other piece of text by ``escape`` (Markdown: as is; HTML: escaped)."""
    res, e = report["result"], escape
    drop = res.get("accuracy_drop")
    return (f"Result {code(res['path'])}: {e(fmt.fmt_size(res['tflite_bytes'], res['compressed_bytes']))}, "
            f"{e(fmt.fmt_ratio(res['compression_ratio']))} smaller zipped than the float32 baseline, "
            f"{e(report['metric']['name'])} {e(fmt.fmt_metric(report, res['accuracy']))}"
            + (f" ({e(fmt.fmt_drop(report, drop))})" if drop is not None else "")
            + f", {e(fmt.fmt_ms(res['latency_ms']))} ms ({e(fmt.fmt_speed(res['speedup']))}).")

def results_table(report: dict) -> Table:
    """The seed-style table: one column per model along the path, one row per measurement."""
    base, ptq, res = report["baseline"], report.get("ptq_baseline"), report["result"]
    hib = report["metric"]["higher_is_better"]
    stages = report.get("stages", [])
    metric = report["metric"]["name"]

    cols: list[dict] = []
    cols.append({"head": "Baseline (float32)", "scheme": "float32 TFLite", "m": base, "acc": base["accuracy"],
                 "keras": False, "ratio": 1.0, "speedup": 1.0, "sparsity": None, "unique": None, "seconds": None})
    if ptq:
        cols.append({
            "head": "PTQ int8", "scheme": "int8 post-training", "m": ptq, "acc": ptq["accuracy"], "keras": False,
            "ratio": figures.measurement_ratio(base, ptq), "speedup": figures.measurement_speedup(base, ptq),
            "sparsity": None, "unique": None, "seconds": None,
        })
    for st in stages:
        head = f"{st['index']}. {figures.stage_name(st)}"
        # a stage is measured in Keras (no .tflite of its own): no size, ratio or latency
        cols.append({"head": head, "scheme": st.get("scheme") or "—", "m": {}, "acc": st.get("keras_accuracy"),
                     "keras": True, "ratio": None, "speedup": None, "sparsity": st.get("sparsity"),
                     "unique": st.get("max_unique_weights"), "seconds": st.get("seconds")})
    cols.append({"head": f"Result ({figures.quant_label(res['quantization'])})", "scheme": f"{figures.quant_label(res['quantization'])} TFLite",
                 "m": res, "acc": res["accuracy"], "keras": False, "ratio": figures.compression_ratio(report),
                 "speedup": figures.speedup(report), "sparsity": figures.result_sparsity(report), "unique": figures.result_max_unique(report),
                 "seconds": None})

    def acc(c):
        s = fmt.fmt_metric(report, c["acc"])
        return s + " †" if c["keras"] and c["acc"] is not None else s

    def drop(c):
        if c is cols[0]:
            return "—"
        if c is cols[-1]:
            return fmt.fmt_drop(report, figures.result_accuracy_drop(report))
        return fmt.fmt_drop(report, accuracy_drop(base["accuracy"], c["acc"], hib))

    def latency(c):
        m = c["m"]
        if m.get("latency_ms") is None:
            return "—"
        return f"{fmt.fmt_ms(m['latency_ms'])} / {fmt.fmt_ms(m.get('latency_p90_ms'))}"

    rows = [
        [metric] + [acc(c) for c in cols],
        [f"{metric} vs baseline"] + [drop(c) for c in cols],
        ["size: raw → zip (saved)"] + [fmt.fmt_bytes(c["m"].get("tflite_bytes"), c["m"].get("compressed_bytes")) for c in cols],
        ["compression ratio"] + [fmt.fmt_ratio(c["ratio"]) for c in cols],
        ["latency median / p90 (ms)"] + [latency(c) for c in cols],
        ["speedup / slowdown"] + [fmt.fmt_speed(c["speedup"]) for c in cols],
        ["sparsity"] + [fmt.fmt_pct(c["sparsity"]) for c in cols],
        ["max unique weights ‡"] + [fmt.fmt_int(c["unique"]) for c in cols],
        ["stage time"] + [fmt.fmt_seconds(c["seconds"]) for c in cols],
    ]
    return Table([""] + [c["head"] for c in cols], rows, "l" + "r" * len(cols))


def results_footnotes(report: dict) -> list[str]:
    m = report["metric"]
    samples = f" on {m['eval_samples']:,} eval samples" if m.get("eval_samples") else ""
    # † marks a stage's Keras accuracy in the table: explained only when a stage column shows one
    dagger = any(st.get("keras_accuracy") is not None for st in report.get("stages", []))
    notes = [
        f"{m['name']} measured with the LiteRT interpreter{samples}"
        + ("; † = the stage's Keras model after its strip step" if dagger else "")
        + ". Sizes are bytes: raw .tflite → ZIP_DEFLATED (saved %); compression ratio = baseline zip / zip.",
        f"Latency: median / p90 of single inferences, {report['result']['threads']} thread(s); speedup = baseline "
        "median / median (below 1 it is shown as a slowdown: baseline / result latency < 1).",
        "‡ most distinct values in one output channel of a kernel (int8 kernels are quantized per channel), "
        "ignoring layers a stage skipped: in the Keras model for stages, in the .tflite weight buffers for the result.",
    ]
    schemes = [f"{st['index']}. {st['type']}: {st['scheme']}" for st in report.get("stages", []) if st.get("scheme")]
    if schemes:
        notes.insert(0, "Stages: " + " · ".join(schemes) + ".")
    if not m["higher_is_better"]:
        notes.insert(1, f"{m['name']} is an error metric (lower is better): a result below the baseline is "
                        "better, one above it worse.")
    return notes


def gates_table(report: dict) -> Table:
    rows = []
    for g in report.get("gates", []):
        rows.append([g["name"], f"{gate_op(g['name'])} {fmt_gate(report, g['name'], g['limit'])}", fmt_gate(report, g["name"], g["value"]),
                     "PASS" if g["passed"] else "**FAIL**"])
    classes = [["", "", "", "pass" if g["passed"] else "fail"] for g in report.get("gates", [])]
    return Table(["gate", "limit", "measured", "verdict"], rows, "lrrl", classes)


def layers_table(report: dict) -> Table:
    skipped = figures.skipped_names(report)
    rows = []
    for layer in report["result"].get("layers") or []:
        name = layer["name"] + (" (skipped)" if figures.is_skipped(layer["name"], skipped) else "")
        rows.append([name, layer["op"], layer["dtype"], fmt.fmt_int(layer["params"]), fmt.fmt_pct(layer["sparsity"]),
                     fmt.fmt_int(layer["unique_weights"]), fmt.fmt_int(layer["max_unique_per_channel"])])
    return Table(["tensor", "op", "dtype", "params", "sparsity", "unique", "max / channel"], rows, "lllrrrr")


def skipped_table(report: dict) -> Optional[Table]:
    rows = []
    for st in report.get("stages", []):
        for s in st.get("skipped_layers", []):
            rows.append([f"{st['index']}. {st['type']}", s.get("name", ""), s.get("class", ""), s.get("reason", "")])
    return Table(["stage", "layer", "class", "reason"], rows) if rows else None


def provenance_table(report: dict) -> Table:
    v = report["versions"]
    rows = [
        ["optimize-cli", report["tool"]["version"]],
        ["tensorflow / tf_keras", f"{v['tensorflow']} / {v['tf_keras']}"],
        ["tfmot / litert", f"{v['tfmot']} / {v['litert']}"],
    ]
    rows += [[k, str(val)] for k, val in v.items() if k not in ("tensorflow", "tf_keras", "tfmot", "litert")]
    rows += [
        ["recipe", f"{report['recipe']['name']} ({report['recipe']['path']})"],
        ["recipe sha256", report["recipe"]["sha256"]],
        ["model", f"{report['model']['path']} ({report['model']['format']})"],
        ["metric", f"{report['metric']['name']}" + (f", {report['metric']['eval_samples']:,} eval samples"
                                                    if report["metric"].get("eval_samples") else ", not measured")],
        ["result", report["result"]["path"]],
    ]
    rows += [[f"stage {st['index']}. {st['type']}", fmt.fmt_seconds(st["seconds"])] for st in report.get("stages", [])]
    rows.append(["total time", fmt.fmt_seconds(report["seconds_total"])])
    return Table(["item", "value"], rows)


