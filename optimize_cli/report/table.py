"""A table of cell strings rendered as an aligned Markdown pipe table or as HTML (report.md and
report.html share their tables)."""
from __future__ import annotations

import html
from typing import Optional

from .format import text_width


class Table:
    """Headers, rows of cell strings and per-column alignment ("l" or "r"); rendered as Markdown or HTML."""

    def __init__(self, headers: list[str], rows: list[list[str]], align: Optional[str] = None,
                 classes: Optional[list[list[str]]] = None):
        self.headers = headers
        self.rows = rows
        self.align = align or "l" * len(headers)
        self.classes = classes  # optional per-cell CSS class (HTML only)

    def markdown(self) -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")

        head = [cell(h) for h in self.headers]
        body = [[cell(c) for c in row] for row in self.rows]
        widths = [max([text_width(head[i])] + [text_width(r[i]) for r in body] + [3]) for i in range(len(head))]

        def line(cells):
            out = []
            for i, c in enumerate(cells):
                pad = " " * (widths[i] - text_width(c))
                out.append(pad + c if self.align[i] == "r" else c + pad)
            return "| " + " | ".join(out) + " |"

        sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                             for w, a in zip(widths, self.align, strict=True)) + "|"
        return "\n".join([line(head), sep] + [line(r) for r in body])

    def html(self, table_class: str = "") -> str:
        e = html.escape
        cls = f' class="{table_class}"' if table_class else ""
        out = [f"<table{cls}>", "<thead><tr>"]
        out += [f'<th class="{"num" if a == "r" else ""}">{e(h)}</th>' for h, a in zip(self.headers, self.align, strict=True)]
        out.append("</tr></thead><tbody>")
        for ri, row in enumerate(self.rows):
            cells = []
            for ci, c in enumerate(row):
                classes = ["num"] if self.align[ci] == "r" else []
                if self.classes and self.classes[ri][ci]:
                    classes.append(self.classes[ri][ci])
                tag = "th" if ci == 0 and table_class == "results" else "td"
                cells.append(f'<{tag} class="{" ".join(classes)}">{strip_md(e(c))}</{tag}>')
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        return "\n".join(out)


def strip_md(s: str) -> str:
    """The text without Markdown bold marks (for HTML cells)."""
    return s.replace("**", "")

