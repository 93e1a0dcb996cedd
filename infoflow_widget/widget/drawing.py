"""The arc diagram drawn in Python: the widget's drawing as static SVG, with its header and legend.

For places where no script runs: a notebook viewed without a kernel (``jupyter nbconvert --to html``,
GitHub, nbviewer) shows this block, which the widget puts in its display data next to the live view.
It is a port of the front end's drawing (``js/src/geometry``, ``js/src/svg``, the frame of
``js/src/context.js``: which edges, against which scale) at zoom 1 on one scrolling row, with the
colours and sizes of ``js/src/style.json`` (see :mod:`._style`);
``tests/widget/test_drawing_parity.py`` checks it against the front end's own output. Saved pages
(:meth:`InfoFlowWidget.save_html`, :meth:`FlowGraph.save` to ``.html``) run the front end itself.

Colours are SVG attributes, not CSS, so the drawing keeps them where style sheets are stripped.
"""

from __future__ import annotations

import html
import math
import re
import uuid
from typing import TYPE_CHECKING, Any

from ..core.style import colour, style, theme
from ..graph.flowgraph import strongest
from ..text.display import CONTROL, visible, xml_safe

if TYPE_CHECKING:
    from ..graph.flowgraph import Edge, FlowGraph, Node

MAX_STATIC_ARCS = 500
"""The most arcs the static drawing holds (the strongest): a graph of every token pair of a long prompt
has ~160k edges, whose arcs would make the notebook large and the drawing unreadable."""

INDEX_ROW = 12
"""Room for the position numbers under the boxes (js/src/svg/strip.js)."""

SPAN_TEXT = 48
"""Characters of a span's text in its name (js/src/format.js)."""

MARKS = (
    (re.compile(" "), "·", "a space"),
    (re.compile("\n"), "↵", "a newline"),
    (re.compile("\t"), "⇥", "a tab"),
    (re.compile(f"{CONTROL.pattern}|<0x[0-9A-F]{{2}}>"), "<0x1B>", "a control character or a byte, by its code"),
)
"""The marks of the strip, and what they stand for (js/src/panels/legend.js)."""

_MONO = "ui-monospace, 'DejaVu Sans Mono', monospace"
_SANS = "system-ui, -apple-system, 'Segoe UI', sans-serif"


def _strip(name: str) -> float:
    return style()["strip"][name]


# --- numbers as the front end writes them ----------------------------------------------------------


def js_number(value: float) -> str:
    """``String(value)`` in JavaScript: integers without a fraction, other numbers in their shortest form."""
    if value == 0:
        return "0"
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(float(value))


def js_round(value: float) -> float:
    """``Math.round(value * 10) / 10``: one decimal, halves rounded up, as the front end's paths."""
    scaled = value * 10
    floor = math.floor(scaled)
    return (floor + 1 if scaled - floor >= 0.5 else floor) / 10


def _r(value: float) -> str:
    return js_number(js_round(value))


def to_precision(value: float, digits: int) -> str:
    """``Number.prototype.toPrecision(digits)``: ``digits`` significant digits, exponential outside 1e-6..1e{digits}."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0:
        return "0" if digits == 1 else "0." + "0" * (digits - 1)
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    e = int(exponent)
    if e < -6 or e >= digits:
        return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return f"{value:.{max(0, digits - 1 - e)}f}"


def format_effect(effect: float) -> str:
    """An effect with its sign and four significant digits, as the front end's ``formatEffect``."""
    if not math.isfinite(effect):
        return "+Infinity" if effect > 0 else ("-Infinity" if effect < 0 else "NaN")
    if abs(effect) >= 1e-3 or effect == 0:
        text = to_precision(effect, 4)
    else:
        mantissa, exponent = f"{effect:.2e}".split("e")
        text = f"{mantissa}e{exponent[0]}{int(exponent[1:])}"
    return f"+{text}" if effect > 0 else text


