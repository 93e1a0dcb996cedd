"""The widget over a prompt set: the role graph's background computation, and what the front end draws of it.

``InfoFlowWidget(model, prompt_set)`` measures ``compute_flow_set`` in the widget's
background machinery (:class:`SetComputation`: a thread per request, progress in the status line, the cancel event,
the cache keyed by the request), and draws either the role graph's mean (:func:`drawn_graph` with ``index`` -1: one
node per label, so the roles ``IO``, ``S1``, ``S2``, ``END`` stand on the strip; each edge carries its 95% interval,
sign consistency and prompt count for the tooltip) or one prompt's own flow graph (``index`` k: its real tokens),
switched by the ``prompt_index`` trait without measuring again.

The anatomy of an edge and the drill-down into a span edge measure on one prompt's engine: a role graph's mean has
none, so both are off for a set (the tooltip says so, a ``selected_edge`` from a cell is refused with
:data:`NO_ANATOMY`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..core.errors import ComputationCancelled, InfoFlowError
from .computation import Computation, View, throttled
from .requests import CONSENSUS, Request, searches

if TYPE_CHECKING:
    import threading

    from ..graph.flowgraph import FlowGraph
    from ..graph.rolegraph import RoleGraph
    from ..text.promptset import PromptSet

MEAN = -1
"""The ``prompt_index`` of the role graph's mean (the default); 0..N-1 show one prompt's own graph."""

NO_ANATOMY = (
    "the anatomy of an edge (and the drill-down into a span edge) measures one prompt's run: a prompt set's widget "
    "does not offer it; open that prompt alone, InfoFlowWidget(model, prompt_set.prompts[k], answer=..., "
    "distractor=...)"
)
"""Why a set's widget has no anatomy panel and no drill-down."""

NO_CONSENSUS = (
    "consensus compares interventions on one prompt; a prompt set's widget measures one intervention at a time "
    "(zero, dampen, crop, corrupt, knockout)"
)


def drawn_graph(role_graph: RoleGraph, index: int) -> tuple[FlowGraph, dict[str, Any]]:
    """The flow graph drawn for ``index`` (:data:`MEAN` or a prompt) and the data the front end gets of it.

    The mean is :meth:`RoleGraph.to_flow_graph` (tokens are the labels), its edges extended with ``low``, ``high``
    (the 95% interval, null for one prompt), ``sign_consistency`` and ``n``, and its ``stats["noise_floor"]`` the
    largest of the prompts' (an average of effects under each prompt's floor is under the largest). A prompt's graph
    is its own, with ``provenance["prompt_of_set"]``: its index, the number of prompts and the template.
    """
    n = role_graph.n_prompts
    template = (role_graph.provenance.get("prompt_set") or {}).get("template")
    if index == MEAN:
        drawn = role_graph.to_flow_graph()
        data = drawn.to_dict()
        for item, edge in zip(data["edges"], role_graph.edges):
            item.update(low=edge.low, high=edge.high, sign_consistency=edge.sign_consistency, n=edge.n)
        floors = [g.stats.get("noise_floor") for g in role_graph.graphs or []]
        floors = [f for f in floors if isinstance(f, (int, float)) and math.isfinite(f)]
        if floors:
            data["stats"]["noise_floor"] = max(floors)
        data["provenance"]["role_graph"] = {"prompts": n, "template": template}
        return drawn, data
    drawn = (role_graph.graphs or [])[index]
    data = drawn.to_dict()
    data["provenance"]["prompt_of_set"] = {"index": index, "prompts": n, "template": template}
    return drawn, data


