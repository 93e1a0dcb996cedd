"""The drawing's colours and scale constants, from the one source the front end is built from.

``js/src/style.json`` holds the arc colours and the strip and arc sizes: esbuild inlines it into the
front-end bundle and the build copies it into ``infoflow_widget/static``, where this module reads it.
The light theme's colours (background, text, token boxes) are the fallbacks of the ``--if-*`` custom
properties in ``widget.css``, read from the same folder. Nothing here imports the rest of the package.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent.parent / "static"
"""The front end's build output: ``widget.js``, ``widget.css`` and ``style.json``."""

THEME_KEYS = ("bg", "fg", "muted", "border", "token")
"""The ``--if-<key>`` properties of widget.css whose light fallbacks the static drawing uses."""


def unbuilt_message(missing: Path) -> str:
    """What to do when a build output is missing."""
    return (
        f"The widget's front end is not built ({missing} is missing): run `make install`, "
        "or `npm --prefix js ci && npm --prefix js run build`."
    )


def _read(name: str) -> str:
    path = STATIC / name
    if not path.is_file():
        raise ImportError(unbuilt_message(path))
    return path.read_text(encoding="utf-8")


@functools.cache
def style() -> dict[str, Any]:
    """The parsed ``style.json``: ``colors``, ``edge``, ``strip`` and ``arcs``.

    Raises:
        ImportError: the front end is not built.
    """
    return json.loads(_read("style.json"))


@functools.cache
def theme() -> dict[str, str]:
    """The light theme's colours, by :data:`THEME_KEYS`: what the widget shows outside JupyterLab's themes.

    Raises:
        ImportError: the front end is not built, or widget.css lacks one of the properties.
    """
    found = dict(re.findall(r"--if-([a-z-]+):\s*var\(\s*--[\w-]+\s*,\s*(#[0-9a-fA-F]{3,8})\s*\)", _read("widget.css")))
    missing = [key for key in THEME_KEYS if key not in found]
    if missing:
        raise ImportError(f"widget.css defines no light fallback for --if-{missing[0]}; the static drawing needs it.")
    return {key: found[key] for key in THEME_KEYS}


def colour(name: str) -> str:
    """An arc colour of ``style.json``: ``helps``, ``hurts`` or ``nan``."""
    return style()["colors"][name]
