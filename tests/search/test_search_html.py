"""search.html and search.md from a hand-made search.json: self-contained, every trial drawn with its
tooltip, the gate and the recommended trial shown, the sensitivity heatmap and table, everything escaped."""
from __future__ import annotations

import re

from optimize_cli.search.front import markdown
from optimize_cli.search.html import render_search_html

HOSTILE = '<script>alert("x")</script> $\\x$ & dense'


def trial(n, state="complete", size=None, drop=None, passed=True, params=None, reason=None):
    figs = {} if size is None else {"compressed_bytes": size, "tflite_bytes": 3 * size, "accuracy": 0.95 - drop,
                                    "accuracy_drop": drop}
    gates = [] if size is None else [{"name": "max_accuracy_drop", "limit": 0.02, "value": drop, "passed": passed}]
    return {"number": n, "state": state, "params": params or {"stages.0.target_sparsity": 0.4 + n / 20},
            "recipe": None, "output": None, "values": {"compressed_bytes": size, "accuracy_drop": drop} if size else None,
            "figures": figs, "gates": gates, "passed": passed and state == "complete", "seconds": 10.0 + n,
            "exit_code": 0 if size else 4, "reason": reason}


def doc(sensitivity=True):
    trials = [trial(0, size=20000, drop=0.004), trial(1, size=15000, drop=0.012), trial(2, size=12000, drop=0.031,
              passed=False), trial(3, state="fail", passed=False, reason=HOSTILE),
              trial(4, state="pruned", passed=False, reason="accuracy 0.41 after prune misses the gate"),
              trial(5, size=16000, drop=0.015)]
    d = {"schema_version": 1, "study": "sq", "recipe": "/x/sq.yaml", "objectives": ["compressed_bytes", "accuracy_drop"],
         "sampler": "tpe", "space": {"params": [{"name": "stages.0.target_sparsity", "kind": "float", "low": 0.4,
                                                 "high": 0.8, "log": False}]},
         "trials": trials, "pareto": [0, 1], "recommended": 1, "interrupted": False,
         "metric": {"name": "accuracy", "higher_is_better": True}}
    if sensitivity:
        d["sensitivity"] = {"metric": "accuracy", "baseline": 0.95, "layers": [
            {"name": "conv2d", "params": 288, "prune": {"0.5": 0.001, "0.8": 0.02}, "cluster": {"8": 0.003}},
            {"name": HOSTILE, "params": 50000, "prune": {"0.5": 0.0, "0.8": 0.004, "0.9": 0.03},
             "cluster": {"8": 0.001, "4": 0.01}}]}
    return d


def test_search_html_is_self_contained_escaped_and_draws_every_trial():
    d = doc()
    d["study"] = HOSTILE  # --study NAME is free text
    page = render_search_html(d)
    assert page.count("<script") == 1 and page.index("<script") < page.index("</head>")  # the page's own only
    words = re.sub(r"<(style|script)>.*?</\1>", "", page, flags=re.S).lower()
    assert "hover" not in words and "tap or click" in words  # a phone cannot hover: points and rows are tapped
    assert not re.findall(r'(?:src|href)="(?!data:|#)', page)
    assert not re.findall(r"https?://(?!www\.w3\.org/)", page)  # only the SVG namespaces
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # the reason, in the table and the tooltip
    for n in range(6):  # every trial a point with its tooltip, the unmeasured ones in the strip below
        m = re.search(rf'<g id="trial-{n:04d}"><title>trial {n:04d}: ([^<]*)', page)
        assert m, n
    assert re.search(r'<g id="trial-0001-best"><title>trial 0001: complete, gates passed \(recommended\)', page)
    assert "gate max_accuracy_drop 2.00 pts" in page  # the gate line's legend entry
    assert 'id="sensitivity-plot"' in page and "prune 0.9" in page and "cluster 4" in page
    assert "RECOMMENDED 0001" in page
    rows = re.findall(r'<tr class="trial (\w+)" id="trial-(\d{4})-row"', page)
    assert rows == [("feasible", "0000"), ("feasible", "0001"), ("infeasible", "0002"), ("failed", "0003"),
                    ("pruned", "0004"), ("feasible", "0005")]


