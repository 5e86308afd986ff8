"""Helpers for the measure tests: hand-set structured kernels, the tutorials' one-sample loop, conversion."""
from __future__ import annotations

import numpy as np

C_IN, C_CONV, DW_MULT, C_FC = 4, 32, 2, 16


def structured_kernel(shape, seed: int) -> np.ndarray:
    """Per output channel (last axis): half the values exactly 0, the rest from {s, -s, r*s} with
    s and r different in every channel, r*127 an integer (so int8 values are known exactly)."""
    rng = np.random.default_rng(seed)
    k = np.zeros(shape, np.float32)
    km = np.moveaxis(k, -1, 0)  # a view: writing km writes k
    for c in range(km.shape[0]):
        flat = np.zeros(km[c].size, np.float32)
        nz = rng.permutation(flat.size)[: flat.size - flat.size // 2]
        s, r = 0.05 + 0.01 * c, (10 + c) / 127.0
        flat[nz] = np.array([1.0, -1.0, r], np.float32)[np.arange(nz.size) % 3] * s
        km[c] = flat.reshape(km[c].shape)
    return k


def channels(name: str, k: np.ndarray) -> int:
    """Output channels of a Keras kernel (depthwise: in_channels × multiplier)."""
    return k.shape[-2] * k.shape[-1] if name == "dw" else k.shape[-1]


def tutorial_loop(tfl: bytes, x: np.ndarray) -> np.ndarray:
    """The tfmot tutorials' evaluation: one sample at a time, set_tensor / invoke / get_tensor."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    info = np.iinfo(i["dtype"]) if np.issubdtype(i["dtype"], np.integer) else None
    outs = []
    for s in x:
        v = s[None].astype(np.float32)
        if info is not None:
            scale, zp = i["quantization"]
            v = np.clip(np.round(v / scale + zp), info.min, info.max)
        it.set_tensor(i["index"], v.astype(i["dtype"]))
        it.invoke()
        out = it.get_tensor(o["index"])[0]
        if np.issubdtype(out.dtype, np.integer):
            scale, zp = o["quantization"]
            out = (out.astype(np.float32) - zp) * scale
        outs.append(out)
    return np.array(outs)



def convert(tf, model, mode: str, x=None, **kw) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "none":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        c.target_spec.supported_types = [tf.float16]
    if mode == "sparse":
        c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if mode in ("int8", "int16x8"):
        c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(32))
        if mode == "int8":
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = c.inference_output_type = tf.int8
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            c.inference_input_type = c.inference_output_type = kw.get("io", tf.float32)
    return c.convert()



def by_layer(stats):
    return {s["layer"]: s for s in stats if s["role"] == "weight"}


def sparse_fc_tflite(shape=(4, 4), dense_size=4, segments=(0, 1, 2, 3, 4), indices=(0, 1, 2, 3),
                     values=(1.0, 2.0, 3.0, 4.0)) -> bytes:
    """x[1, 4] → FULLY_CONNECTED(weights: a DENSE × SPARSE_CSR encoded constant) → y."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def tensor(name, shp, buffer=0, sparsity=None):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer, t.sparsity = name.encode(), list(shp), s.TensorType.FLOAT32, buffer, sparsity
        return t

    def int32_vector(vals):
        v = s.Int32VectorT()
        v.values = list(vals)
        return v

    outer, inner = s.DimensionMetadataT(), s.DimensionMetadataT()
    outer.format, outer.denseSize = s.DimensionType.DENSE, dense_size
    inner.format = s.DimensionType.SPARSE_CSR
    inner.arraySegmentsType = inner.arrayIndicesType = s.SparseIndexVector.Int32Vector
    inner.arraySegments, inner.arrayIndices = int32_vector(segments), int32_vector(indices)
    sp = s.SparsityParametersT()
    sp.traversalOrder, sp.dimMetadata = [0, 1], [outer, inner]
    sg = s.SubGraphT()
    sg.tensors = [tensor("x", (1, shape[1])), tensor("w", shape, 1, sp), tensor("y", (1, shape[0]))]
    sg.inputs, sg.outputs = [0], [2]
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    sg.operators = [op]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.FULLY_CONNECTED
    empty, weights = s.BufferT(), s.BufferT()
    weights.data = list(np.asarray(values, "<f4").tobytes())
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [sg], [empty, weights]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())
