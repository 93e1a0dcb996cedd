"""The Jupyter widget: an arc diagram of a FlowGraph whose controls recompute it off the kernel's thread.

The widget is a traitlets shell over these parts, one concern each:

- :mod:`._widget_request`: what the control values ask to measure (a :class:`Request`: equal requests
  share one cached graph) and the checks of the constructor's arguments.
- :mod:`._widget_compute`: the background computation (threads, generations, cancel events, the cache,
  the clean-run engines, drill-downs), stopped at interpreter exit and when the widget is closed.
- :mod:`._widget_set`: a :class:`PromptSet`'s role graph instead of one prompt's graph (its computation, and the
  mean or one prompt drawn, by ``prompt_index``).
- :mod:`._html_export`: the drawing outside a live notebook: the self-contained page of
  :meth:`InfoFlowWidget.save_html`, and the static block in the display data.

How a control in the browser becomes a new drawing: the control writes a trait (the front end
debounces sliders by 300 ms); an observer freezes the parameters that change the measurement into a
request; the computation shows it from the cache or measures it in a thread (see ``_widget_compute``),
and the graph it puts on show lands in the ``graph`` trait. Threshold and top-k of a graph of every
token edge are filtered in the browser, without a round trip.

The display data holds the live view and, as ``text/html``, the drawing as inline SVG with header and
legend and no script (:func:`._html_export.fallback_html`). Front ends with the widget manager show the
live widget; a notebook viewed without a kernel (``jupyter nbconvert --to html``, GitHub, nbviewer)
shows the drawing. When the request being executed cannot take input (an executor such as nbconvert's,
papermill or nbmake rather than a person's front end), displaying the widget waits for the running
computation, and every graph computed later updates the displayed drawing (by display id), so an
executed notebook holds the drawing of the graph last on show.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import anywidget
import traitlets

from ..core.errors import InfoFlowError
from ..core.files import write_atomic
from ..core.style import STATIC, unbuilt_message
from ..engine.models import load_model
from ..graph.anatomy import Anatomy
from ..graph.flowgraph import FlowGraph
from ..graph.rolegraph import RoleGraph
from ..interventions.registry import intervention_menu
from ..text.promptset import PromptSet
from .computation import ESTIMATE_SHOWN, Computation
from .page import executed_without_front_end, fallback_html, widget_page
from .requests import (
    CONSENSUS,
    ESTIMATED_FIRST,
    INTERVENTION_NAMES,
    Request,
    check_arguments,
    check_control,
    check_selected_edge,
    default_threshold,
    json_safe,
    prunes,
    searches,
    strategy_menu,
    widget_intervention_menu,
)
from .sets import MEAN, NO_ANATOMY, NO_CONSENSUS, SetComputation, check_prompt_index

for _built in ("widget.js", "widget.css", "style.json"):
    if not (STATIC / _built).is_file():
        raise ImportError(unbuilt_message(STATIC / _built))

__all__ = [
    "ESTIMATED_FIRST",
    "ESTIMATE_SHOWN",
    "INTERVENTION_NAMES",
    "STATIC",
    "InfoFlowWidget",
    "json_safe",
    "prunes",
    "strategy_menu",
    "widget_intervention_menu",
]


def _optional_dict() -> traitlets.TraitType[dict[str, Any] | None, dict[str, Any] | None]:
    """A synced dict trait that may be None (its default): traitlets' types leave Dict's allow_none out."""
    trait = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    return cast("traitlets.TraitType[dict[str, Any] | None, dict[str, Any] | None]", trait)


class InfoFlowWidget(anywidget.AnyWidget):
    """An interactive information-flow graph: arcs between token positions, recomputed from its controls.

    Args:
        model: a model from :func:`load_model`, or its name (``"smollm2-135m"``), loaded without progress bars.
        prompt: the clean prompt, or a :class:`PromptSet`: the widget then draws the set's role graph
            (``compute_flow_set``), its roles (``IO``, ``S1``, ``S2``, ``END``) as the
            strip's tokens and each arc the mean effect over the prompts (the tooltip gives its 95% interval and
            sign consistency); ``prompt_index`` steps through the prompts' own graphs. Each prompt's answer and
            distractor come from the set (``answer`` and ``distractor`` stay None); the controls recompute the whole
            set in the background; consensus, the anatomy and the drill-down need one prompt and are off.
        answer: the token the model should predict (``" Mary"``); with ``distractor`` the metric is
            their logit difference, alone its log-probability; neither gives the KL divergence.
        distractor: the token it should not predict (``" John"``).
        intervention: ``"zero"``, ``"dampen"``, ``"crop"``, ``"corrupt"``, ``"knockout"``, or ``"consensus"``: Zero,
            Dampen(alpha) and Knockout (and Corrupt when ``corrupted_prompt`` is given) compared, Zero's graph
            shown with the edges whose signs disagree flagged ``inconsistent`` (drawn faded; see
            :mod:`infoflow_widget.analysis.consensus`).
        alpha: the dampening factor of ``"dampen"`` and of the consensus's Dampen (0 to 2 on the slider).
        corrupted_prompt: the prompt ``"corrupt"`` patches from, of the same token length (for ``"consensus"``:
            adds Corrupt to the interventions compared).
        strategy: a name from ``STRATEGIES``: ``"full"``, a search strategy (``"backtrack"``, ``"bisect"``,
            ``"split"``, ``"backtrack-bisect"``), ``"attribution"`` (first-order estimates of every edge) or
            ``"attribution-then-exact"`` (estimates, the strongest verified exactly). Full and
            attribution-then-exact show the estimate first, dashed, while the exact values compute
            (full only while its exact graph is slow: see ``preview_seconds``).
        threshold: edges shown have ``|effect| >= threshold``; search strategies also prune with it. By default
            0, or for a search strategy 10% of |clean metric| (:func:`._widget_request.default_threshold`). Choosing a
            search strategy while the threshold is 0 sets that default too (a search at 0 measures every edge,
            slower than ``full``); going back to a strategy that keeps every edge puts an untouched default back to
            0. The status line says what the threshold did: edges measured, and skipped.
        top_k: how many of the strongest edges are drawn (None: all).
        layers: the layers to intervene in (default: all).
        preview_seconds: a full graph whose last computation in this widget took longer than this
            shows the attribution estimate first (0: always; the first full graph always does).

    Raises:
        InfoFlowError: bad input, found before anything is computed.
        TypeError: an unknown keyword argument.

    Examples:
        >>> widget = InfoFlowWidget("smollm2-135m", "When Mary and John went to the store, John gave a book to",
        ...                         answer=" Mary", distractor=" John")
        >>> widget  # shows it; the graph computes in the background
        >>> widget.wait().top(10).to_pandas()
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The prompt's tokens, each decoded on its own. Type: list[str]. Default: []."""
    graph = _optional_dict()
    """The graph on show, as :meth:`FlowGraph.to_dict`. Type: dict | None. Default: None until computed."""
    intervention = traitlets.Unicode("zero").tag(sync=True)
    """An intervention (``zero``, ``dampen``, ``crop``, ``corrupt``, ``knockout``) or ``consensus``. Type: str.
    Default: ``"zero"``."""
    alpha = traitlets.Float(0.5).tag(sync=True)
    """Dampening factor for ``dampen``. Type: float. Default: 0.5."""
    corrupted_prompt = traitlets.Unicode("").tag(sync=True)
    """The prompt ``corrupt`` patches keys and values from. Type: str. Default: ``""``."""
    interventions = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    """The intervention menu, as ``intervention_menu`` plus the ``consensus``
    entry (:func:`widget_intervention_menu`): name, description, parameters with defaults. Type: list[dict]."""
    strategy = traitlets.Unicode("full").tag(sync=True)
    """A name from ``STRATEGIES``. Type: str. Default: ``"full"``."""
    strategies = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    """The strategy menu, as :func:`strategy_menu`: name, description, prunes. Type: list[dict]."""
    threshold = traitlets.Float(0.0).tag(sync=True)
    """Smallest ``|effect|`` drawn; search strategies also prune with it. Type: float. Default: 0.0."""
    top_k = traitlets.Int(10, allow_none=True).tag(sync=True)
    """How many of the strongest edges are drawn; None draws all. Type: int | None. Default: 10."""
    answer = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The expected next token. Type: str | None. Default: None."""
    distractor = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The competing next token. Type: str | None. Default: None."""
    status = traitlets.Unicode("").tag(sync=True)
    """What the widget is doing, in words. Type: str. Default: ``""``."""
    progress = traitlets.Float(0.0).tag(sync=True)
    """Fraction done of the running computation, 0 to 1. Type: float. Default: 0.0."""
    computing = traitlets.Bool(False).tag(sync=True)
    """Whether a computation is running. Type: bool. Default: False."""
    error = traitlets.Unicode("").tag(sync=True)
    """The last failure, shown in the widget; empty when all is well. Type: str. Default: ``""``."""
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    """The token position pinned by a click in the drawing; a new graph on show unpins it (here and in every view).
    Type: int | None. Default: None."""
    selected_edge = _optional_dict()
    """The edge whose anatomy is open below the drawing: ``{"source": i, "target": j}``, node indices of an edge of
    the graph on show (``"level": k`` for one inside the k-th drill-down); a click on an arc (or Enter on it) sets it,
    and so may a cell: a value that names no edge on show is refused (and shown in the error box). A new graph on show
    unselects it. Type: dict | None. Default: None."""
    anatomy = _optional_dict()
    """The anatomy panel's data for ``selected_edge``: ``{"edge": ..., "status": "computing"}`` while it is measured,
    then ``"status": "done"`` with :meth:`Anatomy.to_dict` (effects by layer, by head, by window), ``top_heads``,
    ``lens`` (the logit lens of the source and of the target: :meth:`LogitLens.to_dict`), or ``"status": "failed"``
    (the message is in ``error``); None when no edge is selected. See :attr:`anatomy_object`. Type: dict | None."""

    prompts = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The prompts of the set on show (the front end's prompt stepper lists them); empty for one prompt.
    Type: list[str]. Default: []."""
    prompt_index = traitlets.Int(MEAN).tag(sync=True)
    """Which graph of a prompt set is drawn: -1 the mean over the prompts (the role graph), k the k-th prompt's own
    graph (its real tokens), switched without measuring again; always -1 for one prompt. Type: int. Default: -1."""

    def __init__(
        self,
        model: Any,
        prompt: str | PromptSet,
        *,
        answer: str | None = None,
        distractor: str | None = None,
        intervention: str = "zero",
        alpha: float = 0.5,
        corrupted_prompt: str = "",
        strategy: str = "full",
        threshold: float | None = None,
        top_k: int | None = 10,
        layers: list[int] | None = None,
        preview_seconds: float = 1.0,
        **unknown: Any,
    ) -> None:
        check_arguments(unknown, threshold, top_k, preview_seconds)
        model = load_model(model, quiet=True) if isinstance(model, str) else model  # no bar above the widget (Voila)
        self._prompt_set = prompt if isinstance(prompt, PromptSet) else None
        if self._prompt_set is not None and (answer is not None or distractor is not None):
            raise InfoFlowError(
                "A prompt set carries each prompt's answer and distractor: leave answer= and distractor= out."
            )
        self._prompt = f"role graph of {len(prompt)} prompts" if isinstance(prompt, PromptSet) else prompt
        self._auto_threshold: float | None = None  # the threshold a search strategy was given by default
        self._ready = False  # the constructor's own trait assignments trigger nothing
        self._displayed = False  # whether _ipython_display_ published the display data under _display_id
        self._static_drawn = False  # whether the displayed static drawing holds a graph (see _update_display)
        self._selection: dict[str, Any] | None = None  # the selected_edge last accepted (see _valid_selected_edge)
        if isinstance(prompt, PromptSet):
            self._computation: Computation = SetComputation(_TraitView(self), model, prompt, layers)
        else:
            self._computation = Computation(_TraitView(self), model, prompt, layers, preview_seconds)
        super().__init__(
            answer=answer,
            distractor=distractor,
            intervention=intervention,
            alpha=alpha,
            corrupted_prompt=corrupted_prompt,
            strategy=strategy,
            threshold=0.0 if threshold is None else threshold,
            top_k=top_k,
        )
        request = self._request()
        if self._prompt_set is not None:
            self._start_set(request)
            return
        # Everything the engine checks (prompt, answer tokens, corrupted length, layers) fails here,
        # in the caller's cell; later failures from the controls go to the `error` trait instead.
        try:
            request.build_strategy()
            engine = self._computation.engine(request)
            for built in request.build_interventions():
                engine.with_intervention(built)  # a corrupted prompt's length, say
        except BaseException:
            self.close()  # no model left behind in the front end for a widget that never was
            raise
        if threshold is None and searches(strategy):
            self._auto_threshold = default_threshold(engine.clean_metric) or None
            self.threshold = self._auto_threshold or 0.0
            request = self._request()
        self.tokens = engine.tokens
        self.on_msg(self._on_message)
        self._ready = True
        self._computation.refresh(request)

    def _start_set(self, request: Request) -> None:
        """Start a prompt set's role graph.

        Its parameters are checked here; the set itself (its answers' tokens, its roles) by the computation, whose
        failures land in the error box.
        """
        prompt_set = self._prompt_set
        assert prompt_set is not None
        try:
            request.build_strategy()
            if request.intervention == CONSENSUS:
                raise InfoFlowError(NO_CONSENSUS + ".")
            request.build_intervention()
        except BaseException:
            self.close()
            raise
        self.set_trait("interventions", json_safe(intervention_menu()))  # no consensus for a set
        self.prompts = list(prompt_set.prompts)
        self.tokens = _set_tokens(prompt_set, self._computation.model)
        self.on_msg(self._on_message)
        self._ready = True
        self._computation.refresh(request)

    def _request(self) -> Request:
        """The request of the controls; a set's prompts carry their own answers, so its answer traits do not count."""
        request = Request.of(self)
        if self._prompt_set is not None:
            request = replace(request, answer=None, distractor=None)
        return request

    def __repr__(self) -> str:
        if self._prompt_set is not None:
            return (
                f"InfoFlowWidget({len(self._prompt_set)} prompts, intervention={self.intervention!r}, "
                f"strategy={self.strategy!r})"
            )
        return (
            f"InfoFlowWidget({len(self.tokens)} tokens, intervention={self.intervention!r}, strategy={self.strategy!r})"
        )

    @property
    def graph_object(self) -> FlowGraph | None:
        """The :class:`FlowGraph` on show (None until the first computation ends)."""
        return self._computation.graph

    @property
    def role_graph(self) -> RoleGraph | None:
        """The :class:`RoleGraph` on show for a prompt set (None for one prompt, or until the first one ends)."""
        return getattr(self._computation, "role_graph", None)

    @property
    def anatomy_object(self) -> Anatomy | None:
        """The ``Anatomy`` of the selected edge (None: none, or still measuring)."""
        return self._computation.anatomy

    @property
    def preview_seconds(self) -> float:
        """Full graphs that last took longer than this many seconds show the estimate first."""
        return self._computation.preview_seconds

    @preview_seconds.setter
    def preview_seconds(self, value: float) -> None:
        check_arguments({}, 0.0, None, value)
        self._computation.preview_seconds = value

    @traitlets.default("strategies")
    def _default_strategies(self) -> list[dict[str, Any]]:
        return strategy_menu()

    @traitlets.default("interventions")
    def _default_interventions(self) -> list[dict[str, Any]]:
        return json_safe(widget_intervention_menu())

    @traitlets.validate("threshold", "top_k")
    def _valid_control(self, proposal: dict[str, Any]) -> Any:
        # A bad value from a cell raises there; from the front end it lands in the error box. Either way the
        # trait keeps its last good value, so the graph on show stays.
        try:
            check_control(proposal["trait"].name, proposal["value"])
        except InfoFlowError as err:
            self.error = str(err)
            raise
        return proposal["value"]

    @traitlets.validate("selected_edge")
    def _valid_selected_edge(self, proposal: dict[str, Any]) -> Any:
        # Refused in a cell (raised there), and in the error box either way; the trait keeps its last value. A value
        # from the front end arrives under hold_trait_notifications (set_state), which would keep a value refused by
        # anything but a TraitError: there the last selection comes back instead, and goes back to the front end.
        try:
            if self._prompt_set is not None and proposal["value"] is not None:
                raise InfoFlowError(NO_ANATOMY[0].upper() + NO_ANATOMY[1:] + ".")
            check_selected_edge(proposal["value"], self._computation.drill)
        except InfoFlowError as err:
            self.error = str(err)
            if self._cross_validation_lock:
                return self._selection
            raise
        return proposal["value"]

    @traitlets.validate("prompt_index")
    def _valid_prompt_index(self, proposal: dict[str, Any]) -> Any:
        # As selected_edge: refused in a cell, in the error box either way; from the front end the last value stays.
        try:
            check_prompt_index(proposal["value"], len(self.prompts))
        except InfoFlowError as err:
            self.error = str(err)
            if self._cross_validation_lock:
                return self.prompt_index
            raise
        return proposal["value"]

    @traitlets.observe("prompt_index")
    def _on_prompt_index(self, change: dict[str, Any]) -> None:
        if self._ready and isinstance(self._computation, SetComputation):
            self._computation.pick(change["new"])

    @traitlets.observe("selected_edge")
    def _on_selected_edge(self, change: dict[str, Any]) -> None:
        if self._ready and change["new"] != self._selection:
            self._selection = change["new"]
            self._computation.select(change["new"])

    @traitlets.observe("intervention", "alpha", "corrupted_prompt", "strategy", "threshold", "answer", "distractor")
    def _on_parameter(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["name"] == "strategy" and self._threshold_follows(change["old"], change["new"]):
            return  # the threshold changed, and its own notification recomputed
        self._computation.refresh(self._request())

    def _threshold_follows(self, old: str, new: str) -> bool:
        """Set the threshold that follows a change of strategy; return whether it changed.

        A search strategy chosen at threshold 0 gets its default threshold; an untouched default goes back to 0
        when the strategy keeps every edge again.
        """
        if searches(new) and self.threshold == 0:
            clean, shown = self._computation.clean_metric(self._request()), self._computation.graph
            edges = shown.edges if shown is not None and not clean else []  # the KL divergence's clean metric is 0
            largest = max((abs(e.effect) for e in edges if math.isfinite(e.effect)), default=0.0)
            value = default_threshold(clean, largest)
        elif searches(old) and not searches(new) and self.threshold == self._auto_threshold:
            value = 0.0
        else:
            return False
        if value == self.threshold:
            return False
        self._auto_threshold = value or None
        self.threshold = value
        return True

    @traitlets.observe("threshold", "top_k")
    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._ready and not self.computing:
            self._update_display()  # what the static drawing shows changed too

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: list[Any]) -> None:
        if content.get("type") == "expand":
            self._computation.expand(content)

    def wait(self, timeout: float | None = None) -> FlowGraph | RoleGraph | None:
        """Block until the current computation ends, and return the graph on show (a prompt set's: its RoleGraph).

        For scripts and tests: in a notebook the widget updates by itself.

        Args:
            timeout: seconds to wait at most (None: as long as it takes).

        Raises:
            InfoFlowError: the computation failed (the message is also in :attr:`error`).
        """
        self._computation.wait(timeout)
        if self.error:
            raise InfoFlowError(self.error)
        return self.role_graph if self._prompt_set is not None else self.graph_object

    def close(self) -> None:
        """Stop the computations (cancelled, then waited for) and close the widget's comm; its views go."""
        computation = getattr(self, "_computation", None)  # None: the constructor refused its arguments
        if computation is not None:
            computation.stop()
        super().close()

    # --- export and display ----------------------------------------------------------------------

    def save_html(self, path: str | Path) -> Path:
        """Write a self-contained page that renders the widget without a kernel, offline.

        The page inlines the front-end bundle and the widget's state; the controls still filter,
        but recomputing needs the live widget. The file is written atomically.

        Args:
            path: the ``.html`` file to write.

        Returns:
            The path written.
        """
        # This class's own traits: not ipywidgets' (layout, tooltip, ...) nor anywidget's private ones (_esm, ...).
        inherited = set(anywidget.AnyWidget.class_trait_names(sync=True))
        names = [n for n in self.trait_names(sync=True) if n not in inherited and not n.startswith("_")]
        state = {name: getattr(self, name) for name in sorted(names)}
        path = Path(path)
        write_atomic(path, widget_page(state, f"infoflow: {self._prompt[:60]}"))
        return path

    def _fallback(self) -> str:
        return fallback_html(
            self.graph_object, threshold=self.threshold, top_k=self.top_k, computing=self.computing, error=self.error
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The live view for front ends with the widget manager, and the static drawing as ``text/html``."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            bundle = {"text/plain": repr(self)}
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "text/html": self._fallback()}, metadata

    def _bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # ipywidgets' close() sets the instance's _repr_mimebundle_ to None: a closed widget shows only its drawing.
        if callable(self._repr_mimebundle_):
            return self._repr_mimebundle_()
        return {"text/plain": repr(self), "text/html": self._fallback()}, {}

    @property
    def _display_id(self) -> str:
        return f"infoflow-{self.model_id}"

    def _ipython_display_(self) -> None:
        """Display under this widget's display id, so that a computed graph can update the static drawing."""
        from IPython.display import display

        if executed_without_front_end():
            self._computation.wait()  # an executed notebook keeps the drawing, not "computing"
        data, metadata = self._bundle()
        display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = True
        self._static_drawn = self.graph_object is not None and not self.computing

    def _update_display(self) -> None:
        """Redraw the displayed static drawing: after every graph where an executor records it, once in a front end.

        A front end shows the live view, and each update of the display data makes it draw that view anew, so
        it gets one update only: the first graph replaces "computing" in the notebook it saves (GitHub, nbviewer).
        """
        if not self._displayed or (self._static_drawn and not executed_without_front_end()):
            return
        from IPython.display import update_display

        data, metadata = self._bundle()
        if self.graph_object is not None and not self.computing:
            self._static_drawn = True
        update_display(data, metadata=metadata, raw=True, display_id=self._display_id)


def _set_tokens(prompt_set: PromptSet, model: Any) -> list[str]:
    """The strip before the first role graph: the set's labels (its role names for prompts that differ).

    Empty where the set cannot be labelled: the computation then says why, in the error box.
    """
    try:
        labelled = prompt_set if prompt_set.labels is not None else prompt_set.labelled(model.tokenizer)
    except InfoFlowError:
        return []
    labels = labelled.labels
    return list(labels[0]) if labels is not None and labelled.aligned() else labelled.role_names


class _TraitView:
    """The computation's view: the widget's traits (its front end draws from them) and its messages."""

    def __init__(self, widget: InfoFlowWidget) -> None:
        self.widget = widget

    def show(self, graph: FlowGraph, status: str, computing: bool, data: dict[str, Any] | None = None) -> None:
        w = self.widget
        with w.hold_sync():  # the graph last: its observers see the status that describes it
            w.computing, w.error, w.status = computing, "", status
            w.progress = 0.0 if computing else 1.0
            w.selected = None  # a pin belongs to the graph it was clicked on (the views unpin too)
            w.selected_edge, w.anatomy = None, None  # so does a selected edge, and its anatomy
            w.graph = json_safe(graph.to_dict() if data is None else data)
        if not computing:
            w._update_display()

    def start(self, status: str) -> None:
        w = self.widget
        with w.hold_sync():
            w.computing, w.progress, w.error = True, 0.0, ""
            w.status = status

    def say(self, status: str, progress: float | None) -> None:
        w = self.widget
        with w.hold_sync():
            if progress is not None:
                w.progress = progress
            w.status = status

    def fail(self, message: str) -> None:
        w = self.widget
        with w.hold_sync():
            w.computing, w.error = False, message
            w.status = "failed: the graph on show is from the last parameters that worked"

    def clear_error(self, status: str) -> None:
        with self.widget.hold_sync():
            self.widget.error, self.widget.status = "", status

    def measuring(self, selection: dict[str, Any], status: str) -> None:
        w = self.widget
        with w.hold_sync():
            w.error, w.status, w.progress = "", status, 0.0
            w.anatomy = {"edge": selection, "status": "computing"}

    def anatomy_shown(self, data: dict[str, Any], status: str) -> None:
        w = self.widget
        with w.hold_sync():
            w.error, w.status, w.progress = "", status, 1.0
            w.anatomy = data

    def anatomy_failed(self, selection: dict[str, Any], message: str) -> None:
        w = self.widget
        with w.hold_sync():
            w.error, w.status = message, "failed: the anatomy of the selected edge could not be measured"
            w.anatomy = {"edge": selection, "status": "failed"}

    def anatomy_closed(self) -> None:
        w = self.widget
        with w.hold_sync():
            w.selected_edge, w.anatomy = None, None

    def expanded(self, graph: FlowGraph, level: int, request: Any) -> None:
        # The view that asked knows its request by this id; the others ignore the answer.
        self.widget.send({"type": "expanded", "level": level, "request": request, "graph": json_safe(graph.to_dict())})
