"""Did the export keep what the stages made? Each stage's `export_check`, over the whole path."""
from __future__ import annotations


def export_checks(recipe, stage_records: list[dict], tflite_layers: list[dict]) -> list[dict]:
    """One check ({name, passed, message}) per stage whose module has `export_check`, compared per layer
    in the .tflite weight buffers (`tflite_layers`: measure's layers, keyed by their Keras layer name)."""
    from . import stage_module

    by_layer: dict = {}
    for lay in tflite_layers:
        key = lay.get("layer") or lay.get("name")
        # a SeparableConv2D left in float is a DEPTHWISE_CONV_2D then a CONV_2D under one name: the records
        # measure its pointwise kernel (what tfmot prunes and clusters), the CONV_2D's weights
        if key not in by_layer or ("DEPTHWISE" in str(by_layer[key].get("op", "")) and "DEPTHWISE" not in str(lay.get("op", ""))):
            by_layer[key] = lay
    out = []
    for st, rec in zip(recipe.stages, stage_records, strict=False):
        check = getattr(stage_module(st.type), "export_check", None)
        if check is not None:
            out.append(check(st, rec, by_layer))
    return out
