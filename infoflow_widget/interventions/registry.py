"""The interventions by name: what the CLI, the widget's menu and ``build_intervention`` offer."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError

if TYPE_CHECKING:
    pass


from .base import Intervention
from .corrupt import Corrupt
from .patterns import Crop, Dampen, Knockout, Zero

INTERVENTIONS: dict[str, type[Intervention]] = {
    "zero": Zero,
    "dampen": Dampen,
    "crop": Crop,
    "corrupt": Corrupt,
    "knockout": Knockout,
}
"""The interventions by ``kind``: what the CLI, the widget's menu and :func:`build_intervention` offer."""


def intervention_menu() -> list[dict[str, Any]]:
    """The interventions for menus: name, the first line of the docstring, and parameters with their defaults.

    Examples:
        >>> [item["name"] for item in intervention_menu()]
        ['zero', 'dampen', 'crop', 'corrupt', 'knockout']
        >>> intervention_menu()[1]["parameters"]
        {'alpha': 0.5}
    """
    return [
        {
            "name": name,
            "description": (cls.__doc__ or name).strip().splitlines()[0],
            "parameters": {f.name: f.default for f in fields(cls)},
        }
        for name, cls in INTERVENTIONS.items()
    ]


def build_intervention(name: str, **parameters: Any) -> Intervention:
    """The intervention called ``name`` in :data:`INTERVENTIONS`, built from its parameters.

    A parameter given as None keeps its default, so a caller may pass every parameter it has
    (``alpha=..., corrupted_prompt=...``) and set those the intervention does not take to None.

    Raises:
        InfoFlowError: an unknown name, a parameter the intervention does not take, or a bad value.

    Examples:
        >>> build_intervention("dampen", alpha=0.3, corrupted_prompt=None)
        Dampen(alpha=0.3)
    """
    if name not in INTERVENTIONS:
        raise InfoFlowError(f"intervention must be one of {', '.join(INTERVENTIONS)}; got {name!r}.")
    return INTERVENTIONS[name].build(**{key: value for key, value in parameters.items() if value is not None})
