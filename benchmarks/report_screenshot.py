"""Render tests/fixtures/report_example.json to report.html and look at it in headless Chromium.

    python benchmarks/report_screenshot.py [--out /tmp/report_screenshot.png] [--failing]

1. writes report.html (with synthetic weight densities: a normal kernel, the same with its smallest
   50 % set to zero, then its non-zero values clustered to 8 centroids) into a temporary folder;
2. screenshots it with `chromium --headless --screenshot` (window 1280×2400);
3. checks, with `--dump-dom` on a copy of the page carrying a tiny inline script, that the <img>
   elements id="density-plot" and id="size-accuracy-plot" exist and decoded (naturalWidth > 0).

`--failing` renders a variant with a failed check and a failed gate, to look at the warning styles.
Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`). Exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimize_cli import report as rp  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"
IMG_IDS = ("density-plot", "size-accuracy-plot")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

PROBE = """<script>
window.addEventListener('load', function () {
  var ids = %s, out = [];
  ids.forEach(function (id) {
    var img = document.getElementById(id);
    out.push(id + '=' + (img ? (img.complete ? img.naturalWidth + 'x' + img.naturalHeight : 'incomplete') : 'missing'));
  });
  document.title = 'PROBE ' + out.join(' ');
});
</script>"""


def synthetic_densities(n: int = 3136 * 32, seed: int = 0) -> dict:
    """A dense kernel's values through prune (50 % zeros) and sparsity-preserving clustering (8 values)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.04, n).astype(np.float32)
    pruned = base.copy()
    pruned[np.abs(pruned) < np.quantile(np.abs(pruned), 0.5)] = 0.0
    nz = pruned[pruned != 0]
    # 8 clusters, zero among them (the sparsity-preserving cluster): 7 centroids over the non-zeros
    centroids = np.concatenate([[0.0], np.quantile(nz, np.linspace(0.04, 0.96, 7))]).astype(np.float32)
    nearest = centroids[1:][np.abs(pruned[:, None] - centroids[None, 1:]).argmin(1)]
    clustered = np.where(pruned == 0, 0.0, nearest).astype(np.float32)
    return {"layer": "dense", "series": [
        {"label": "baseline", "values": base},
        {"label": "1. prune (50%)", "values": pruned},
        {"label": "2. cluster (8, sparsity-preserving)", "values": clustered},
    ]}


def failing_variant(report: dict) -> dict:
    report["checks"][0] = {"name": "sparsity survived export", "passed": False,
                           "message": "sparsity lost in export: 50.0% zeros in Keras, 3.1% in the .tflite"}
    report["gates"] = rp.evaluate_gates({"max_accuracy_drop": 0.01, "min_compression_ratio": 3.0}, report)
    report["passed"] = all(g["passed"] for g in report["gates"])
    return report


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium not found: apt-get install -y chromium")


def run_chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/report_screenshot.png", help="where the screenshot goes")
    ap.add_argument("--failing", action="store_true", help="render a variant with a failed check and gate")
    ap.add_argument("--size", default="1280,2400", help="window size W,H")
    args = ap.parse_args()

    report = json.loads(FIXTURE.read_text(encoding="utf-8"))
    if args.failing:
        report = failing_variant(report)
    work = Path(tempfile.mkdtemp(prefix="report-screenshot-"))
    paths = rp.write_reports(report, work, densities=synthetic_densities())
    page = paths["html"]
    print(f"rendered {page} ({page.stat().st_size:,} bytes)")

    shot = work / "out.png"
    proc = run_chromium([f"--screenshot={shot}", f"--window-size={args.size}", page.as_uri()])
    if not shot.exists():
        print(proc.stderr[-3000:], file=sys.stderr)
        print("FAIL: no screenshot", file=sys.stderr)
        return 1
    shutil.copyfile(shot, args.out)
    print(f"screenshot {args.out}")

    probe = work / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE % json.dumps(list(IMG_IDS)) + "</body>"),
                     encoding="utf-8")
    proc = run_chromium(["--dump-dom", "--virtual-time-budget=5000", probe.as_uri()])
    title = re.search(r"<title>(.*?)</title>", proc.stdout, re.S)
    title = title.group(1) if title else ""
    print(f"probe: {title or '(no title)'}")
    ok = True
    for ident in IMG_IDS:
        m = re.search(rf"{ident}=(\d+)x(\d+)", title)
        if not m or int(m.group(1)) <= 0:
            print(f"FAIL: <img id={ident}> missing or not decoded", file=sys.stderr)
            ok = False
        else:
            print(f"ok: <img id={ident}> naturalWidth={m.group(1)} naturalHeight={m.group(2)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
