"""The Jupyter widget: an arc diagram of a FlowGraph whose controls recompute it off the kernel's thread.

How a control in the browser becomes a new drawing:

1. The control writes a trait (the front end debounces sliders by 300 ms).
2. An observer freezes the parameters that change the measurement into a key. Threshold and top-k
   of a full graph are not part of it: the front end filters those without a round trip.
3. A cached key is shown at once. Otherwise the previous request's ``cancel`` event is set (its
   thread stops at its next batch) and a thread measures the request under a new generation
   number, reporting progress into the ``progress`` and ``status`` traits. It runs on an engine
   derived from one clean run per metric (:meth:`FlowEngine.with_intervention`), so a new alpha
   costs only the intervened forward passes.
4. For a full token graph (``full``, ``attribution-then-exact``) the thread first computes the
   attribution estimate of the same edges (one forward and backward pass) and shows it, dashed, while
   the exact values compute, unless the last full graph of this widget took less than
   ``preview_seconds``: then the estimate would only flicker. The estimate is cached under its own
   key (strategy ``attribution``).
5. The thread's graphs are cached, but shown only if its generation is still the newest, so an older
   result never overwrites a newer one. Errors land in the ``error`` trait, not in the kernel log.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ._html_export import widget_page
from ._openmp import release_idle_threads
from .engine import FlowEngine
from .errors import ComputationCancelled, InfoFlowError, is_non_negative
from .graph import FlowGraph, write_atomic
from .interventions import Corrupt, Crop, Dampen, Intervention, Zero
from .metrics import as_metric
from .models import load_model
from .strategies import STRATEGIES, Attribution, Full, Strategy

STATIC = Path(__file__).parent / "static"
if not (STATIC / "widget.js").is_file():
    raise ImportError(
        f"The widget's front end is not built ({STATIC / 'widget.js'} is missing): run `make install`, "
        "or `npm --prefix js ci && npm --prefix js run build`."
    )

INTERVENTION_NAMES = ("zero", "dampen", "crop", "corrupt")
"""The values of the ``intervention`` trait."""

PROGRESS_INTERVAL = 0.1
"""Seconds between progress updates sent to the browser."""

ESTIMATED_FIRST = ("full", "attribution-then-exact")
"""Strategies whose graph holds every token edge, so the attribution estimate previews the same edges.

Attribution estimates all four interventions the widget offers; search strategies measure span edges,
which a token estimate does not preview.
"""

ESTIMATE_SHOWN = "estimate shown; computing exact values…"
"""The status while the attribution estimate is on show and the exact graph computes."""


def prunes(strategy: type[Strategy]) -> bool:
    """Whether ``strategy`` searches with a threshold (Backtrack, Bisect, ...) rather than keeping every edge.

    Their ``threshold`` has a numeric default; AttributionThenExact's optional one widens verification
    instead, and Full and Attribution have none. Graphs of the others hold every token pair, so the
    browser filters them by threshold without recomputing.
    """
    return any(f.name == "threshold" and f.default is not None for f in fields(strategy))


def strategy_menu() -> list[dict[str, Any]]:
    """The strategies for the front end's menu: name, the first line of the docstring, and :func:`prunes`."""
    return [
        {
            "name": name,
            "description": inspect.getdoc(strategy).splitlines()[0].replace("``", ""),
            "prunes": prunes(strategy),
        }
        for name, strategy in STRATEGIES.items()
    ]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    The comm sends JSON, which has no such numbers (the browser's parser would reject the whole
    message); the front end reads the strings back with ``Number()``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class _Request:
    """The parameters that change what is measured: equal requests give equal graphs."""

    intervention: str
    alpha: float | None  # only for dampen
    corrupted_prompt: str | None  # only for corrupt
    strategy: str
    threshold: float | None  # only for strategies that prune with it
    answer: str | None
    distractor: str | None

    def build_intervention(self) -> Intervention:
        if self.intervention == "dampen":
            return Dampen(self.alpha)
        if self.intervention == "corrupt":
            return Corrupt(self.corrupted_prompt)
        if self.intervention == "zero":
            return Zero()
        if self.intervention == "crop":
            return Crop()
        raise InfoFlowError(f"intervention must be one of {', '.join(INTERVENTION_NAMES)}; got {self.intervention!r}.")

    def build_strategy(self) -> Strategy:
        if self.strategy not in STRATEGIES:
            raise InfoFlowError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}.")
        if self.threshold is None:
            return STRATEGIES[self.strategy]()
        return STRATEGIES[self.strategy](threshold=self.threshold)

    def estimate(self) -> _Request | None:
        """The attribution estimate shown while this request computes, or None when there is none to show."""
        if self.strategy not in ESTIMATED_FIRST or not as_metric(None, self.answer, self.distractor).first_order:
            return None  # a span graph, or the KL divergence, whose estimates are all zero
        return replace(self, strategy=Attribution.name, threshold=None)


