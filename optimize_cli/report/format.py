"""The one formatter family for figures shown to people: the run summary, report.md / report.html,
`compare`, `inspect`, the search's lines, live table and search.md. Accuracy changes in percentage points
("2.41 pts"), bytes with thousands separators ("26,446"), ratios to 3 significant digits ("7.10×",
"12.3×"); JSON keeps the raw numbers. Each formatter takes the mark shown for a missing value (report: "—", compare: "–",
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


def fmt_size(raw: Optional[int], compressed: Optional[int], missing: str = DASH) -> str:
    """"14,408 B, zip 6,359 B (tfmot's convention)": a file's bytes and its ZIP_DEFLATED size, said as what
    they are (not a saving against the baseline)."""
    if raw is None or compressed is None:
        return missing
    return f"{raw:,} B, zip {compressed:,} B (tfmot's convention)"


def fmt_compressed(compressed: Optional[float], saved: Optional[float], missing: str = DASH) -> str:
    """"434,879 (17.66%)": ZIP_DEFLATED bytes and the saved percent, when known."""
    if compressed is None:
        return missing
    return fmt_int(compressed) + ("" if saved is None else f" ({saved:.2f}%)")


def fmt_sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, fixed point: "7.10", "12.3", "123", "1,235", "0.0567"."""
    if x == 0 or not math.isfinite(x):
        return f"{x:.{digits - 1}f}" if x == 0 else str(x)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    if decimals and math.floor(math.log10(abs(float(text.replace(",", "")) or 1))) > math.floor(math.log10(abs(x))):
        text = f"{x:,.{decimals - 1}f}"  # 9.996 rounds up to 10.00: one digit too many
    return text


def fmt_ratio(x: Optional[float], missing: str = DASH, sign: str = "×") -> str:
    """"7.10×", "12.3×" (a compression ratio or a speedup: 3 significant digits)."""
    return missing if x is None else f"{fmt_sig(x)}{sign}"


def fmt_points(d: Optional[float], fraction: bool, missing: str = DASH) -> str:
    """An amount of an accuracy-type metric (a fraction) in percentage points ("2.41 pts"); of another
    metric in its units, 4 significant digits ("0.025")."""
    if d is None:
        return missing
    return f"{100 * d:.2f} pts" if fraction else f"{d:.4g}"


def fmt_value(v: Optional[float], fraction: bool, missing: str = DASH) -> str:
    """A metric value: a fraction as percent ("95.37%"), another metric to 4 significant digits."""
    if v is None:
        return missing
    return f"{100 * v:.2f}%" if fraction else f"{v:.4g}"


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
    return fmt_value(v, is_fraction_metric(report), missing)


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
    return fmt_points(d, is_fraction_metric(report), missing)


def fmt_drop(report: dict, d: Optional[float], missing: str = DASH) -> str:
    """A drop as a change, in the units of fmt_drop_amount: "worse by 1.20 pts", "better by 6.8" (an error
    metric that went down)."""
    return fmt_change(d, lambda v: fmt_drop_amount(report, v), missing)


def fmt_speed(x: Optional[float], missing: str = DASH, sign: str = "×") -> str:
    """Baseline / result latency in words: "2.04× speedup", "25.00× slowdown" (shown as 1 / x, never
    "0.04× speedup"), "1.00×" when the same. The one wording of a latency change."""
    if x is None or x <= 0:
        return missing
    if fmt_sig(x) == "1.00" and fmt_sig(1 / x) == "1.00":
        return f"1.00{sign}"
    return f"{fmt_sig(x)}{sign} speedup" if x > 1 else f"{fmt_sig(1 / x)}{sign} slowdown"
