"""Did the export keep what the stages made? The .tflite's weight layers as each stage's `export_check`
reads them (the registry's `export_checks` runs those checks over the whole path)."""
from __future__ import annotations


def layers_by_name(tflite_layers: list[dict]) -> dict:
    """measure's .tflite weight layers keyed by their Keras layer name (what `export_check` compares with
    the stage's record)."""
    by_layer: dict = {}
    for lay in tflite_layers:
        key = lay.get("layer") or lay.get("name")
        # a SeparableConv2D left in float is a DEPTHWISE_CONV_2D then a CONV_2D under one name: the records
        # measure its pointwise kernel (what tfmot prunes and clusters), the CONV_2D's weights
        if key not in by_layer or ("DEPTHWISE" in str(by_layer[key].get("op", "")) and "DEPTHWISE" not in str(lay.get("op", ""))):
            by_layer[key] = lay
    return by_layer