def format_magnitude(value: float) -> str:
    """A non-negative magnitude (a scale, a noise floor) in two or three significant digits: "3.21", "3.2e-4"."""
    if not math.isfinite(value):
        return to_precision(value, 1)
    if value >= 1e-3 or value == 0:
        return js_number(float(to_precision(value, 3)))
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:])}"


def node_range(node: Node) -> str:
    """The positions of a node as the strip numbers them: "3" for a token, "3–7" for a span (both ends included)."""
    return f"{node.start}–{node.end - 1}" if node.end - node.start > 1 else str(node.start)


def span_name(tokens: list[str], start: int, end: int) -> str:
    """Positions ``start`` to ``end`` (exclusive) named as a reader finds them: "3 ·went", "3–6 ‘·went·to·the’"."""
    text = visible("".join(tokens[start:end]))
    if end - start <= 1:
        return f"{start} {text}"
    return f"{start}–{end - 1} ‘{text if len(text) <= SPAN_TEXT else text[: SPAN_TEXT - 1] + '…'}’"


def box_label(token: str, limit: int) -> str:
    """A token cut to ``limit`` characters for its box; the box's title keeps the whole text."""
    shown = visible(token)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


# --- geometry (ports of js/src/geometry, zoom 1, one row) -------------------------------------------


def layout_strip(tokens: list[str], arc_band: float = 60, below_band: float = 0) -> dict[str, Any]:
    """The token boxes on one scrolling row: ``{"boxes": [{x, y, width, height, row, band}], width, height}``."""
    margin, gap, height = _strip("margin"), _strip("gap"), _strip("boxHeight")
    boxes, x, right = [], margin, margin
    for token in tokens:
        chars = min(len(visible(str(token))), _strip("maxChars"))  # as the box shows it: "<0x1B>" for ESC
        width = max(_strip("minBox"), chars * _strip("charWidth") + _strip("boxPad"))
        boxes.append({"x": x, "width": width, "height": height, "row": 0, "band": arc_band, "y": arc_band})
        right = max(right, x + width)
        x += width + gap
    total = arc_band + height + below_band if tokens else 0
    return {"boxes": boxes, "rows": 1 if tokens else 0, "width": right + margin, "height": total}


def node_anchor(boxes: list[dict[str, Any]], node: Node) -> dict[str, float]:
    """Where arcs attach to a node: above the centre of its span's boxes."""
    first, last = boxes[node.start], boxes[max(node.end, node.start + 1) - 1]
    return {"x": (first["x"] + last["x"] + last["width"]) / 2, "y": first["y"]}


def arc_height(dx: float) -> float:
    """Control height of the arc between two anchors ``dx`` apart: grows with the distance, capped."""
    return min(style()["arcs"]["maxArc"], (14 + 0.42 * abs(dx)) * 1.0)


