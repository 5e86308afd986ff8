"""Keras layer names from TFLite tensor names (``model/conv1/Conv2D`` → ``conv1``)."""
from __future__ import annotations

import re
from typing import Optional

# path components of a tensor name that are TensorFlow ops, not layers (besides CamelCase op names)
_TF_OP_TOKENS = {"depthwise", "kernel", "bias", "tensordot", "readvariableop", "call", "embedding_lookup"}
_TFMOT_PREFIXES = ("prune_low_magnitude_", "quant_")


def _op_like(part: str) -> bool:
    base = re.sub(r"\d+$", "", part)
    return base in _TF_OP_TOKENS or re.fullmatch(r"[A-Z][A-Za-z0-9]*", base) is not None


_WEIGHT_OP_PART = re.compile(
    r"(Conv[123]D|conv[123]d|depthwise|MatMul|BatchMatMul(V[23])?|Conv2DBackpropInput|conv[23]d_transpose|"
    r"Tensordot|[Ee]insum|embedding_lookup|GatherV2)(_?\d+)?")


def keras_layer_name(tensor_name: str) -> Optional[str]:
    """Best-effort Keras layer name from a TFLite tensor name (``model/conv1/Conv2D`` → ``conv1``;
    ``model/quant_dense/MatMul;…`` → ``dense``; of fused names the part naming the weight op wins, so
    ``model/dw_bn/FusedBatchNormV3;model/dw/depthwise`` → ``dw``); None when no part has a layer scope."""
    if not tensor_name:
        return None
    best, best_score = None, 0
    for seg in tensor_name.split(";"):
        parts = [p for p in seg.split("/") if p]
        if len(parts) < 2:
            continue
        score = 2 if any(_WEIGHT_OP_PART.fullmatch(p) for p in parts[1:]) else 1
        if score <= best_score:
            continue
        while len(parts) > 2 and _op_like(parts[-1]):
            parts.pop()
        # [model, layer, ...] → the innermost layer; [layer, Op] (no model scope) → layer
        name = parts[0] if len(parts) == 2 and _op_like(parts[1]) else parts[-1]
        for pre in _TFMOT_PREFIXES:
            if name.startswith(pre) and len(name) > len(pre):
                name = name[len(pre):]
                break
        best, best_score = name, score
        if score == 2:
            break
    return best