class InfoFlowWidget(anywidget.AnyWidget):
    """An interactive information-flow graph: arcs between token positions, recomputed from its controls.

    Args:
        model: a model from :func:`load_model`, or its name (``"smollm2-135m"``).
        prompt: the clean prompt.
        answer: the token the model should predict (``" Mary"``); with ``distractor`` the metric is
            their logit difference, alone its log-probability; neither gives the KL divergence.
        distractor: the token it should not predict (``" John"``).
        intervention: ``"zero"``, ``"dampen"``, ``"crop"`` or ``"corrupt"``.
        alpha: the dampening factor of ``"dampen"`` (0 to 2 on the slider).
        corrupted_prompt: the prompt ``"corrupt"`` patches from, of the same token length.
        strategy: a name from ``STRATEGIES``: ``"full"``, a search strategy (``"backtrack"``, ``"bisect"``,
            ``"split"``, ``"backtrack-bisect"``), ``"attribution"`` (first-order estimates of every edge) or
            ``"attribution-then-exact"`` (estimates, the strongest verified exactly). Full and
            attribution-then-exact show the estimate first, dashed, while the exact values compute
            (full only while its exact graph is slow: see ``preview_seconds``).
        threshold: edges shown have ``|effect| >= threshold``; search strategies also prune with it.
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
    graph = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    """The graph on show, as :meth:`FlowGraph.to_dict`. Type: dict | None. Default: None until computed."""
    intervention = traitlets.Unicode("zero").tag(sync=True)
    """One of ``zero``, ``dampen``, ``crop``, ``corrupt``. Type: str. Default: ``"zero"``."""
    alpha = traitlets.Float(0.5).tag(sync=True)
    """Dampening factor for ``dampen``. Type: float. Default: 0.5."""
    corrupted_prompt = traitlets.Unicode("").tag(sync=True)
    """The prompt ``corrupt`` patches keys and values from. Type: str. Default: ``""``."""
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
    """The token position pinned by a click in the drawing. Type: int | None. Default: None."""

    def __init__(
        self,
        model: Any,
        prompt: str,
        *,
        answer: str | None = None,
        distractor: str | None = None,
        intervention: str = "zero",
        alpha: float = 0.5,
        corrupted_prompt: str = "",
        strategy: str = "full",
        threshold: float = 0.0,
        top_k: int | None = 10,
        layers: list[int] | None = None,
        preview_seconds: float = 1.0,
        **unknown: Any,
    ) -> None:
        if unknown:
            valid = ", ".join(
                ["model", "prompt", "answer", "distractor", "intervention", "alpha", "corrupted_prompt"]
                + ["strategy", "threshold", "top_k", "layers", "preview_seconds"]
            )
            raise TypeError(f"InfoFlowWidget got unknown argument(s) {', '.join(sorted(unknown))}; valid: {valid}.")
        if not is_non_negative(preview_seconds, finite=False):
            raise InfoFlowError(
                f"preview_seconds must be a number of seconds >= 0 (0: always show the estimate first, math.inf: "
                f"never); got {preview_seconds!r}."
            )
        if not is_non_negative(threshold):
            raise InfoFlowError(f"threshold must be a finite number >= 0; got {threshold!r}.")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
            raise InfoFlowError(f"top_k must be a whole number >= 0, or None to draw every edge; got {top_k!r}.")
        self._model = load_model(model) if isinstance(model, str) else model
        self._prompt = prompt
        self._layers = layers
        self.preview_seconds = preview_seconds
        """Full graphs that last took longer than this many seconds show the estimate first."""
        self._full_seconds: float | None = None  # what the last exact full graph took
        self._lock = threading.Lock()  # guards the generation counter and what is on show
        self._generation = 0
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None  # the newest computation
        self._expanding: threading.Thread | None = None  # the newest drill-down
        self._running: _Request | None = None  # the request a live thread computes
        self._shown: _Request | None = None  # the request whose graph is on show
        self._ready = False  # the constructor's own trait assignments trigger nothing
        self._cache: dict[_Request, FlowGraph] = {}
        self._compute_lock = threading.Lock()  # one computation of this widget at a time (a stale one ends soon)
        self._engines: dict[tuple[str | None, str | None], FlowEngine] = {}  # a clean run per metric
        self._drill: list[FlowGraph] = []  # the graph on show, then the expansions opened from it
        self.graph_object: FlowGraph | None = None
        """The :class:`FlowGraph` on show (None until the first computation ends)."""

        super().__init__(
            answer=answer,
            distractor=distractor,
            intervention=intervention,
            alpha=alpha,
            corrupted_prompt=corrupted_prompt,
            strategy=strategy,
            threshold=threshold,
            top_k=top_k,
        )
        request = self._request()
        # Everything the engine checks (prompt, answer tokens, corrupted length, layers) fails here,
        # in the caller's cell; later failures from the controls go to the `error` trait instead.
        request.build_strategy()
        engine = self._engine(request)
        engine.with_intervention(request.build_intervention())  # a corrupted prompt's length, say
        self.tokens = engine.tokens
        self.on_msg(self._on_message)
        self._ready = True
        self._refresh()

    def __repr__(self) -> str:
        return (
            f"InfoFlowWidget({len(self.tokens)} tokens, intervention={self.intervention!r}, strategy={self.strategy!r})"
        )

    # --- recomputation -------------------------------------------------------------------------

    @traitlets.default("strategies")
    def _default_strategies(self) -> list[dict[str, Any]]:
        return strategy_menu()

    def _request(self) -> _Request:
        strategy = STRATEGIES.get(self.strategy)
        return _Request(
            intervention=self.intervention,
            alpha=self.alpha if self.intervention == "dampen" else None,
            corrupted_prompt=self.corrupted_prompt if self.intervention == "corrupt" else None,
            strategy=self.strategy,
            threshold=self.threshold if strategy is not None and prunes(strategy) else None,
            answer=self.answer or None,  # an emptied text box means "no answer"
            distractor=self.distractor or None,
        )

    @traitlets.observe("intervention", "alpha", "corrupted_prompt", "strategy", "threshold", "answer", "distractor")
    def _on_parameter(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._refresh()

    def _refresh(self) -> None:
        """Show the graph of the current parameters: from the cache, or computed in a new thread."""
        request = self._request()
        with self._lock:
            if request == self._running and self._thread is not None and self._thread.is_alive():
                return  # e.g. the threshold of a full graph moved while it computes: same graph
            if request == self._shown and self._running is None:
                self.error = ""  # back to what is on show (say, after a failed change): nothing to measure
                return
            self._generation += 1
            generation = self._generation
            if self._cancel is not None:
                self._cancel.set()  # the stale computation stops at its next batch
            self._cancel = None
            self._running = None
            cached = self._cache.get(request)
            if cached is not None:
                self._show(request, cached, _summary(cached, "cached"))
                return
            self._cancel = cancel = threading.Event()
            self._running = request
            preview = self._preview(request)
            if preview in self._cache:
                self._show(preview, self._cache[preview], ESTIMATE_SHOWN, computing=True)
            else:
                with self.hold_sync():
                    self.computing, self.progress, self.error = True, 0.0, ""
                    self.status = "starting…"
            self._thread = threading.Thread(
                target=self._compute, args=(request, preview, generation, cancel), name="infoflow-widget", daemon=True
            )
            release_idle_threads()  # this thread's OpenMP pool would slow the worker's torch by a third
            self._thread.start()

    def _preview(self, request: _Request) -> _Request | None:
        """The estimate to show while ``request`` computes: None when there is none, or no wait to fill."""
        preview = request.estimate()
        fast = self._full_seconds is not None and self._full_seconds <= self.preview_seconds
        return None if request.strategy == Full.name and fast else preview

    def _compute(self, request: _Request, preview: _Request | None, generation: int, cancel: threading.Event) -> None:
        """Compute ``request`` (after its ``preview`` estimate, unless cached) and show what is still wanted."""
        status = f"{ESTIMATE_SHOWN} " if preview else ""
        try:
            with self._compute_lock:
                if cancel.is_set():
                    raise ComputationCancelled("a newer request replaced this one")
                engine = self._engine(request).with_intervention(
                    request.build_intervention(), progress=self._progress_reporter(generation, status), cancel=cancel
                )
                if preview is not None and preview not in self._cache:
                    self._say(generation, "estimating every edge (one forward and one backward pass)…")
                    self._publish(preview, engine.graph(strategy=Attribution()), generation, final=False)
                before = engine.seconds
                graph = engine.graph(strategy=request.build_strategy())
        except ComputationCancelled:
            return
        except Exception as err:  # noqa: BLE001 - any failure is shown in the widget, not lost in a thread
            self._fail(generation, err)
            return
        engine.cancel = None  # finished: a later drill-down into this graph must not read as cancelled
        if request.strategy == Full.name:
            self._full_seconds = engine.seconds - before
        self._publish(request, graph, generation, final=True)

    def _engine(self, request: _Request) -> FlowEngine:
        """The clean-run engine of the request's metric (called by the constructor or under ``_compute_lock``)."""
        key = (request.answer, request.distractor)
        if key not in self._engines:
            metric = as_metric(None, request.answer, request.distractor)
            self._engines[key] = FlowEngine(self._model, self._prompt, metric, layers=self._layers, progress=False)
        return self._engines[key]

    def _publish(self, request: _Request, graph: FlowGraph, generation: int, *, final: bool) -> None:
        """Cache ``graph``; show it if its generation is still the newest (an estimate keeps ``computing``)."""
        with self._lock:
            self._cache[request] = graph
            if generation != self._generation:
                return
            if final:
                self._running = None
                self._show(request, graph, _summary(graph, "computed"))
            else:
                self._show(request, graph, ESTIMATE_SHOWN, computing=True)

    def _show(self, request: _Request, graph: FlowGraph, status: str, *, computing: bool = False) -> None:
        """Put the graph of ``request`` on show (the caller holds ``_lock``)."""
        self._shown = request
        self.graph_object = graph
        self._drill = [graph]
        with self.hold_sync():  # the graph last: its observers see the status that describes it
            self.computing, self.error, self.status = computing, "", status
            self.progress = 0.0 if computing else 1.0
            self.graph = json_safe(graph.to_dict())

    def _fail(self, generation: int, err: Exception) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._running = None
            message = str(err) if isinstance(err, InfoFlowError) else f"{type(err).__name__}: {err}"
            with self.hold_sync():
                self.computing, self.error = False, message
                self.status = "failed: the graph on show is from the last parameters that worked"

    def _progress_reporter(self, generation: int, status: str) -> Any:
        last = 0.0

        def report(done: int, total: int, desc: str) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_INTERVAL and done < total:
                return
            last = now
            self._say(generation, f"{status}{desc}: {done} of {total} edges", done / max(total, 1))

        return report

    def _say(self, generation: int, status: str, progress: float | None = None) -> None:
        """Show a computation's status (and progress) while its generation is still the newest."""
        with self._lock:
            if generation != self._generation:
                return
            with self.hold_sync():
                if progress is not None:
                    self.progress = progress
                self.status = status

    def wait(self, timeout: float | None = None) -> FlowGraph | None:
        """Block until the current computation ends, and return the graph on show.

        For scripts and tests: in a notebook the widget updates by itself.

        Args:
            timeout: seconds to wait at most (None: as long as it takes).

        Raises:
            InfoFlowError: the computation failed (the message is also in :attr:`error`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # A newer request may start a newer thread while one is joined, hence the loop.
        while busy := [t for t in (self._thread, self._expanding) if t is not None and t.is_alive()]:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            busy[0].join(remaining)
        if self.error:
            raise InfoFlowError(self.error)
        return self.graph_object

    # --- drill-down ----------------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: list[Any]) -> None:
        if content.get("type") == "expand":
            with self._lock:  # what was on show when the click arrived: the click refers to it
                shown = (self._generation, list(self._drill))
            self._expanding = threading.Thread(
                target=self._expand, args=(content, *shown), name="infoflow-expand", daemon=True
            )
            release_idle_threads()
            self._expanding.start()

    def _expand(self, content: dict[str, Any], generation: int, drill: list[FlowGraph]) -> None:
        """Measure the token edges inside one span edge of ``drill`` and send them back to the view that asked."""
        try:
            level = int(content["level"])
            base = drill[level]
            edge = next(e for e in base.edges if (e.source, e.target) == (content["source"], content["target"]))
            nodes = base.nodes
            self._say(generation, f"expanding span edge {nodes[edge.source].label} → {nodes[edge.target].label}…")
            expanded = base.expand(edge)
        except ComputationCancelled:
            return
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self._fail(generation, err)
            return
        with self._lock:
            shown = self._drill[: level + 1]
            if len(shown) != level + 1 or any(now is not then for now, then in zip(shown, drill)):
                return  # another graph went on show meanwhile: this expansion belongs to none on screen
            self._drill[level + 1 :] = [expanded]
            self.status = f"expanded: {len(expanded.edges)} token edges in {expanded.stats.get('seconds', '?')} s"
            # The view that asked knows its request by this id; the others ignore the answer.
            answer = {"type": "expanded", "level": level, "request": content.get("request")}
            self.send({**answer, "graph": json_safe(expanded.to_dict())})

    # --- export --------------------------------------------------------------------------------

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
        title = f"infoflow: {self._prompt[:60]}"
        page = widget_page(
            (STATIC / "widget.js").read_text(encoding="utf-8"),
            (STATIC / "widget.css").read_text(encoding="utf-8"),
            state,
            title,
        )
        path = Path(path)
        write_atomic(path, page)
        return path


def _summary(graph: FlowGraph, how: str) -> str:
    """The status line for a graph put on show: ``how`` (computed, cached) and what it cost."""
    if how != "computed":
        return f"{how}: {len(graph.edges)} edges, shown without recomputing"
    stats = graph.stats
    return (
        f"{how}: {len(graph.edges)} edges, {stats.get('forward_passes', '?')} forward passes "
        f"in {stats.get('seconds', '?')} s"
    )
