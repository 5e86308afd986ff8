"""How long do the deployable-bytes transforms add to an export, and what do they give? Target: slimming
for every runtime plus TFLM LUT compression under 1 s on the DS-CNN.

Times, on the given .tflite: the imports they need (once per process), `slim` for litert / tflm / ethos-u,
`lut.compress` on the TFLM-slimmed file (its greedy search, without the check), and the check itself
(both files run on TFLM, or LiteRT for the slim files) over `--samples` samples from an .npz. Prints the
bytes of every file and a per-tensor LUT table.

    .venv/bin/python benchmarks/deploy_bytes.py ../shared/realmodels/kws_dscnn/reference_int8.tflite \\
        [--npz ../shared/realmodels/kws_dscnn/kws01_split.npz --x x_test] [--samples 100] [--repeat 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "realmodels" / "kws_dscnn" / "reference_int8.tflite"


def _best(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tflite", nargs="?", default=str(DEFAULT))
    ap.add_argument("--npz", default=None, help="samples for the check (default: the DS-CNN's split if present)")
    ap.add_argument("--x", default="x_test")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--target", type=float, default=1.0, help="seconds for slim (3 runtimes) + LUT")
    args = ap.parse_args()

    import numpy as np

    data = Path(args.tflite).read_bytes()
    t0 = time.perf_counter()
    from optimize_cli.deploy import lut, slim, verify
    from optimize_cli.targets import ethos_u, litert
    from optimize_cli.targets import tflm as tflm_target

    slim.schema()
    import tflite_micro.tensorflow.lite.micro.compression  # noqa: F401
    t_import = time.perf_counter() - t0

    results, spent = {}, 0.0
    for runtime, module in (("litert", litert), ("tflm", tflm_target), ("ethos-u", ethos_u)):
        results[runtime], t = _best(lambda m=module: slim.slim(data, m.SLIM_CHANGES, m.SLIM_REFUSED), args.repeat)
        spent += t
        r = results[runtime]
        print(f"slim {runtime:8s} {len(data):>7,} → {r.slim_bytes:>7,} B  {t * 1000:7.1f} ms  {r.removed_bytes}")
    names = lut.tensor_names(data)
    tflm = results["tflm"].tflite
    compressed, t = _best(lambda: lut.compress(tflm, names=names, verify=False), max(1, args.repeat // 2))
    spent += t
    print(f"lut  on tflm {len(tflm):>7,} → {compressed.compressed_bytes:>7,} B  {t * 1000:7.1f} ms  "
          f"({len(compressed.compressed_tensors)} of {len(compressed.tensors)} tensors compressed)")
    for row in compressed.tensors:
        state = f"{row.bits}-bit {row.mode}, file −{row.file_saved} B" if row.compressed else row.skipped
        print(f"    {row.tensor:3d} {row.name[:48]:48s} {row.bytes_before:>6} B  {state}")
    print(f"imports (once per process): {t_import * 1000:.0f} ms")
    print(f"slim ×3 + LUT: {spent:.3f} s (target ≤ {args.target:.1f} s) → {'OK' if spent <= args.target else 'OVER'}")

    npz = Path(args.npz) if args.npz else Path(args.tflite).with_name("kws01_split.npz")
    if npz.is_file():
        x = np.load(npz)[args.x][: args.samples]
        inputs = [x[i: i + 1] for i in range(len(x))]
        checks = [("litert", verify.run_litert, data, results["litert"].tflite), ("tflm", verify.run_tflm, data, tflm),
                  ("tflm", verify.run_tflm, tflm, compressed.tflite)]
        for runtime, runner, a, b in checks:
            t0 = time.perf_counter()
            verify.assert_same_outputs(a, b, inputs, runner, runtime)
            print(f"check {runtime:6s} {len(a):>7,} vs {len(b):>7,} B: bit-identical over {len(inputs)} samples "
                  f"in {time.perf_counter() - t0:.2f} s")
    return 0 if spent <= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
