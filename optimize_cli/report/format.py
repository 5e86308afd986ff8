"""The one formatter family for figures shown to people: report.md / report.html, `compare` and
`inspect`. Each formatter takes the mark shown for a missing value (report: "—", compare: "–",
inspect: "-"), so the three keep their own look while a figure is formatted in one place."""
from __future__ import annotations

import math
import unicodedata
from typing import Callable, Optional, Sequence

from ..measure.metrics import FRACTION_METRICS, saved_percent

#: missing value in report.md / report.html
DASH = "—"
#: latency decimals by size, (below, decimals): report.md's "0.090", "12.34", "123.4"
MS_STEPS: Sequence[tuple[float, int]] = ((1, 3), (100, 2), (math.inf, 1))


def text_width(text: str) -> int:
    """Terminal cell width (wide East Asian characters and emoji count 2, combining marks 0)."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def fmt_int(n: Optional[float], missing: str = DASH) -> str:
    """"50,177"."""
    return missing if n is None else f"{int(n):,}"


def fmt_number(v: Optional[float], digits: int = 4, missing: str = DASH, signed: bool = False) -> str:
    """A fixed-point number ("0.9537"; with ``signed`` "+0.0037")."""
    if v is None:
        return missing
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def fmt_bytes(raw: Optional[int], compressed: Optional[int], missing: str = DASH) -> str:
    """"528,128 → 434,879 (17.66%)": raw .tflite bytes → ZIP_DEFLATED bytes (saved %)."""
    if raw is None or compressed is None:
        return missing
    return f"{raw:,} → {compressed:,} ({saved_percent(raw, compressed):.2f}%)"


def fmt_compressed(compressed: Optional[float], saved: Optional[float], missing: str = DASH) -> str:
    """"434,879 (17.66%)": ZIP_DEFLATED bytes and the saved percent, when known."""
    if compressed is None:
        return missing
    return fmt_int(compressed) + ("" if saved is None else f" ({saved:.2f}%)")


def fmt_ratio(x: Optional[float], missing: str = DASH, sign: str = "×") -> str:
    """"7.10×" (a compression ratio or a speedup)."""
    return missing if x is None else f"{x:.2f}{sign}"


def fmt_ms(x: Optional[float], missing: str = DASH, steps: Sequence[tuple[float, int]] = MS_STEPS) -> str:
    """Milliseconds with the decimals of the first step the value is below."""
    if x is None:
        return missing
    digits = next(d for below, d in steps if x < below)
    return f"{x:.{digits}f}"


def fmt_pct(fraction: Optional[float], missing: str = DASH) -> str:
    """"50.0%" of a fraction (sparsity)."""
    return missing if fraction is None else f"{100 * float(fraction):.1f}%"


def fmt_seconds(s: Optional[float], missing: str = DASH) -> str:
    """"12.3 s", "2 min 15 s", "1 h 05 min"."""
    if s is None:
        return missing
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def is_fraction_metric(report: dict) -> bool:
    """Whether the report's metric is a fraction of samples (an accuracy), shown as percent."""
    return report["metric"]["name"] in FRACTION_METRICS


def fmt_metric(report: dict, v: Optional[float], missing: str = DASH) -> str:
    """Accuracy-type metrics as percent ("92.00%"), error metrics as plain numbers ("0.1234")."""
    if v is None:
        return missing
    return f"{100 * v:.2f}%" if is_fraction_metric(report) else f"{v:.4g}"


def fmt_change(d: Optional[float], magnitude: Callable[[float], str], missing: str = DASH) -> str:
    """A drop (positive = worse, in either metric direction) in words: "worse by 1.20 pts", "better by
    0.0068", "no change" (also when the magnitude shows as zero). The one wording of a metric change."""
    if d is None:
        return missing
    shown = magnitude(abs(d))
    if d == 0 or shown == magnitude(0.0):
        return "no change"
    return f"{'worse' if d > 0 else 'better'} by {shown}"


def fmt_drop_amount(report: dict, d: Optional[float], missing: str = DASH) -> str:
    """A drop as an amount (a gate's limit): percentage points for accuracy-type metrics ("1.20 pts"),
    metric units otherwise ("0.025")."""
    if d is None:
        return missing
    return f"{100 * d:.2f} pts" if is_fraction_metric(report) else f"{d:.4g}"


def fmt_drop(report: dict, d: Optional[float], missing: str = DASH) -> str:
    """A drop as a change, in the units of fmt_drop_amount: "worse by 1.20 pts", "better by 6.8" (an error
    metric that went down)."""
    return fmt_change(d, lambda v: fmt_drop_amount(report, v), missing)


def fmt_speed(x: Optional[float], missing: str = DASH, sign: str = "×") -> str:
    """Baseline / result latency in words: "2.04× speedup", "25.00× slowdown" (shown as 1 / x, never
    "0.04× speedup"), "1.00×" when the same. The one wording of a latency change."""
    if x is None or x <= 0:
        return missing
    if f"{x:.2f}" == "1.00" and f"{1 / x:.2f}" == "1.00":
        return f"1.00{sign}"
    return f"{x:.2f}{sign} speedup" if x > 1 else f"{1 / x:.2f}{sign} slowdown"
