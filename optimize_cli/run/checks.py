"""Did the export keep what the stages made? (moved as is from pipeline._checks; a registry-driven
replacement, each stage's `export_check`, comes with the stage seam.)"""
from __future__ import annotations


def export_checks(recipe, stage_records: list[dict], result_layers: list[dict]) -> list[dict]:
    """Did the export keep what the stages made? Compared per layer in the .tflite weight buffers."""
    out = []
    by_layer = {}
    for lay in result_layers:
        key = lay.get("layer") or lay.get("name")
        by_layer.setdefault(key, lay)
    for st, rec in zip(recipe.stages, stage_records, strict=False):
        if st.type == "prune":
            target = st.target_sparsity
            pruned = [lay for lay in rec["layers"] if lay["sparsity"] >= 0.9 * target]
            lost = []
            matched = 0
            for lay in pruned:
                t = by_layer.get(lay["name"])
                if t is None:
                    continue
                matched += 1
                if t["sparsity"] < 0.9 * target:
                    lost.append(f"{lay['name']} {lay['sparsity']:.0%}→{t['sparsity']:.0%}")
            msg = (f"{matched} pruned layer(s) keep ≥ {0.9 * target:.0%} zeros in the .tflite" if not lost else
                   "SPARSITY LOST in export: " + ", ".join(lost))
            out.append({"name": "sparsity survived export", "passed": not lost and matched > 0 if pruned else True,
                        "message": msg if pruned and matched else (msg if lost else
                                   "no pruned layer could be matched in the .tflite" if pruned else "nothing was pruned")})
        if st.type == "cluster":
            clustered = [lay for lay in rec["layers"] if lay.get("unique_weights") and lay["unique_weights"] <= st.clusters]
            lost, matched = [], 0
            for lay in clustered:
                t = by_layer.get(lay["name"])
                if t is None:
                    continue
                matched += 1
                if t.get("max_unique_per_channel", 0) > st.clusters:
                    lost.append(f"{lay['name']} ({t['max_unique_per_channel']} values per channel > {st.clusters})")
            out.append({"name": "clusters survived export", "passed": not lost and (matched > 0 or not clustered),
                        "message": ("CLUSTERS LOST in export: " + ", ".join(lost)) if lost else
                        (f"{matched} clustered layer(s) keep ≤ {st.clusters} values per channel in the .tflite"
                         if matched else "no clustered layer could be matched in the .tflite")})
    return out
