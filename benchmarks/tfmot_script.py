"""`optimize-cli run` against a hand-written tfmot script doing the same work: the tutorials' PCQAT path
(prune 50 % → 8 sparsity-preserving clusters → PCQAT, 3/3/1 epochs, learning rate 1e-4, batch 64, then
int8 conversion and evaluation on the interpreter). Target: the run costs at most 1.15× the script's
wall time, its baselines taken from the cache (a second run of the same model and data).

Both are timed as whole processes (Python start and the TensorFlow import included), back to back,
`--repeat` times; the minimum of each is reported (other jobs on the machine only ever add time). The
run's baseline cache is a temporary folder filled by one untimed run first.

    .venv/bin/python benchmarks/tfmot_script.py [--model SAVED_MODEL] [--data NPZ] [--repeat 2]
    .venv/bin/python benchmarks/tfmot_script.py script MODEL NPZ OUT.tflite [1]   # the script alone (1: BN frozen)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = Path("/work/shared/realmodels/kws_dscnn")
EPOCHS, LR, BATCH, SPARSITY, CLUSTERS, CALIBRATION = (3, 3, 1), 1e-4, 64, 0.5, 8, 256


def script(model_dir: str, npz: str, out: str, freeze_bn: str = "0") -> None:
    """The hand-written script: what a user writes from the tfmot tutorials (no optimize-cli); the
    seconds of each phase on stderr."""
    t0 = time.perf_counter()
    phases = {}

    def phase(name):
        phases[name] = round(time.perf_counter() - t0 - sum(phases.values()), 1)

    import numpy as np
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    d = np.load(npz)
    x_train, y_train, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]

    def fit(m, epochs, callbacks=()):
        m.compile(optimizer=keras.optimizers.Adam(LR), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=list(callbacks))
        return m

    phase("import")
    model = keras.models.load_model(model_dir)
    if freeze_bn == "1":  # as optimize-cli's training.freeze_batchnorm (its default): BatchNorm in inference mode
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    phase("load")
    sched = tfmot.sparsity.keras.ConstantSparsity(SPARSITY, begin_step=0, frequency=100)
    pruned = fit(tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=sched), EPOCHS[0],
                 [tfmot.sparsity.keras.UpdatePruningStep()])
    pruned = tfmot.sparsity.keras.strip_pruning(pruned)
    phase("prune")
    cl = tfmot.clustering.keras
    clustered = fit(cl.cluster_weights(pruned, number_of_clusters=CLUSTERS, preserve_sparsity=True,
                                       cluster_centroids_init=cl.CentroidInitialization.KMEANS_PLUS_PLUS), EPOCHS[1])
    clustered = cl.strip_clustering(clustered)
    phase("cluster")
    q = tfmot.quantization.keras
    pcqat = q.quantize_apply(q.quantize_annotate_model(clustered),
                             tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True))
    pcqat = fit(pcqat, EPOCHS[2])
    phase("pcqat")

    conv = tf.lite.TFLiteConverter.from_keras_model(pcqat)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in x_train[:CALIBRATION])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tfl = conv.convert()
    Path(out).write_bytes(tfl)
    phase("convert")
    it = tf.lite.Interpreter(model_content=tfl)
    it.allocate_tensors()
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = inp["quantization"]
    hits = 0
    for x, y in zip(x_test, y_test, strict=True):
        it.set_tensor(inp["index"], np.round(x[None] / scale + zero).clip(-128, 127).astype(np.int8))
        it.invoke()
        hits += int(np.argmax(it.get_tensor(outp["index"])[0]) == y)
    phase("evaluate")
    print(json.dumps({"tflite_bytes": len(tfl), "accuracy": hits / len(y_test), "seconds": phases}))


def _timed(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if res.returncode not in (0, 5):
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return seconds, res.stdout + res.stderr


def run_command(model: Path, data: Path, out: Path) -> list[str]:
    sets = [f"data.train.path={data}", f"data.eval.path={data}", f"training.batch_size={BATCH}",
            f"stages.0.target_sparsity={SPARSITY}", f"stages.1.clusters={CLUSTERS}",
            "training.distill=false"]  # the same work as the script: no teacher
    sets += [f"stages.{i}.epochs={e}" for i, e in enumerate(EPOCHS)]
    sets += [f"stages.{i}.learning_rate={LR}" for i in range(3)]
    cmd = [sys.executable, "-m", "optimize_cli", "run", "prune-cluster-pcqat", "--model", str(model), "--output",
           str(out), "--force"]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def _stage_seconds(out: Path) -> str:
    rep = json.loads((out / "report.json").read_text())
    st = ", ".join(f"{s['type']} {s['seconds']:.1f}s" for s in rep["stages"])
    return (f"{st}; baseline cached: {rep['baseline'].get('cached')}, ptq cached: "
            f"{(rep.get('ptq_baseline') or {}).get('cached')}; accuracy {rep['result']['accuracy']:.4f}; "
            f"seconds_total {rep['seconds_total']:.1f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "script":
        script(*sys.argv[2:6])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=REAL / "saved_model")
    ap.add_argument("--data", type=Path, default=REAL / "kws01_split.npz")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--target", type=float, default=1.15)
    ap.add_argument("--freeze-bn", action="store_true", help="the script keeps BatchNormalization frozen as "
                    "optimize-cli does by default (training.freeze_batchnorm), rather than the tutorials' way")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPTIMIZE_CLI_CACHE_DIR": str(Path(tmp) / "cache"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        out = Path(tmp) / "run"
        _timed(run_command(args.model, args.data, out), env)  # fills the baseline cache (untimed)
        s_times, r_times = [], []
        for i in range(args.repeat):
            s, text = _timed([sys.executable, __file__, "script", str(args.model), str(args.data),
                              str(Path(tmp) / "script.tflite"), "1" if args.freeze_bn else "0"], env)
            s_times.append(s)
            r, _ = _timed(run_command(args.model, args.data, out), env)
            r_times.append(r)
            said = next((ln for ln in reversed(text.splitlines()) if ln.startswith("{")), "")
            print(f"#{i + 1}: script {s:.1f} s ({said}), optimize-cli run {r:.1f} s "
                  f"({_stage_seconds(out)})", file=sys.stderr)
    s, r = min(s_times), min(r_times)
    print(f"hand-written tfmot script {s:.1f} s, optimize-cli run {r:.1f} s (baselines cached): "
          f"{r / s:.2f}x (target {args.target:.2f}x)")
    return 0 if r / s <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