def test_search_html_without_sensitivity_or_measured_trials():
    d = doc(sensitivity=False)
    d["trials"] = [trial(0, state="fail", passed=False, reason="converter error")]
    d["pareto"], d["recommended"] = [], None
    page = render_search_html(d)
    assert "sensitivity" not in page.lower() and "NOTHING RECOMMENDED" in page
    assert '<g id="trial-0000"><title>trial 0000: fail' in page


def test_search_md_has_the_sensitivity_table_in_points():
    text = markdown(doc())
    head = [ln for ln in text.splitlines() if ln.startswith("| layer")]
    assert head and "prune 0.5" in head[0] and "cluster 8" in head[0] and head[0].index("cluster 4") < head[0].index(
        "cluster 8")
    row = next(ln for ln in text.splitlines() if ln.startswith("| conv2d"))
    assert "0.10 pts" in row and "2.00 pts" in row and "—" in row  # conv2d has no prune 0.9 / cluster 4
    assert "<script>" in text.split("## Per-layer sensitivity")[1]  # Markdown keeps text as written
    assert "## Per-layer sensitivity" not in markdown(doc(sensitivity=False))


def test_search_html_every_trial_row_opens_details_and_a_phone_keeps_the_deciding_columns():
    page = render_search_html(doc())
    for n in range(6):  # a button per row that controls the details row beneath it
        assert re.search(rf'<tr class="trial \w+" id="trial-{n:04d}-row" data-trial="{n:04d}"><td class="[^"]*">'
                         rf'<button type="button" class="open" aria-expanded="false" aria-controls="trial-{n:04d}-details">',
                         page), n
        details = re.search(rf'<tr class="details" id="trial-{n:04d}-details"><td colspan="(\d+)">(.*?)</td></tr>',
                            page, flags=re.S)
        assert details and int(details.group(1)) == 10  # 9 columns and the phone's outcome
        assert f"stages.0.target_sparsity={0.4 + n / 20:.4g}" in details.group(2)
    failed = re.search(r'id="trial-0003-details".*?</tr>', page, flags=re.S).group(0)
    assert "<dt>reason</dt><dd>&lt;script&gt;" in failed and "<dt>state</dt><dd>failed</dd>" in failed
    # a phone shows the trial, the size, the drop and the outcome; the other columns carry "wide"
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", page, flags=re.S).group(1)
    shown = [re.sub(r"<[^>]+>", " ", th).split()[0] for th in re.findall(r'<th class="(?!(?:num )?wide)[^"]*">.*?</th>', head)]
    assert shown == ["trial", "compressed_bytes", "accuracy_drop", "outcome"]
    assert re.findall(r'<td class="phone (\w+)">([^<]+)</td>', page) == [
        ("feasible", "passed"), ("feasible", "passed"), ("infeasible", "missed a gate"), ("failed", "failed"),
        ("pruned", "pruned"), ("feasible", "passed")]


def test_search_md_trial_table_formats_figures_like_the_reports():
    """Bytes with separators and accuracy drops in points, as report.md and the trial lines show them."""
    text = markdown(doc())
    row = next(ln for ln in text.splitlines() if ln.startswith("| 0001"))
    assert "| 15,000 | 1.20 pts |" in row, row
    assert "15000" not in row and "0.012 " not in row


def test_search_html_a_repeated_trial_points_at_the_report_of_the_trial_that_ran():
    d = doc()
    d["trials"][5] = {**d["trials"][5], "duplicate_of": 1}
    page = render_search_html(d)
    details = re.search(r'id="trial-0005-details".*?</tr>', page, flags=re.S).group(0)
    assert "trials/0001/report.html (the same recipe as trial 0001; not run again)" in details
    assert "trials/0005/report.html" not in details
