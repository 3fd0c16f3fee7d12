"""Small HTML building blocks: escaped tables, inline PNG figures, the page shell."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["badge", "fmt", "inline_figure", "kv_table", "page", "section", "table"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 24px auto; padding: 0 20px; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; }
h2 { font-size: 20px; border-bottom: 2px solid #e5e5e5; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 16px; margin-top: 22px; }
p.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 5px 10px; text-align: left;
         vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: white;
         font-size: 12px; font-weight: 600; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
.note { background: #fff8e6; border-left: 4px solid #E69F00; padding: 8px 12px; font-size: 14px; }
.prose { white-space: pre-wrap; background: #f8f8f8; padding: 10px 14px; font-size: 14px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
"""


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: NaN as "n/a", floats to ``digits`` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "n/a"
    if x != 0 and (abs(x) >= 10_000 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:,.{digits}f}" if abs(x) < 10 else f"{x:,.{max(digits - 2, 1)}f}"


def badge(text: str, color: str) -> str:
    """A coloured pill (decisions, claim levels)."""
    return f'<span class="badge" style="background:{color}">{html.escape(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[int] = (), raw: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped unless their column index is in ``raw``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for j, value in enumerate(row):
            text = value if j in raw else html.escape(str(value))
            cls = ' class="num"' if j in numeric else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def inline_figure(draw: Callable[[], Any], caption: str) -> str:
    """Run ``draw()`` (returns axes), embed its figure as a base64 PNG with a caption.

    A plot that cannot be drawn for this input (a ValueError saying why) becomes a note
    instead of failing the whole report.
    """
    from pytyche.viz import figure_png

    try:
        ax = draw()
    except ValueError as err:
        return f'<p class="note">{html.escape(caption)}: not shown ({html.escape(str(err))}).</p>'
    data = base64.b64encode(figure_png(ax.figure)).decode("ascii")
    alt = html.escape(caption, quote=True)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def section(title: str, *parts: str, level: int = 2) -> str:
    return f"<h{level}>{html.escape(title)}</h{level}>" + "".join(parts)


def kv_table(items: Mapping[str, Any]) -> str:
    """A two-column settings table."""
    return table(["setting", "value"], [(k, _plain(v)) for k, v in items.items()])


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def page(title: str, subtitle: str, body: str) -> str:
    """The whole self-contained document (inline CSS, no scripts, no external links)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"lead\">{html.escape(subtitle)}</p>"
        f"{body}</body></html>\n"
    )
