"""The deployment tree's pure facts (DESIGN.md): the QAT schemes and how they are named, the export
quantizations, and the one renderer of a path's label.

Imports nothing from the package: the order of the stages and the rules that read the stage registry are
`stages/order.py`'s, the `optimize-cli tree` drawing is the catalog command's (cli/tree_view.py).
"""
from __future__ import annotations

from typing import Iterable, Optional

#: QAT scheme name → tfmot scheme class, chosen from what came before (DESIGN.md)
SCHEMES = {
    "QAT": "Default8BitQuantizeScheme",
    "PQAT": "Default8BitPrunePreserveQuantizeScheme",
    "CQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)",
    "PCQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)",
}
#: how the tree names each scheme
SCHEME_TITLES = {
    "QAT": "QAT",
    "PQAT": "PQAT (prune-preserving QAT)",
    "CQAT": "CQAT (cluster-preserving QAT)",
    "PCQAT": "PCQAT (sparsity- and cluster-preserving QAT)",
}
#: export quantizations, in the order the tree lists them
QUANTIZATIONS = ("none", "dynamic", "float16", "int8", "int16x8")


def scheme_keeping(sparsity: bool, clusters: bool) -> str:
    """The QAT scheme that preserves what the earlier stages made: pruned zeros, clustered weights."""
    if sparsity and clusters:
        return "PCQAT"
    if clusters:
        return "CQAT"
    if sparsity:
        return "PQAT"
    return "QAT"


def scheme_note(name: str) -> str:
    """'CQAT (Default8BitClusterPreserveQuantizeScheme, preserve_sparsity=False)': the scheme and its class."""
    cls = SCHEMES[name]
    return f"{name} ({cls.replace('(', ', ').rstrip(')')})"


def quant_label(quantization: Optional[str]) -> str:
    """The export mode as shown: "float32" for none."""
    return "float32" if quantization in (None, "none") else str(quantization)


def stage_name(stage_type: str, scheme: Optional[str] = None) -> str:
    """A stage as shown in a path: its type, with its QAT scheme when that is not plain QAT ("qat (PCQAT)")."""
    if scheme and scheme.upper() in SCHEMES and scheme.upper() != "QAT":
        return f"{stage_type} ({scheme})"
    return str(stage_type)


def path_label(stages: Iterable, quantization: Optional[str], style: str = "report") -> str:
    """The one renderer of a path's label.

    `stages` holds stage types, or records with `type` and `scheme` (report.json's stages). style
    "report": "prune → cluster → qat (PCQAT) → int8" (report.md, the summary, compare); style "listing":
    "prune → cluster → qat → tflite(int8)" (`optimize-cli recipes`, `validate`).
    """
    types, schemes = [], []
    for st in stages:
        types.append(str(st if isinstance(st, str) else st.get("type")))
        schemes.append(None if isinstance(st, str) else (st.get("scheme") or ""))
    if style == "listing":
        return " → ".join(types + [f"tflite({quantization or 'none'})"])
    parts = [stage_name(t, scheme) for t, scheme in zip(types, schemes, strict=True)]
    q = quant_label(quantization)
    if not parts:
        return "float32 (no optimization)" if q == "float32" else f"PTQ → {q}"
    return " → ".join(parts + [q])
