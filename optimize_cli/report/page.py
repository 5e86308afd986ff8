"""The page shell that report.html and search.html share: the head (viewport, style, script), the style
sheet, the box a wide table scrolls in, and a plot's figure. Self-contained: no external URL, no font or
script fetched; everything works offline and without JavaScript (the script only adds cues and taps).

On a phone (390 px) nothing widens the page: text and code wrap, a plot scales to the column (its
"Enlarge" button shows it at full size in a box of its own that scrolls sideways), and a table wider
than the screen scrolls inside its own box under a "swipe sideways" cue with its right edge faded."""
from __future__ import annotations

import html

#: the screen width below which the phone layout applies (CSS media query and the tests' 390 px)
PHONE_MAX_PX = 700

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --alt:#f6f8fa; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --res:#fff8e6; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; padding: 24px 32px 48px; max-width: 1240px; overflow-wrap: break-word; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.path { font-size: 16px; font-weight: 600; margin: 0 0 8px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 700; color: #fff; font-size: 13px; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.summary { margin: 8px 0 12px; }
.warning { border: 2px solid var(--bad); background: #ffebe9; border-radius: 6px; padding: 10px 14px; margin: 12px 0;
           font-weight: 600; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(11.5em, 1fr)); gap: 8px; margin: 12px 0 14px;
             max-width: 980px; }
dl.figures > div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: var(--res); min-width: 0; }
dl.figures dt { color: var(--muted); font-size: 12.5px; }
dl.figures dd { margin: 0; }
dl.figures dd.value { font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; line-height: 1.3; }
dl.figures dd.sub { color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; vertical-align: top; }
thead th { background: var(--alt); text-align: left; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.results { width: 100%; }
table.results th, table.results td { padding: 5px 7px; }
table.results td.num, table.results thead th { white-space: normal; }
table.results tbody th { text-align: left; font-weight: 600; background: var(--alt); white-space: nowrap; }
table.results thead th:last-child, table.results td:last-child { background: var(--res); }
table.results tr > :first-child { position: sticky; left: 0; z-index: 1; box-shadow: inset -2px 0 0 var(--line); }
table.results thead tr > :first-child { background: var(--alt); }
table.results tr > :last-child { position: sticky; right: 0; z-index: 1; box-shadow: inset 2px 0 0 #e8c77a; }
table.provenance td:last-child { overflow-wrap: anywhere; }
td.pass { color: var(--ok); font-weight: 700; } td.fail { color: var(--bad); font-weight: 700; }
ul.notes { color: var(--muted); font-size: 12.5px; margin: 4px 0 0; padding-left: 18px; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 4px 0; }
li.ok::before { content: "✔ "; color: var(--ok); font-weight: 700; }
li.bad { color: var(--bad); font-weight: 700; }
figure { margin: 12px 0; }
figcaption { color: var(--muted); font-size: 12.5px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
.scroll > table { margin: 0; }
.scroll.overflows:not(.at-end) { -webkit-mask-image: linear-gradient(to right, #000 calc(100% - 36px), rgba(0,0,0,.3));
                                 mask-image: linear-gradient(to right, #000 calc(100% - 36px), rgba(0,0,0,.3)); }
.scroll.pinned.overflows { -webkit-mask-image: none; mask-image: none; }
p.scroll-cue { margin: 8px 0 2px; font-size: 12.5px; font-weight: 600; color: var(--warn); }
p.scroll-cue[hidden] { display: none; }
.plot img, .plot svg { display: block; width: 100%; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.plot.zoomed img, .plot.zoomed svg { width: 960px; max-width: none; }
button.zoom { display: none; margin: 6px 0 0; font: inherit; font-size: 13px; padding: 4px 12px; border: 1px solid var(--line);
              border-radius: 6px; background: var(--alt); color: var(--fg); cursor: pointer; }
@media (max-width: %(phone)dpx) {
  body { padding: 12px 12px 32px; }
  h1 { font-size: 21px; }
  dl.figures { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  dl.figures dd.value { font-size: 18px; }
  table.results { width: auto; }
  table.results tbody th { white-space: normal; min-width: 7.5em; max-width: 9.5em; }
  table.results tr > :last-child { min-width: 7em; }
  table.gates td.num, table.target td.num { white-space: normal; }
  .js button.zoom { display: inline-block; }
}
""".replace("%(phone)d", str(PHONE_MAX_PX))

#: the page's behaviour, all optional: the scroll cue of each box wider than the screen, and the plots'
#: "Enlarge" buttons. Without JavaScript every table still scrolls and every plot still fits.
SCRIPT = """
document.documentElement.classList.add('js');
function optimizeCliCues() {
  document.querySelectorAll('.scroll').forEach(function (box) {
    var over = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle('overflows', over);
    box.classList.toggle('at-end', box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
    var cue = box.previousElementSibling;
    if (!(cue && cue.classList.contains('scroll-cue'))) {
      cue = document.createElement('p');
      cue.className = 'scroll-cue';
      cue.textContent = box.getAttribute('data-cue') || '\\u21c6 Wider than the screen: swipe sideways for more.';
      box.parentNode.insertBefore(cue, box);
    }
    cue.hidden = !over;
  });
}
document.addEventListener('scroll', function (ev) {
  var box = ev.target;
  if (box.classList && box.classList.contains('scroll')) {
    box.classList.toggle('at-end', box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
  }
}, true);
document.addEventListener('click', function (ev) {
  var button = ev.target.closest && ev.target.closest('button.zoom');
  if (!button) return;
  var plot = document.getElementById(button.getAttribute('aria-controls'));
  var zoomed = plot.classList.toggle('zoomed');
  button.setAttribute('aria-pressed', zoomed ? 'true' : 'false');
  button.textContent = zoomed ? 'Fit to screen' : 'Enlarge';
  optimizeCliCues();
});
window.addEventListener('load', optimizeCliCues);
window.addEventListener('resize', optimizeCliCues);
document.addEventListener('DOMContentLoaded', optimizeCliCues);
"""


def page_head(title: str, extra_css: str = "", extra_script: str = "") -> list[str]:
    """The page's first lines, up to and including <body>: doctype, charset, the phone viewport, the
    title (escaped), the style sheet and the script."""
    return ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}{extra_css}</style>",
            f"<script>{SCRIPT}{extra_script}</script></head><body>"]


def scroll_box(inner: str, cls: str = "", cue: str = "") -> str:
    """A box that scrolls sideways on its own when its content is wider than the page (tables, an
    enlarged plot); ``cue`` replaces the default "swipe sideways" line shown above it then."""
    data = f' data-cue="{html.escape(cue)}"' if cue else ""
    return f'<div class="scroll{" " + cls if cls else ""}"{data}>{inner}</div>'


def plot_figure(inner: str, caption_html: str, box_id: str) -> str:
    """A plot (an <img> or inline <svg>) that fits the column, its caption (already HTML), and the phone's
    "Enlarge" button that shows it at full size in its own sideways-scrolling box (id ``box_id``)."""
    button = (f'<button type="button" class="zoom" aria-controls="{box_id}" aria-pressed="false">Enlarge</button>')
    return (f'<figure><div class="scroll plot" id="{box_id}">{inner}</div>{button}'
            f"<figcaption>{caption_html}</figcaption></figure>")