def arc_band(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> float:
    """Room above the strip for the tallest arc among the anchor ``pairs`` (a cubic peaks at 3/4 of it), or a loop."""
    peak = 24.0
    for source, target in pairs:
        peak = max(peak, 0.75 * arc_height(target["x"] - source["x"]))
    return peak + 10


def loop_path(anchor: dict[str, float]) -> str:
    """A self-edge: a small loop standing on the node."""
    x, y, w, h = anchor["x"], anchor["y"], 4, 22
    return f"M{_r(x - w)},{_r(y)} C{_r(x - 3 * w)},{_r(y - h)} {_r(x + 3 * w)},{_r(y - h)} {_r(x + w)},{_r(y)}"


def arc_path(source: dict[str, float], target: dict[str, float]) -> str:
    """The arc from ``source`` to ``target``: a cubic that leaves upwards and lands on the target from above."""
    if source["x"] == target["x"] and source["y"] == target["y"]:
        return loop_path(source)
    h = arc_height(target["x"] - source["x"])
    y1, y2 = source["y"] - h, target["y"] - h
    sx, sy, tx, ty = source["x"], source["y"], target["x"], target["y"]
    return f"M{_r(sx)},{_r(sy)} C{_r(sx)},{_r(y1)} {_r(tx)},{_r(y2)} {_r(tx)},{_r(ty)}"


def bracket_rows(nodes: list[Node]) -> dict[int, int]:
    """Node index -> bracket row of every span node: one row below each span that contains it."""
    spans = [(i, n) for i, n in enumerate(nodes) if n.end - n.start > 1]
    rows = {}
    for i, s in spans:
        rows[i] = sum(
            1
            for j, o in spans
            if j != i and o.start <= s.start and o.end >= s.end and (o.end - o.start > s.end - s.start or j < i)
        )
    return rows


def edge_style(effect: float, max_abs: float) -> dict[str, Any]:
    """Colour, stroke width and opacity of an edge: green helps, red hurts, NaN grey; both grow with |effect|."""
    if math.isnan(effect):
        share = 0.0
    elif not math.isfinite(effect):
        share = 1.0
    else:
        share = min(1, abs(effect) / max_abs) if max_abs > 0 else 0.0
    scale = style()["edge"]
    name = "nan" if math.isnan(effect) else "helps" if effect >= 0 else "hurts"
    return {
        "color": colour(name),
        "width": scale["minWidth"] + scale["widthRange"] * share,
        "opacity": scale["minOpacity"] + scale["opacityRange"] * share,
    }


# --- trust flags (port of js/src/flags.js) ------------------------------------------------------------

FLAGGED_TEXT = "flagged: may be damage rather than a route (hover for why)"
FADED_TEXT = "faded: sign differs between interventions"


def flag_names(edge: Edge) -> list[str]:
    """The names of an edge's trust flags (``sink``, ``damage``, ``inconsistent``); empty when nothing is suspect."""
    return [str(name) for name in getattr(edge, "flags", None) or ()]


def flag_outline(width: float) -> dict[str, Any]:
    """The dotted outline under a flagged arc of stroke ``width``: its colour, width, dashes and opacity."""
    look = style()["flags"]
    dash = f"{js_number(look['dash'])} {js_number(look['gap'])}"
    return {"color": look["color"], "width": width + look["extraWidth"], "dash": dash, "opacity": look["opacity"]}


def flagged_opacity(opacity: float, edge: Edge) -> float:
    """An arc's opacity given its flags: inconsistent arcs are faded."""
    return opacity * style()["flags"]["fade"] if "inconsistent" in flag_names(edge) else opacity


def sink_share(graph: FlowGraph, start: int, end: int) -> float | None:
    """The share of attention of the sink in positions ``start`` to ``end`` (exclusive), from ``stats["sinks"]``.

    Read as the front end reads it (``sinkShare``): ``{"positions": [...], "share": [...]}`` as the engine
    writes it, a list of ``{"position", "share"}`` or of positions, or a dict position -> share. None when
    unknown; shares above 1 are percents.
    """
    sinks = (graph.stats or {}).get("sinks")
    share_of = lambda entry: entry.get("share", entry.get("attention")) if isinstance(entry, dict) else entry  # noqa: E731
    pairs: list[tuple[Any, Any]] = []
    if isinstance(sinks, list):
        pairs = [(s.get("position", s.get("pos")), share_of(s)) if isinstance(s, dict) else (s, None) for s in sinks]
    elif isinstance(sinks, dict) and isinstance(sinks.get("positions"), list):
        shares = sinks.get("share", sinks.get("shares"))
        shares = shares if isinstance(shares, list) else []
        pairs = [(p, shares[i] if i < len(shares) else None) for i, p in enumerate(sinks["positions"])]
    elif isinstance(sinks, dict):
        pairs = [(k, share_of(v)) for k, v in sinks.items()]
    for position, share in pairs:
        try:
            inside = start <= float(position) < end
        except (TypeError, ValueError):
            continue
        if inside:
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share):
                return None
            return share / 100 if share > 1 else float(share)
    return None


