"""Helpers for the report tests: the example report.json, densities for the plot, the images of a page."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).parent.parent / "fixtures" / "report_example.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_START = b"<?xml"


def densities(n: int = 4000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.05, n).astype(np.float32)
    pruned = base.copy()
    pruned[np.abs(pruned) < np.quantile(np.abs(pruned), 0.5)] = 0
    centroids = np.linspace(pruned.min(), pruned.max(), 8)
    clustered = np.where(pruned == 0, 0, centroids[np.abs(pruned[:, None] - centroids[None]).argmin(1)])
    return {"layer": "dense", "series": [{"label": "baseline", "values": base}, {"label": "prune", "values": pruned},
                                         {"label": "cluster", "values": clustered}]}


def imgs(page: str) -> list[tuple[str, str]]:
    """(id, base64 payload) of every <img> with a data:image/png or data:image/svg+xml src."""
    out = []
    for tag in re.findall(r"<img\b[^>]*>", page):
        src = re.search(r'src="data:image/(?:png|svg\+xml);base64,([A-Za-z0-9+/=]+)"', tag)
        ident = re.search(r'id="([^"]+)"', tag)
        if src:
            out.append((ident.group(1) if ident else "", src.group(1)))
    return out