def check_prompt_index(value: Any, count: int) -> None:
    """Refuse a ``prompt_index`` that is neither -1 (the mean) nor a prompt of the set (``count`` prompts; 0: none).

    Raises:
        InfoFlowError: naming the values allowed.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not MEAN <= value < count:
        prompts = f" or a prompt 0..{count - 1}" if count else ": this widget shows one prompt"
        allowed = f"-1 (the mean over the set){prompts}"
        raise InfoFlowError(f"prompt_index must be {allowed}; got {value!r}.")


class SetComputation(Computation):
    """The measurements behind a prompt set's widget: the role graph of each request, and the view of it on show.

    Args:
        view: where graphs, status and errors go.
        model: the wrapped model.
        prompt_set: the prompts (``PromptSet``).
        layers: the layers to intervene in (None: all).
    """

    def __init__(self, view: View, model: Any, prompt_set: PromptSet, layers: list[int] | None) -> None:
        super().__init__(view, model, "", layers, math.inf)
        self.prompt_set = prompt_set
        self.index = MEAN
        self.role_graph: RoleGraph | None = None  # the role graph on show (its mean, or one prompt's graph, drawn)

    def engine(self, request: Request) -> Any:
        raise InfoFlowError("A prompt set's widget has one engine per prompt, made by compute_flow_set.")

    def clean_metric(self, request: Request) -> float | None:
        """The mean clean metric of the role graph on show (None: none yet)."""
        return None if self.graph is None else self.graph.clean_metric

    def summary(self, graph: Any, how: str) -> str:
        roles = graph if hasattr(graph, "n_prompts") else self.role_graph
        if roles is None:
            return ""
        n = roles.n_prompts
        where = f"mean over {n} prompts" if self.index == MEAN else f"prompt {self.index + 1} of {n}"
        what = f"role graph of {n} prompts, {len(roles.edges)} role edges"
        if how != "computed":
            return f"{how}: {what}, {where} on show without recomputing"
        stats = roles.stats
        cost = f"{stats.get('forward_passes', '?')} forward passes in {stats.get('seconds', '?')} s"
        return f"computed: {what}, {cost}; {where} on show"

    def _preview(self, request: Request) -> Request | None:
        return None  # an estimate of the whole set first would cost as many clean runs as the set itself

    def _compute(self, request: Request, preview: Request | None, generation: int, cancel: threading.Event) -> None:
        from ..analysis.flowset import compute_flow_set  # torch and nnsight: only once a set computes

        try:
            with self.compute_lock:
                if cancel.is_set():
                    raise ComputationCancelled("a newer request replaced this one")
                if request.intervention == CONSENSUS:
                    raise InfoFlowError(NO_CONSENSUS + ".")
                count = len(self.prompt_set)
                self._say(generation, f"role graph of {count} prompts: clean runs…", 0.0)
                roles = compute_flow_set(
                    self.model,
                    self.prompt_set,
                    request.build_intervention(),
                    strategy=request.build_strategy(),
                    layers=self.layers,
                    progress=self._set_reporter(generation, count, searches(request.strategy)),
                    cancel=cancel,
                )
        except ComputationCancelled:
            return
        except Exception as err:  # noqa: BLE001 - any failure is shown in the widget, not lost in a thread
            self._fail(generation, err)
            return
        self._publish(request, roles, generation, final=True)  # cached as a role graph, which _show (below) takes

    def _set_reporter(self, generation: int, count: int, by_prompt: bool) -> Any:
        unit = "prompts" if by_prompt else "edge measurements"  # a search runs prompt by prompt
        return throttled(
            lambda text, fraction: self._say(generation, text, fraction),
            lambda done, total, _desc: f"role graph of {count} prompts: {done} of {total} {unit}",
        )

    def _show(self, request: Request, graph: Any, status: str, *, computing: bool = False) -> None:
        """Put the role graph of ``request`` on show, as the view of ``index`` (the caller holds ``lock``)."""
        self.shown = request
        self.role_graph = graph
        if self.index >= graph.n_prompts:
            self.index = MEAN
        self._draw(status, computing)

    def _draw(self, status: str, computing: bool) -> None:
        assert self.role_graph is not None
        drawn, data = drawn_graph(self.role_graph, self.index)
        self.graph = drawn
        self.drill = [drawn]
        self._drop_anatomy()
        self.view.show(drawn, status, computing, data)

    def pick(self, index: int) -> None:
        """Draw prompt ``index`` of the role graph on show (-1: its mean), without measuring anything."""
        with self.lock:
            if self.stopped.is_set():
                return
            self.index = index
            if self.role_graph is None:
                return  # the first role graph is drawn at this index when it arrives
            if self.running is not None:
                where = "the mean" if index == MEAN else f"prompt {index + 1}"
                self._draw(f"{where} of the last role graph on show; the new parameters are computing…", True)
            else:
                self._draw(self.summary(self.role_graph, "switched"), False)

    def _fail(self, generation: int, err: Exception) -> None:
        super()._fail(generation, err)
        with self.lock:
            if generation == self.generation and self.role_graph is None:
                self.view.say("failed: no role graph to show (the error box says why)", None)

    def expand(self, content: dict[str, Any]) -> None:
        with self.lock:
            self.view.say(f"no drill-down: {NO_ANATOMY}", None)