def flag_reasons(graph: FlowGraph, edge: Edge) -> list[str]:
    """Why an edge is flagged: one line per flag, in words (the front end's ``flagReasons``)."""
    reasons = []
    for name in flag_names(edge):
        if name == "sink":
            source = graph.nodes[edge.source]
            share = sink_share(graph, source.start, source.end)
            percent = "" if share is None else f" (receives {share * 100:.0f}% of attention)"
            reasons.append(f"source is an attention sink{percent}: cutting it tends to break the model — “hemorrhage”")
        elif name == "damage":
            damage = getattr(edge, "damage", None)
            size = (
                f" {format_magnitude(damage)} nats"
                if isinstance(damage, (int, float)) and math.isfinite(damage)
                else ""
            )
            reasons.append(f"damage{size}: far above edges of similar effect")
        elif name == "inconsistent":
            reasons.append("sign differs between interventions")
        else:
            reasons.append(name)
    return reasons


def filter_edges(edges: list[Edge], threshold: float = 0.0, top_k: int | None = None) -> list[tuple[int, Edge]]:
    """``(index, edge)`` of the edges ``FlowGraph.filter(threshold).top(top_k)`` keeps, strongest first."""
    order = strongest([e.effect for e in edges])
    count = len(order)
    if threshold > 0:
        count = next((k for k, i in enumerate(order) if not abs(edges[i].effect) >= threshold), len(order))
    if top_k is not None:
        count = min(count, max(0, top_k))
    return [(i, edges[i]) for i in order[:count]]


def max_abs_effect(edges: list[Edge]) -> float:
    """The largest finite |effect| of ``edges`` (0 for none)."""
    return max((abs(e.effect) for e in edges if math.isfinite(e.effect)), default=0.0)


def floor_of(graph: FlowGraph) -> float:
    """The |effect| below which an effect is numerical noise, not drawn.

    That is ``stats["noise_floor"]`` when the engine gave one, else ``style.json``'s relative noise x
    max(1, |clean metric|).
    """
    given = (graph.stats or {}).get("noise_floor")
    try:
        if given is not None and math.isfinite(float(given)) and float(given) >= 0:
            return float(given)
    except (TypeError, ValueError):
        pass
    clean = abs(float(graph.clean_metric))
    return style()["noise"]["relative"] * max(1, clean if math.isfinite(clean) else 1)


def above_noise(edge: Edge, floor: float) -> bool:
    """Whether an edge's effect is measurable (NaN is: a broken measurement shows, grey)."""
    return not abs(edge.effect) < floor


def edge_scale(graph: FlowGraph, edges: list[Edge]) -> tuple[float, str]:
    """The |effect| drawn widest, and what it is.

    The clean metric's magnitude (``"clean"``), unless an effect drawn is larger or the clean metric is 0
    or not finite: then the largest drawn (``"largest"``).
    """
    largest = max_abs_effect(edges)
    clean = abs(float(graph.clean_metric))
    return (clean, "clean") if math.isfinite(clean) and clean > 0 and clean >= largest else (largest, "largest")


def frame(graph: FlowGraph, threshold: float = 0.0, top_k: int | None = None) -> dict[str, Any]:
    """What the front end draws of ``graph`` (its ``frameOf``).

    The edges threshold and top-k keep, less those under the noise floor, as ``(index, edge)`` strongest
    first (``edges``), with their ranks among all edges (``ranks``, by index); their scale (``max_abs``,
    ``basis``); the floor (``noise_floor``); how many edges it hid (``below_noise``); whether no edge
    reaches it (``all_noise``); how many edges drawn carry trust flags (``flagged``; the static drawing
    has no "hide flagged" box: it draws them all).
    """
    floor = floor_of(graph)
    kept = filter_edges(graph.edges, threshold, top_k)
    edges = [(i, e) for i, e in kept if above_noise(e, floor)]
    ranks = {i: rank for rank, (i, _) in enumerate(kept, start=1)}  # noise hides edges, ranks stay
    value, basis = edge_scale(graph, [e for _, e in edges])
    strongest_edge = filter_edges(graph.edges, 0.0, 1)
    return {
        "edges": edges,
        "ranks": ranks,
        "max_abs": value,
        "basis": basis,
        "noise_floor": floor,
        "below_noise": len(kept) - len(edges),
        "all_noise": bool(graph.edges) and not above_noise(strongest_edge[0][1], floor),
        "flagged": sum(1 for _, e in edges if flag_names(e)),
    }


