"""Building blocks of a self-contained HTML page: escaped text, tables, embedded figures, one inline stylesheet.

The page must open from a file, a mail attachment or an air-gapped machine, so nothing is fetched: images
are base64 PNG data URIs, the CSS is inline, fonts are the system's, and there is no JavaScript. Every piece
of text that came from a file goes through ``esc`` (html.escape), including attribute values.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.files import write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; --accent:#0969da;
        --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); line-height:1.45;
       font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
h1 { font-size:22px; margin:0 0 4px; } h3 { font-size:14px; margin:18px 0 6px; } h2 { font-size:17px; margin:32px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
.sub { color:var(--muted); margin:0 0 16px; word-break:break-all; }
nav { font-size:13px; margin-bottom:8px; } nav a { color:var(--accent); margin-right:14px; text-decoration:none; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:10px; }
.card { background:var(--soft); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.card .v { font-size:18px; font-weight:600; margin-top:2px; } .card .n { color:var(--muted); font-size:12px; }
.plots { display:grid; grid-template-columns:repeat(auto-fill, minmax(520px, 1fr)); gap:16px; }
figure { margin:0; border:1px solid var(--line); border-radius:8px; padding:8px; background:#fff; }
figure img { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:12.5px; margin-top:4px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--soft); font-weight:600; } td.key, td.val { white-space:nowrap; } td.key { width:24%; } td.val { width:16%; }
code, pre, td.key, td.val { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
pre { background:var(--soft); border:1px solid var(--line); border-radius:6px; padding:10px 12px; overflow-x:auto; }
.why { color:var(--fg); } .src { color:var(--muted); font-size:12px; }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:11.5px; font-weight:600; color:#fff; }
.b-ok { background:var(--ok); } .b-warn { background:var(--warn); } .b-bad { background:var(--bad); } .b-info { background:var(--muted); }
.finding { border:1px solid var(--line); border-left-width:4px; border-radius:6px; padding:8px 12px; margin:8px 0; }
.finding.bad { border-left-color:var(--bad); } .finding.warn { border-left-color:var(--warn); } .finding.info { border-left-color:var(--muted); }
.finding .fix { margin-top:4px; } .note { color:var(--muted); font-style:italic; }
details summary { cursor:pointer; color:var(--accent); margin:8px 0; }
footer { color:var(--muted); font-size:12px; margin-top:36px; border-top:1px solid var(--line); padding-top:10px; }
"""

# The browser enforces "no network": nothing but inline styles and data: images may load.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

SEVERITY_CLASS = {"error": "bad", "warning": "warn"}  # trainwell.findings.Severity names; info is the default


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A short, readable rendering of a config or metric value (floats to 4 significant digits)."""
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "unknown"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s"
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def card(key: str, value: str, note: str = "") -> str:
    extra = f'<div class="n">{esc(note)}</div>' if note else ""
    return f'<div class="card"><div class="k">{esc(key)}</div><div class="v">{esc(value)}</div>{extra}</div>'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """A table whose cells are ALREADY-ESCAPED HTML; ``classes`` sets a class per column."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{classes[i]}">{c}</td>' if i < len(classes) and classes[i] else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bullets(items: Iterable[Any]) -> str:
    """An escaped bulleted list (a report's notes)."""
    return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>"


def badge(text: str, kind: str = "info") -> str:
    return f'<span class="badge b-{esc(kind)}">{esc(text)}</span>'


def figure(fig: Figure, alt: str, caption: str = "", dpi: int = 100) -> str:
    """A matplotlib Figure as an <img> with a base64 PNG data URI."""
    from trainwell.report.plots import to_png

    data = base64.b64encode(to_png(fig, dpi=dpi)).decode("ascii")
    w, h = (round(float(v) * dpi) for v in fig.get_size_inches())
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}" width="{w}" height="{h}">{cap}</figure>'


def finding_block(item: dict[str, Any]) -> str:
    """One finding (trainwell.findings.Finding.to_dict): severity, rule, message, evidence, fix, source."""
    severity = str(item.get("severity") or "info").lower()
    css = SEVERITY_CLASS.get(severity, "info")
    title = item.get("rule") or "finding"
    message = item.get("message") or ""
    parts = [f'<div class="finding {css}">{badge(severity, css)} <strong>{esc(title)}</strong>']
    if isinstance(item.get("step"), (int, float)):
        parts.append(f' <span class="src">from step {esc(fmt(item["step"]))}</span>')
    if message and message != title:
        parts.append(f"<div>{esc(message)}</div>")
    evidence = item.get("evidence")
    if evidence:
        parts.append(f'<div class="src">evidence: {esc(_evidence(evidence))}</div>')
    fix = item.get("fix")
    if fix:
        parts.append(f'<div class="fix"><strong>Fix:</strong> {esc(fmt(fix))}</div>')
    source = item.get("source")
    if source:
        parts.append(f'<div class="src">source: {esc(source)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _evidence(evidence: Any) -> str:
    """The doctor's evidence points ({"series", "step", "value", "label"}) as one readable line."""
    if not isinstance(evidence, list):
        return fmt(evidence)
    parts = []
    for p in evidence:
        if isinstance(p, dict) and "series" in p:
            text = f"{p['series']} = {fmt(p.get('value'))} at step {fmt(p.get('step'))}"
            parts.append(f"{p['label']}: {text}" if p.get("label") else text)
        else:
            parts.append(fmt(p))
    return "; ".join(parts)


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]], footer: str) -> str:
    """The whole document; ``sections`` are (anchor id, heading, body HTML)."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(head)}</a>' for sid, head, _ in sections if head)
    body = "".join(
        f'<section id="{esc(sid)}">' + (f"<h2>{esc(head)}</h2>" if head else "") + f"{html_}</section>" for sid, head, html_ in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body><main><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p><nav>{nav}</nav>{body}'
        f"<footer>{footer}</footer></main></body></html>\n"
    )


def footer(source: Any, version: str = "") -> str:
    """'Written by trainwell VERSION on DATE from SOURCE.', escaped; the version is left out when not given."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    writer = f"trainwell {version}" if version else "trainwell"
    return f"Written by {esc(writer)} on {esc(stamp)} from {esc(source)}."


def write_page(out: Path, document: str) -> Path:
    """Write ``document`` to ``out`` through a temporary file and a rename, so a browser never shows half a page."""
    write_text_atomic(out, document)
    return out
