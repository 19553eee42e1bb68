"""Charts drawn on the server as SVG: no script, nothing fetched, nothing that a strict CSP blocks.

Readable without colour: every series has its own pattern (solid, hatched, dotted…), named in the
legend with a swatch of the same pattern; every bar carries its number as text; a suppressed
figure is drawn as no bar with its "<5" or "*" label. The table under each chart holds the same
figures for screen readers (the SVG is an image with a title and a description).
"""
from markupsafe import Markup, escape

from .tables import TOTAL

# Patterns from darkest to lightest; each distinct without colour.
PATTERNS = (
    ('<rect width="8" height="8" fill="#1f5f8b"/>', "#1f5f8b"),
    ('<rect width="8" height="8" fill="#ffffff"/><path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#8a5a00" '
     'stroke-width="2.2"/>', "#8a5a00"),
    ('<rect width="8" height="8" fill="#ffffff"/><circle cx="4" cy="4" r="1.8" fill="#1e7b4a"/>', "#1e7b4a"),
    ('<rect width="8" height="8" fill="#ffffff"/><path d="M0,0 L8,8 M8,0 L0,8" stroke="#b3261e" stroke-width="1.4"/>',
     "#b3261e"),
    ('<rect width="8" height="8" fill="#ffffff"/><path d="M0,4 H8" stroke="#5b2a86" stroke-width="2.2"/>', "#5b2a86"),
    ('<rect width="8" height="8" fill="#ffffff"/><path d="M4,0 V8" stroke="#0b6e6e" stroke-width="2.2"/>', "#0b6e6e"),
    ('<rect width="8" height="8" fill="#9fb6c8"/>', "#9fb6c8"),
    ('<rect width="8" height="8" fill="#ffffff"/><rect width="4" height="4" fill="#5b6475"/>'
     '<rect x="4" y="4" width="4" height="4" fill="#5b6475"/>', "#5b6475"),
)

ROW_H, GAP, LABEL_W, BAR_W, PAD = 22, 8, 176, 320, 64


def _defs(uid, n):
    out = []
    for i in range(n):
        body, _stroke = PATTERNS[i % len(PATTERNS)]
        out.append(f'<pattern id="{uid}-p{i}" width="8" height="8" patternUnits="userSpaceOnUse">{body}</pattern>')
    return "<defs>" + "".join(out) + "</defs>"


def _clip(text, n=24):
    """Shorten a label to about n narrow characters (a Chinese character counts as two)."""
    text, width, out = str(text), 0, []
    for ch in text:
        width += 2 if ord(ch) > 0x2e80 else 1
        if width > n - 1:
            return "".join(out) + "…"
        out.append(ch)
    return text


def bar_chart(table, uid, *, columns=None, title=None, unit=""):
    """Horizontal bars, one per row; stacked by `columns` (one pattern each) when there are several."""
    columns = columns or ([TOTAL] if table.row_totals else [table.count_columns[0] if table.count_columns
                                                             else table.columns[0][0]])
    labels = dict(table.all_columns())
    rows = table.rows
    if not rows:
        return Markup("")
    totals = []
    for r, _ in rows:
        visible = [table.cells[(r, c)].value or 0 for c in columns
                   if (r, c) in table.cells and not table.cells[(r, c)].masked]
        totals.append(sum(v for v in visible if isinstance(v, (int, float))))
    top = max(totals + [1])
    scale = BAR_W / top
    stacked = len(columns) > 1
    legend_h = (ROW_H * ((len(columns) + 2) // 3) + GAP) if stacked else 0
    height = legend_h + len(rows) * (ROW_H + GAP) + GAP
    width = LABEL_W + BAR_W + PAD + 20
    title = title or table.caption
    desc = "; ".join(f"{label}: " + ", ".join(
        f"{labels[c]} {table.cells[(r, c)].text}" for c in columns if (r, c) in table.cells)
        for r, label in rows)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-labelledby="{uid}-t {uid}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
             _defs(uid, len(columns))]
    if stacked:
        for i, c in enumerate(columns):
            x, y = (i % 3) * 180, (i // 3) * ROW_H
            parts.append(f'<rect x="{x}" y="{y + 3}" width="16" height="14" fill="url(#{uid}-p{i})" '
                         f'stroke="#1d2433" stroke-width="0.8"/><text x="{x + 22}" y="{y + 15}" class="chart-legend">'
                         f"{escape(_clip(labels[c], 26))}</text>")
    for n, (r, label) in enumerate(rows):
        y = legend_h + n * (ROW_H + GAP) + GAP
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'{escape(_clip(label))}</text>')
        x = LABEL_W
        masked = []
        for i, c in enumerate(columns):
            cell = table.cells.get((r, c))
            if cell is None:
                continue
            if cell.masked:
                masked.append(cell.text)
                continue
            v = cell.value or 0
            if not isinstance(v, (int, float)) or v <= 0:
                continue
            w = max(v * scale, 1.5)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H}" fill="url(#{uid}-p{i})" '
                         f'stroke="#1d2433" stroke-width="0.8"><title>{escape(label)} · {escape(labels[c])}: '
                         f'{escape(cell.text)}{escape(unit)}</title></rect>')
            x += w
        if stacked:
            shown = fmt_total(table, r)
        else:
            cell = table.cells.get((r, columns[0]))
            shown = cell.text if cell else ""
        if masked and not stacked:
            shown = masked[0]
        elif masked:
            shown = f"{shown} ({', '.join(masked)})" if shown else ", ".join(masked)
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" class="chart-value">{escape(shown)}{escape(unit) if shown else ""}'
                     '</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def fmt_total(table, r):
    cell = table.cells.get((r, TOTAL))
    if cell is not None:
        return cell.text
    return ""
