"""The widget's drawing outside a live notebook: a self-contained page, and a static block with no script.

- :func:`widget_page`: the front-end bundle, its stylesheet and a widget state, all inline. The page
  needs no kernel and no network: a small stand-in for the anywidget model serves the saved state to
  the same front-end module the notebook runs, so one renderer draws every arc. The widget's
  ``save_html`` writes one, and so does :meth:`FlowGraph.save` to ``.html`` (with a heatmap and a table).
- :func:`fallback_html`: the drawing as inline SVG with header and legend, no script, drawn in Python
  (:mod:`.drawing`): the ``text/html`` of the widget's display data, for front ends without the widget
  manager and for notebooks viewed without a kernel; :func:`executed_without_front_end` tells when the
  display data is only ever read that way (an executor runs the notebook).

Nothing here imports anywidget.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from ..core.style import STATIC, unbuilt_message
from ..interventions.registry import intervention_menu
from .drawing import static_html
from .requests import CONSENSUS, json_safe, strategy_menu, widget_intervention_menu

if TYPE_CHECKING:
    from ..graph.flowgraph import FlowGraph

SAVED_STATUS = "Saved page: filtering works here; recomputing needs the live widget in a notebook."

# The anywidget model interface (get/set/on/off/save_changes/send) over a plain object, in the page.
_MODEL_SHIM = """
const values = { ...state };
const handlers = new Map();
const model = {
  get: (name) => values[name],
  set(name, value) {
    values[name] = value;
    for (const fn of handlers.get(`change:${name}`) ?? []) fn();
  },
  save_changes() {},
  on(event, fn) { if (!handlers.has(event)) handlers.set(event, new Set()); handlers.get(event).add(fn); },
  off(event, fn) { handlers.get(event)?.delete(fn); },
  send() { model.set("status", "Drilling into a span edge needs the live widget in a notebook."); },
};
const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
const widget = (await import(url)).default;
widget.render({ model, el: document.getElementById("infoflow") });
"""


def _script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` in it)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def front_end() -> tuple[str, str]:
    """The built front end: the ESM bundle's source and its stylesheet.

    Raises:
        ImportError: the front end is not built.
    """
    sources = []
    for name in ("widget.js", "widget.css"):
        path = STATIC / name
        if not path.is_file():
            raise ImportError(unbuilt_message(path))
        sources.append(path.read_text(encoding="utf-8"))
    return sources[0], sources[1]


def widget_page(state: dict[str, Any], title: str, *, head: str = "", before: str = "", after: str = "") -> str:
    """The HTML page of a widget: the front end drawing ``state``, inline.

    Args:
        state: the synced traits (``graph``, ``tokens``, ``top_k``, ...), JSON data.
        title: the page title.
        head: more HTML for the ``<head>`` (styles).
        before: more HTML above the widget.
        after: more HTML below the widget.
    """
    esm, css = front_end()
    state = {**state, "status": SAVED_STATUS, "_offline": True}  # the front end disables what needs a kernel
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ margin: 16px; background: #fff; }}
{css}
</style>
{head}
</head>
<body>
{before}
<div id="infoflow"></div>
<script type="module">
const source = {_script_json(esm)};
const state = {_script_json(state)};
{_MODEL_SHIM}
</script>
{after}
</body>
</html>
"""


def graph_state(graph: FlowGraph, *, top_k: int | None = 10, threshold: float = 0.0) -> dict[str, Any]:
    """The widget state that shows ``graph`` with no widget behind it: a page's controls read their values from it.

    The controls show the intervention and strategy the graph was measured with (for a consensus graph,
    ``consensus`` with its Dampen's alpha and its corrupted prompt, if any); answer and distractor are not
    in a graph's provenance (its metric is), so their boxes stay empty.
    """
    p = graph.provenance or {}
    intervention = p.get("intervention")
    intervention = intervention if isinstance(intervention, dict) else {}
    strategy = p.get("strategy")
    strategy = strategy if isinstance(strategy, dict) else {}
    menu = intervention_menu()
    consensus = p.get("consensus") if isinstance(p.get("consensus"), dict) else None
    if consensus is not None:  # a consensus graph: the menu shows the widget's consensus entry, with its parameters
        menu = widget_intervention_menu()
        listed = consensus.get("interventions")
        compared = [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []
        intervention = {"kind": CONSENSUS}
        for key, kind in (("alpha", (int, float)), ("corrupted_prompt", str)):
            given = [item[key] for item in compared if isinstance(item.get(key), kind)]
            if given:
                intervention[key] = given[0]
    return {
        "tokens": list(graph.tokens),
        "graph": json_safe(graph.to_dict()),
        "intervention": intervention.get("kind", "zero"),
        "alpha": intervention.get("alpha", 0.5),
        "corrupted_prompt": intervention.get("corrupted_prompt", ""),
        "interventions": json_safe(menu),
        "strategy": strategy.get("name", "full"),
        "strategies": strategy_menu(),
        "threshold": threshold,
        "top_k": top_k,
        "answer": None,
        "distractor": None,
        "status": SAVED_STATUS,
        "progress": 1.0,
        "computing": False,
        "error": "",
        "selected": None,
        "selected_edge": None,
        "anatomy": None,
    }


def fallback_html(
    graph: FlowGraph | None, *, threshold: float, top_k: int | None, computing: bool, error: str = ""
) -> str:
    """The widget's ``text/html``: the graph on show drawn in Python, no script, or what is going on instead."""
    if graph is not None:
        note = "Static drawing of the widget (hover an arc for its numbers): the live widget needs a running kernel."
    elif computing:
        note = (
            "Computing the first graph… (a notebook saved now keeps this line: to keep the drawing, "
            "display the widget after widget.wait())"
        )
    else:
        note = "No graph yet."
    if error:
        note = f"{note} Last error: {error}"
    return static_html(graph, threshold=threshold, top_k=top_k, note=note)


def executed_without_front_end() -> bool:
    """Whether the IPython kernel's current request cannot take input: an executor runs the notebook, no person.

    Then what is displayed is what readers of the executed notebook see, with no live view: the widget
    waits for its graph before displaying, and redraws the displayed drawing when a graph comes later.

    nbconvert's and nbclient's executors, papermill and nbmake send ``allow_stdin: false``; JupyterLab,
    Notebook 7 and VS Code allow input. From a worker thread the kernel reports its latest request.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return False
    try:
        parent = kernel.get_parent() or {}
    except Exception:  # noqa: BLE001 - an older or unusual kernel: assume a person's front end
        return False
    if parent.get("header", {}).get("msg_type") != "execute_request":
        return False
    return parent.get("content", {}).get("allow_stdin", True) is False