def noise_note(floor: float) -> str:
    """What the drawing says when no edge of the graph reaches the noise floor."""
    return f"No edge changes the metric measurably (all |effect| < {format_magnitude(floor)})"


# --- SVG -------------------------------------------------------------------------------------------


def _attrs(**attributes: Any) -> str:
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{html.escape(str(value), quote=True)}"'
        for name, value in attributes.items()
    )


def draw_svg(
    graph: FlowGraph,
    drawn: list[tuple[int, Edge]],
    max_abs: float,
    note: str | None = None,
    ranks: dict[int, int] | None = None,
) -> str:
    """The drawing of ``graph`` with the edges ``drawn`` (see :func:`frame`), as an ``<svg>`` element.

    Args:
        graph: the graph.
        drawn: ``(index, edge)`` of the edges to draw, strongest first.
        max_abs: the |effect| drawn widest.
        note: a line written above the strip (why no arc is drawn), as the front end writes it.
        ranks: each drawn edge's rank by |effect| among all edges, by index (default: its place in ``drawn``).
    """
    t = theme()
    brackets = bracket_rows(graph.nodes)
    depth = max(brackets.values()) + 1 if brackets else 0
    below = INDEX_ROW + depth * _strip("bracketRow") + 6
    first = layout_strip(graph.tokens, arc_band=0, below_band=below)["boxes"]
    pairs = [(node_anchor(first, graph.nodes[e.source]), node_anchor(first, graph.nodes[e.target])) for _, e in drawn]
    layout = layout_strip(graph.tokens, arc_band=arc_band(pairs) if graph.tokens else 0, below_band=below)
    boxes = layout["boxes"]
    width = math.ceil(max(layout["width"], (2 * _strip("margin") + 7 * len(note)) if note else 0))
    height = math.ceil(layout["height"])
    marker = f"infoflow-static-{uuid.uuid4().hex[:8]}"  # unique in a page that shows several drawings

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="if-drawing" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        "<defs>",
    ]
    for sign, name in (("pos", "helps"), ("neg", "hurts"), ("nan", "nan")):
        out.append(
            f'<marker id="{marker}-{sign}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour(name)}"/></marker>'
        )
    defs_end = len(out)  # the masks of flag outlines go in here, once the arcs are drawn
    out.append("</defs>")
    if note:
        out.append(
            f'<text class="if-drawing-note"{_attrs(x=js_number(_strip("margin")))} y="20" font-size="13"'
            f"{_attrs(fill=t['muted'], font_family=_SANS)}>{html.escape(note)}</text>"
        )

    out.append('<g class="if-tokens">')
    for i, (token, b) in enumerate(zip(graph.tokens, boxes, strict=True)):
        cx = b["x"] + b["width"] / 2
        out.append(
            f'<g class="if-token" data-pos="{i}"><rect{_attrs(x=js_number(b["x"]), y=js_number(b["y"]))}'
            f"{_attrs(width=js_number(b['width']), height=js_number(b['height']), rx=3)}"
            f"{_attrs(fill=t['token'], stroke=t['border'])}/>"
            f'<text{_attrs(x=js_number(cx), y=js_number(b["y"] + b["height"] / 2))} font-size="12" '
            f'text-anchor="middle" dominant-baseline="central"{_attrs(fill=t["fg"], font_family=_MONO)}>'
            f"{html.escape(box_label(token, int(_strip('maxChars'))))}</text>"
            f'<text class="if-index"{_attrs(x=js_number(cx), y=js_number(b["y"] + b["height"] + 9))} font-size="8.5" '
            f'text-anchor="middle"{_attrs(fill=t["muted"], font_family=_SANS)}>{i}</text>'
            f"<title>token {i} {html.escape(visible(token))}</title></g>"
        )
    out.append("</g>")

    out.append('<g class="if-brackets">')
    for i, row in brackets.items():
        node = graph.nodes[i]
        first_box, last_box = boxes[node.start], boxes[node.end - 1]
        x1, x2 = first_box["x"], last_box["x"] + last_box["width"]
        y = first_box["y"] + first_box["height"] + (INDEX_ROW + 4 + row * _strip("bracketRow"))
        out.append(
            f'<g class="if-bracket" data-node="{i}"><path d="M{js_number(x1 + 1)},{js_number(y)} v4 '
            f'H{js_number(x2 - 1)} v-4" fill="none"{_attrs(stroke=t["muted"])} stroke-width="1.2"/>'
            f'<text{_attrs(x=js_number((x1 + x2) / 2), y=js_number(y + 4 + 9))} font-size="9" text-anchor="middle"'
            f"{_attrs(fill=t['muted'], font_family=_MONO)}>{node_range(node)}</text></g>"
        )
    out.append("</g>")

    out.append('<g class="if-arcs">')
    ranks = ranks or {index: rank for rank, (index, _) in enumerate(drawn, start=1)}
    masks: list[str] = []
    for index, edge in reversed(drawn):  # the weakest first, so the strongest arcs lie on top
        source, target = graph.nodes[edge.source], graph.nodes[edge.target]
        look = edge_style(edge.effect, max_abs)
        sign = "nan" if math.isnan(edge.effect) else "pos" if edge.effect >= 0 else "neg"
        names = [span_name(graph.tokens, n.start, n.end) for n in (source, target)]
        estimate = ' stroke-dasharray="5 3" data-estimate=""' if not edge.exact else ""
        value = "first-order estimate, not measured" if not edge.exact else "exact (measured)"
        title = f"{names[0]} → {names[1]}: effect {format_effect(edge.effect)}, rank {ranks[index]} of "
        title += f"{len(graph.edges)}, {value}"
        d = arc_path(node_anchor(boxes, source), node_anchor(boxes, target))
        ends = _attrs(data_index=index, data_source=source.label, data_target=target.label)
        flags = flag_names(edge)
        if flags:  # may be damage rather than a route: a dotted outline under the arc, which keeps its colour
            title += "; flagged: " + "; ".join(flag_reasons(graph, edge))
            outline, mask = flag_outline(look["width"]), f"{marker}-flag-{index}"
            # Masked where the arc lies: the dots show only beside it, and the arc keeps its colour however faint.
            masks.append(
                f'<mask id="{mask}" maskUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}">'
                f'<rect width="{width}" height="{height}" fill="white"/>'
                f'<path d="{d}" fill="none" stroke="black"{_attrs(stroke_width=js_number(look["width"]))}/></mask>'
            )
            out.append(
                f'<path class="if-flag-outline" d="{d}"{_attrs(stroke=outline["color"])}'
                f"{_attrs(stroke_width=js_number(outline['width']), stroke_opacity=js_number(outline['opacity']))}"
                f'{_attrs(stroke_dasharray=outline["dash"])} fill="none"'
                f' mask="url(#{mask})" pointer-events="none"{ends}/>'
            )
        opacity = flagged_opacity(look["opacity"], edge)  # inconsistent arcs are faded
        out.append(
            f'<path class="if-arc" d="{d}"'
            f"{_attrs(stroke=look['color'], stroke_width=js_number(look['width']))}"
            f'{_attrs(stroke_opacity=js_number(opacity))} fill="none" marker-end="url(#{marker}-{sign})"'
            f"{estimate}{_attrs(data_flags=' '.join(flags)) if flags else ''}"
            f"{ends}{_attrs(data_rank=ranks[index])}>"
            f"<title>{html.escape(title)}</title></path>"
        )
    out[defs_end:defs_end] = masks
    out.append("</g></svg>")
    return "".join(out)


