"""Build a zoo of small Keras 3 models, train each a few steps, and save `<name>.keras` with reference
outputs on a fixed batch (`<name>.npz`: x, y) into the folder given as argv[1].

Run it in its own process with Keras 3 (`TF_USE_LEGACY_KERAS` unset): the test process uses tf_keras,
and the two Keras versions never share a process. The data is argv[2] (npz with x, y: 8×8×1 digits)."""
from __future__ import annotations

import os
import sys

os.environ.pop("TF_USE_LEGACY_KERAS", None)
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

L = keras.layers


def cnn():
    """Conv2D → BatchNormalization → ReLU → Dropout → MaxPooling2D → Flatten → Dense (softmax)."""
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.Dropout(0.2)(h)
    h = L.MaxPooling2D()(h)
    h = L.Flatten()(h)
    return keras.Model(inp, L.Dense(10, activation="softmax", name="dense1")(h), name="cnn")


def dscnn():
    """A DS-CNN block: Conv2D, DepthwiseConv2D, BatchNormalization, 1×1 Conv2D, global pooling."""
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
    h = L.BatchNormalization()(h)
    h = L.Activation("relu")(h)
    h = L.Conv2D(16, 1, activation="relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    return keras.Model(inp, L.Dense(10, activation="softmax")(h), name="dscnn")


def residual():
    """A residual block with Add, and its head a nested Sequential (flattened by the translation)."""
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    r = L.Conv2D(8, 3, padding="same")(h)
    r = L.BatchNormalization()(r)
    h = L.ReLU()(L.Add()([h, r]))
    head = keras.Sequential([keras.Input((8, 8, 8)), L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax")],
                            name="head")
    return keras.Model(inp, head(h), name="residual")


def prep(x):
    """Rescaling and an adapted Normalization up front, then a small CNN."""
    norm = L.Normalization()
    norm.adapt(x * 16.0)
    inp = keras.Input((8, 8, 1))
    h = L.Rescaling(16.0)(inp)  # the data is in [0, 1]; the model was made for 0..16 pixels
    h = norm(h)
    h = L.Normalization(mean=0.1, variance=2.0)(h)  # given, not adapted: no weights
    h = L.Conv2D(8, 3, activation="relu")(h)
    h = L.Flatten()(h)
    return keras.Model(inp, L.Dense(10, activation="softmax")(h), name="prep")


def mlp():
    """A Sequential MLP: Flatten → Dense → LayerNormalization → Dense."""
    return keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(32, activation="relu"),
                             L.LayerNormalization(), L.Dense(10, activation="softmax")], name="mlp")


def wide():
    """Every other supported 2D layer once (not trained through the CLI: checked for equal outputs)."""
    inp = keras.Input((8, 8, 1))
    h = L.ZeroPadding2D(1)(inp)
    h = L.SeparableConv2D(4, 3)(h)
    h = L.LeakyReLU(negative_slope=0.1)(h)
    a = L.Conv2DTranspose(4, 3, padding="same")(h)
    a = L.PReLU()(a)
    b = L.AveragePooling2D(2)(h)
    b = L.UpSampling2D(2)(b)
    m = L.Multiply()([a, b])
    c = L.Concatenate()([L.Average()([a, b]), m])
    shared = L.Conv2D(8, 1, name="shared")  # one layer called twice
    c = L.Add()([shared(c), shared(L.ReLU()(c))])
    block_in = keras.Input((8, 8, 8))
    block = keras.Model(block_in, L.Conv2D(8, 1, activation="relu6")(block_in), name="block")  # a nested Functional
    g = L.GlobalMaxPooling2D()(block(c))
    r = L.Reshape((2, 4))(g)
    r = L.Flatten()(L.Softmax()(r))
    return keras.Model(inp, L.Dense(10, activation="softmax")(r), name="wide")


def seq1d():
    """Embedding and the 1D layers: Conv1D, pooling (max, average, global)."""
    inp = keras.Input((16,), dtype="int32")
    h = L.Embedding(17, 8)(inp)
    h = L.Conv1D(8, 3, padding="same", activation="relu")(h)
    a = L.GlobalAveragePooling1D()(L.MaxPooling1D(2)(h))
    b = L.GlobalMaxPooling1D()(L.AveragePooling1D(2)(h))
    return keras.Model(inp, L.Dense(10, activation="softmax")(L.Add()([a, b])), name="seq1d")


def twoin():
    """A Functional with two inputs: an image through a Conv2D and 4 features through a Dense, concatenated."""
    img, feats = keras.Input((8, 8, 1), name="img"), keras.Input((4,), name="feats")
    a = L.Flatten()(L.Conv2D(4, 3, activation="relu", name="conv")(img))
    b = L.Dense(8, activation="relu", name="feat_dense")(feats)
    return keras.Model([img, feats], L.Dense(10, activation="softmax", name="head")(L.Concatenate()([a, b])),
                       name="twoin")


def unsupported():
    """GaussianNoise is not in the translation's table."""
    inp = keras.Input((8, 8, 1))
    h = L.Flatten()(inp)
    h = L.GaussianNoise(0.1, name="noise")(h)
    return keras.Model(inp, L.Dense(10, activation="softmax")(h), name="unsupported")


def with_lambda(marker: str):
    """A Lambda whose code, if it ever ran while loading, would create `marker`."""
    fn = eval(f"lambda t: (__import__('pathlib').Path({marker!r}).touch(), t)[1]")  # noqa: S307 - the payload
    inp = keras.Input((8, 8, 1))
    h = L.Lambda(fn, name="payload")(L.Flatten()(inp))
    return keras.Model(inp, L.Dense(10, activation="softmax")(h), name="with_lambda")


def extras(out: str, zoo: dict) -> None:
    """The other files a Keras 3 user has: `.h5` (legacy format) and a `model.export()` SavedModel."""
    zoo["cnn"].save(os.path.join(out, "cnn.h5"))
    zoo["residual"].save(os.path.join(out, "residual.h5"))
    zoo["mlp"].export(os.path.join(out, "mlp_export"), verbose=False)
    marker = os.path.join(out, "lambda_ran")
    with_lambda(marker).save(os.path.join(out, "with_lambda.keras"))
    os.remove(marker)  # building the model ran it once, in this process: the test checks nothing reruns it


def main(out: str, data: str) -> None:
    keras.utils.set_random_seed(0)
    with np.load(data) as f:
        x, y = f["x"].astype(np.float32), f["y"]
    tokens = (x.reshape(len(x), -1)[:, ::4] * 16).astype(np.int32)  # 16 "tokens" per digit, 0..16
    zoo = {"cnn": cnn(), "dscnn": dscnn(), "residual": residual(), "prep": prep(x), "mlp": mlp(),
           "wide": wide(), "seq1d": seq1d(), "unsupported": unsupported()}
    zoo["twoin"] = twoin()
    for name, model in zoo.items():
        xs = tokens if name == "seq1d" else [x, x.reshape(len(x), -1)[:, 20:24]] if name == "twoin" else x
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], run_eagerly=True)  # a few steps: eager beats tracing
        model.fit(xs, y, epochs=2, batch_size=32, verbose=0)  # BatchNorm statistics move too
        model.save(os.path.join(out, f"{name}.keras"))
        batch = [a[:16] for a in xs] if isinstance(xs, list) else xs[:16]
        inputs = {f"x{i}": a for i, a in enumerate(batch)} if isinstance(batch, list) else {"x": batch}
        np.savez(os.path.join(out, f"{name}.npz"), **inputs, y=np.asarray(model(batch, training=False)))
    extras(out, zoo)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
