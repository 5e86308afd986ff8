"""Build the tiny models and data behind the example recipes in this folder (deterministic, no downloads).

    .venv/bin/python recipes/examples/build_examples.py

writes recipes/examples/data/ (about 120 KB in all):

  binary_images/{horizontal,vertical}/NNN.png   80 8×8 grayscale PNGs, stripes with noise (image_dir)
  binary_model/                                 Conv2D → Dense(1, sigmoid), binary_crossentropy (binary.yaml)
  regression.tfrecord                           240 tf.train.Examples: `features` float32 [8], `target` float32 [1]
  regression_model/                             Dense(16, relu) → Dense(1), mean_squared_error (regression.yaml)
  multi_output.npz                              x_train (240, 8), label_train, score_train, x_test (80, 8), ...
  multi_output_model/                           Dense(16) → outputs `score` (Dense 1) and `label` (3-way softmax)
                                                (multi_output.yaml scores `label` via evaluation.output)

Models are tf_keras SavedModels saved with include_optimizer=False and save_traces=False (built-in layers
only), which keeps each around 25 KB; they load with tf_keras.models.load_model like any other Keras
SavedModel. Without the optimizer the compile config is not saved either: optimize-cli infers the loss
from the output layer (sigmoid → binary_crossentropy, linear → mean_squared_error), and
multi_output.yaml names its loss in training.loss.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE.parent.parent))  # the repository, for optimize_cli.tf


def _fit(keras, model, x, y, loss, epochs, **compile_kw):
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, **compile_kw)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    return model


def _save(model, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    model.save(str(path), save_format="tf", include_optimizer=False, save_traces=False)


def stripes(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 8×8×1 images: label 0 horizontal stripes, label 1 vertical stripes, with noise."""
    y = np.repeat([0, 1], n // 2)
    base = np.zeros((n, 8, 8), np.float32)
    for i, label in enumerate(y):
        phase = rng.integers(0, 2)
        line = ((np.arange(8) + phase) % 2).astype(np.float32)
        base[i] = line[:, None] * np.ones((1, 8)) if label == 0 else line[None, :] * np.ones((8, 1))
    img = np.clip(base * 160 + 40 + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
    return img[..., None], y


def build_binary(tf, keras, rng) -> None:
    u8, y = stripes(rng, 80)
    root = DATA / "binary_images"
    if root.exists():
        shutil.rmtree(root)
    for i, (img, label) in enumerate(zip(u8, y, strict=True)):
        d = root / ("horizontal", "vertical")[label]  # sorted folder names: horizontal = 0, vertical = 1
        d.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(d / f"{i:03d}.png"), tf.io.encode_png(img))
    x = u8.astype(np.float32) / 255.0
    inp = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten(name="flatten")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(h)
    model = _fit(keras, keras.Model(inp, out, name="binary"), x, y.astype(np.float32), "binary_crossentropy", 40,
                 metrics=["binary_accuracy"])
    _save(model, DATA / "binary_model")
    print(f"binary: {model.count_params()} params, train accuracy "
          f"{float(np.mean((model.predict(x, verbose=0)[:, 0] > 0.5) == y)):.3f}")


def build_regression(tf, keras, rng) -> None:
    n = 240
    x = rng.normal(0, 1, (n, 8)).astype(np.float32)
    w = np.linspace(-1, 1, 8).astype(np.float32)
    y = (x @ w + 0.5 * np.sin(x[:, 0]) + rng.normal(0, 0.05, n)).astype(np.float32)[:, None]
    with tf.io.TFRecordWriter(str(DATA / "regression.tfrecord")) as wr:
        for xi, yi in zip(x, y, strict=True):
            feats = {"features": tf.train.Feature(float_list=tf.train.FloatList(value=xi.tolist())),
                     "target": tf.train.Feature(float_list=tf.train.FloatList(value=yi.tolist()))}
            wr.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    inp = keras.Input((8,), name="features")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(1, name="value")(h)
    model = _fit(keras, keras.Model(inp, out, name="regression"), x, y, "mean_squared_error", 60)
    _save(model, DATA / "regression_model")
    mae = float(np.mean(np.abs(model.predict(x, verbose=0) - y)))
    print(f"regression: {model.count_params()} params, train mae {mae:.3f}")


def build_multi_output(tf, keras, rng) -> None:
    n = 320
    x = rng.normal(0, 1, (n, 8)).astype(np.float32)
    label = np.argmax(x[:, :3], axis=1).astype(np.int64)
    score = (x[:, 3:].sum(axis=1, keepdims=True) / 5).astype(np.float32)
    tr, te = slice(0, 240), slice(240, n)
    np.savez(DATA / "multi_output.npz", x_train=x[tr], label_train=label[tr], score_train=score[tr],
             x_test=x[te], label_test=label[te], score_test=score[te])
    inp = keras.Input((8,), name="features")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inp)
    out_score = keras.layers.Dense(1, name="score")(h)
    out_label = keras.layers.Dense(3, activation="softmax", name="label")(h)
    model = keras.Model(inp, [out_score, out_label], name="multi_output")
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss={"score": "mean_squared_error", "label": "sparse_categorical_crossentropy"})
    model.fit(x[tr], {"score": score[tr], "label": label[tr]}, epochs=60, batch_size=32, verbose=0)
    _save(model, DATA / "multi_output_model")
    acc = float(np.mean(np.argmax(model.predict(x[te], verbose=0)[1], axis=1) == label[te]))
    print(f"multi_output: {model.count_params()} params, outputs {model.output_names}, label test accuracy {acc:.3f}")


def main() -> None:
    from optimize_cli.tf import keras, tf

    DATA.mkdir(parents=True, exist_ok=True)
    for build in (build_binary, build_regression, build_multi_output):
        keras.utils.set_random_seed(0)
        build(tf, keras, np.random.default_rng(0))
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    print(f"{DATA}: {total:,} bytes")


if __name__ == "__main__":
    main()