# --- header and legend (ports of js/src/panels) ------------------------------------------------------


def estimate_summary(graph: FlowGraph) -> str:
    """The header's line on estimates: how much of the graph is estimated, and the agreement stats if any."""
    estimated = sum(1 for e in graph.edges if not e.exact)
    if estimated == 0:
        return ""
    total = len(graph.edges)
    parts = [
        "estimate: every edge is a first-order estimate (dashed)"
        if estimated == total
        else f"partly estimated: {total - estimated} of {total} edges verified exactly, "
        f"{estimated} first-order estimates (dashed)"
    ]
    agreement = (graph.stats or {}).get("agreement") or {}
    if agreement.get("verified"):
        r = "–" if agreement.get("correlation") is None else f"{float(agreement['correlation']):.3f}"
        overlap = agreement.get("top10_overlap")
        overlap_text = "" if overlap is None else f", top-10 overlap {overlap} of 10"
        parts.append(f"estimate vs exact on {agreement['verified']} verified: correlation {r}{overlap_text}")
    return " · ".join(parts)


def header_html(graph: FlowGraph, shown: int) -> str:
    """What is measured under which intervention, the clean metric, counts and cost: the widget's header."""
    p, s = graph.provenance or {}, graph.stats or {}
    metric = html.escape(str(p.get("metric", "metric")))
    intervention = html.escape(str(p.get("intervention_text", "")))
    facts = [
        f"clean metric {format_effect(graph.clean_metric).lstrip('+')}",
        f"{len(graph.tokens)} tokens · {len(graph.edges)} edges measured, {shown} shown",
    ]
    if s.get("forward_passes") is not None:
        seconds = s.get("seconds")
        seconds = js_number(seconds) if isinstance(seconds, (int, float)) else seconds
        facts.append(f"{s['forward_passes']} forward passes, {seconds} s")
    spans = "".join(f'<span style="margin-right:14px">{html.escape(fact)}</span>' for fact in facts)
    estimates = estimate_summary(graph)
    estimate_line = f'<div class="if-estimate"><i>{html.escape(estimates)}</i></div>' if estimates else ""
    return (
        f'<div class="if-header" style="margin-bottom:6px"><div class="if-what" style="font-size:13.5px">'
        f'<b style="font-family:{_MONO}">{metric}</b> under <span>{intervention}</span></div>'
        f'<div class="if-facts"{_attrs(style="color:" + theme()["muted"])}>{spans}</div>{estimate_line}</div>'
    )


