"""A self-contained HTML page for the widget: the bundle, its stylesheet and its state, all inline.

The page needs no kernel and no network: a small stand-in for the anywidget model serves the saved
state to the same front-end module the notebook runs.
"""

from __future__ import annotations

import html
import json
from typing import Any

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
model.set("status", "Saved page: filtering works here; recomputing needs the live widget in a notebook.");
const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
const widget = (await import(url)).default;
widget.render({ model, el: document.getElementById("infoflow") });
"""


def _script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` in it)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def widget_page(esm: str, css: str, state: dict[str, Any], title: str) -> str:
    """The HTML page of a widget.

    Args:
        esm: the front-end module's source (an ESM with a default export holding ``render``).
        css: its stylesheet.
        state: the synced traits.
        title: the page title.
    """
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
</head>
<body>
<div id="infoflow"></div>
<script type="module">
const source = {_script_json(esm)};
const state = {_script_json(state)};
{_MODEL_SHIM}
</script>
</body>
</html>
"""
