"""report.training: filter_prune's `filters` record (parameters, MACs, latency before → after, the filters
each layer kept, the layers not thinned) and each stage's `distill` in report.md, report.html and the stdout
summary."""
from __future__ import annotations

import copy
import html

import pytest

from optimize_cli import report as rp

FILTERS = {"ratio": 0.3, "criterion": "l1", "params_before": 24908, "params_after": 14097,
           "macs_before": 2656768, "macs_after": 1440540,
           "layers": {"conv2d": {"filters": [64, 45], "kernel_params": 1800},
                      "conv2d_1": {"filters": [64, 45], "kernel_params": 2025}}}


@pytest.fixture
def thinned(example):
    """The example report as if its first stage had been filter_prune with distillation (ptq_baseline
    latency 0.092 ms, result 0.09 ms)."""
    rep = copy.deepcopy(example)
    rep["ptq_baseline"]["latency_ms"], rep["result"]["latency_ms"] = 0.092, 0.09
    for st in rep["stages"]:
        st["distill"] = None
    st = rep["stages"][0]
    st.update(type="filter_prune", filters=FILTERS, distill={"alpha": 0.5, "temperature": 4.0, "loss": "kl"},
              skipped_layers=[{"name": "dense", "class": "Dense", "reason": "its output reaches the model's output"}])
    rep["stages"][1]["distill"] = {"alpha": 0.7, "temperature": 2.0, "loss": "kl"}
    return rep


SUMMARY = ("parameters 24,908 → 14,097 (−43.4%), MACs 2,656,768 → 1,440,540 (−45.8%), latency 0.092 → 0.090 ms "
           "(−2.2%; the input model's and the result's int8 .tflite)")


def test_filters_summary_in_markdown_html_and_stdout(thinned):
    assert rp.render_markdown(thinned).count(f"Filter pruning: {SUMMARY}.") == 1
    assert html.escape(f"Filter pruning: {SUMMARY}.") in rp.render_html(thinned)
    assert f"filters   {SUMMARY}" in rp.summary_lines(thinned).splitlines()


def test_filters_section_lists_kept_filters_and_skipped_layers(thinned):
    md = rp.render_markdown(thinned)
    section = md[md.index("## Filter pruning"):md.index("## Distillation")]
    assert "- 1. filter_prune: l1, ratio 30% per layer; 2 layer(s) thinned, 1 not (dense: see Skipped layers)." in section
    rows = [line for line in section.splitlines() if line.startswith("| 1. filter_prune")]
    assert [[c.strip() for c in r.strip("|").split("|")] for r in rows] == [
        ["1. filter_prune", "conv2d", "64 → 45", "70%", "1,800"], ["1. filter_prune", "conv2d_1", "64 → 45", "70%", "2,025"]]
    page = rp.render_html(thinned)
    assert "<h2>Filter pruning</h2>" in page and '<table class="filter-pruning">' in page and "64 → 45" in page


def test_filters_target_is_shown(thinned):
    thinned["stages"][0]["filters"] = dict(FILTERS, ratio=0.29, target={"metric": "macs", "fraction": 0.55,
                                                                          "reached": 0.5422})
    assert ("1. filter_prune: l1, target 55% of the MACs, reached 54.2% (29.0% of the filters removed); "
            "2 layer(s) thinned") in rp.render_markdown(thinned)


def test_distill_section_per_stage(thinned):
    md = rp.render_markdown(thinned)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in md[md.index("## Distillation"):].splitlines()
            if line.startswith("| 1.") or line.startswith("| 2.")]
    assert rows[:2] == [["1. filter_prune", "0.50", "4.0", "kl"], ["2. cluster", "0.70", "2.0", "kl"]]
    assert "<h2>Distillation</h2>" in rp.render_html(thinned)


def test_no_sections_without_filter_prune_or_distillation(example):
    for st in example["stages"]:  # the example's run distilled (the default for a classifier)
        st["distill"] = None
    md, page = rp.render_markdown(example), rp.render_html(example)
    assert "Filter pruning" not in md and "Distillation" not in md and "Filter pruning" not in page
    assert not any(line.startswith("filters ") for line in rp.summary_lines(example).splitlines())


def test_filters_latency_left_out_when_no_input_figures_share_the_result_quantization(thinned):
    thinned["result"]["quantization"] = "float16"
    from optimize_cli.report.training import filters_summary

    assert filters_summary(thinned) == "parameters 24,908 → 14,097 (−43.4%), MACs 2,656,768 → 1,440,540 (−45.8%)"