def scale_text(value: float, basis: str) -> str:
    """What the widest arc stands for: "width and opacity: |effect| relative to 3.21 (...)"."""
    if not value:
        return "width and opacity: |effect| (no arc drawn)"
    what = "the clean metric's magnitude" if basis == "clean" else "the largest |effect| drawn"
    return f"width and opacity: |effect| relative to {format_magnitude(value)} ({what})"


def legend_html(graph: FlowGraph, shown: dict[str, Any]) -> str:
    """The widget's legend for what ``shown`` (a :func:`frame`) draws of ``graph``.

    Colour is the sign of an effect, width and opacity its magnitude against a stated scale; what is not
    drawn; dashes for estimates; a dotted outline for flagged arcs (faded: inconsistent); the strip's
    whitespace marks.
    """

    def sample(color: str, width: float, opacity: float, dash: str = "none") -> str:
        return (
            f'<svg width="34" height="12" style="vertical-align:middle"><path d="M2,10 C2,1 32,1 32,10" fill="none" '
            f'stroke="{color}" stroke-width="{width}" stroke-opacity="{opacity}" stroke-dasharray="{dash}"/></svg>'
        )

    items = [
        f"{sample(colour('helps'), 3, 0.9)} helps the metric (effect &gt; 0)",
        f"{sample(colour('hurts'), 3, 0.9)} hurts it (effect &lt; 0)",
        f"{sample('currentColor', 1, 0.5)}{sample('currentColor', 5.5, 0.95)} "
        + html.escape(scale_text(shown["max_abs"], shown["basis"])),
    ]
    if shown["below_noise"] > 0 or shown["all_noise"]:
        count = shown["below_noise"]
        hidden = f" ({count} edge{'' if count == 1 else 's'})" if count > 0 else ""
        items.append(f"not drawn: |effect| &lt; {format_magnitude(shown['noise_floor'])}, numerical noise{hidden}")
    items.append("arcs run source → target (arrowhead)")
    if any(not e.exact for e in graph.edges):
        items.append(f"{sample('currentColor', 2, 0.8, '5 3')} dashed: first-order estimate, not measured")
    drawn = [e for _, e in shown["edges"]]
    outline = flag_outline(2)

    def flagged_sample(opacity: float | str) -> str:
        under = (
            f'<path d="M2,10 C2,1 32,1 32,10" fill="none" stroke="{outline["color"]}" '
            f'stroke-width="{js_number(outline["width"])}" stroke-opacity="{js_number(outline["opacity"])}" '
            f'stroke-dasharray="{outline["dash"]}"/>'
        )
        # The outline shows only beside the arc: the drawing masks it where the arc lies, here the background covers it.
        arc = '<path d="M2,10 C2,1 32,1 32,10" fill="none" stroke="{}" stroke-width="2" stroke-opacity="{}"/>'
        over = arc.format(theme()["bg"], 1) + arc.format("currentColor", opacity)
        return f'<svg width="34" height="14" style="vertical-align:middle">{under}{over}</svg>'

    if any(flag_names(e) for e in drawn):
        items.append(f"{flagged_sample(0.8)} {html.escape(FLAGGED_TEXT)}")
    if any("inconsistent" in flag_names(e) for e in drawn):
        items.append(f"{flagged_sample(js_number(0.8 * style()['flags']['fade']))} {html.escape(FADED_TEXT)}")
    marks = [(mark, meaning) for char, mark, meaning in MARKS if any(char.search(str(t)) for t in graph.tokens)]
    if marks:
        items.append(html.escape("in tokens: " + ", ".join(f"{mark} {meaning}" for mark, meaning in marks)))
    spans = "".join(f'<span style="margin-right:18px;white-space:nowrap">{item}</span>' for item in items)
    return f'<div class="if-legend"{_attrs(style="margin-top:6px;color:" + theme()["muted"])}>{spans}</div>'


def static_html(
    graph: FlowGraph | None,
    *,
    threshold: float = 0.0,
    top_k: int | None = None,
    note: str = "",
) -> str:
    """The widget's drawing as one HTML block with no script: header, the arcs as inline SVG, legend.

    Args:
        graph: the graph on show; None draws only ``note`` (say, that the first graph is computing).
        threshold: draw edges with ``|effect| >= threshold``.
        top_k: draw the ``top_k`` strongest of those (None: all, up to :data:`MAX_STATIC_ARCS`).
        note: a line under the drawing.
    """
    t = theme()
    root = (
        f"color:{t['fg']};background:{t['bg']};border:1px solid {t['border']};border-radius:6px;"
        f"padding:10px 12px;font-family:{_SANS};font-size:12.5px;max-width:100%;box-sizing:border-box"
    )
    parts = []
    if graph is not None:
        shown = frame(graph, threshold, top_k)
        drawn = shown["edges"][:MAX_STATIC_ARCS]
        parts.append(header_html(graph, len(drawn)))
        note_in_drawing = noise_note(shown["noise_floor"]) if shown["all_noise"] else None
        svg = draw_svg(graph, drawn, shown["max_abs"], note_in_drawing, shown["ranks"])
        parts.append(f'<div class="if-canvas" style="overflow:auto;max-height:640px">{svg}</div>')
        parts.append(legend_html(graph, shown))
        if len(shown["edges"]) > len(drawn):
            held = f"The static drawing holds the {len(drawn)} strongest of the {len(shown['edges'])} edges."
            note = f"{held} {note}".strip()
    if note:
        note_style = _attrs(style="margin-top:4px;color:" + t["muted"])
        parts.append(f'<div class="if-note"{note_style}>{html.escape(note)}</div>')
    return xml_safe(f'<div class="if-root if-static"{_attrs(style=root)}>{"".join(parts)}</div>')
