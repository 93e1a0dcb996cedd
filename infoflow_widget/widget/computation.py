"""The widget's background computation: one thread per request, generations, cancellation, cache, engines.

How a request becomes a graph on show:

1. A cached request is shown at once. Otherwise the previous request's ``cancel`` event is set (its
   thread stops at its next batch) and a thread measures the request under a new generation number,
   reporting progress. It runs on an engine derived from one clean run per metric
   (:meth:`FlowEngine.with_intervention`), so a new alpha costs only the intervened forward passes.
2. For a full token graph (``full``, ``attribution-then-exact``) the thread first computes the
   attribution estimate of the same edges (one forward and backward pass) and shows it, dashed, while
   the exact values compute, unless the last full graph took less than ``preview_seconds``: then the
   estimate would only flicker. The estimate is cached under its own request (strategy ``attribution``).
3. The thread's graphs are cached, but shown only if its generation is still the newest, so an older
   result never overwrites a newer one. Errors go to the view, not to the kernel log.
4. The ``consensus`` entry measures its interventions on the same clean-run engine
   (``compare_on``), with no estimate first, and shows the consensus graph;
   each intervention's own graph is cached under the request that would ask for it alone.
5. A selected edge (the ``selected_edge`` trait) gets its anatomy (:meth:`FlowGraph.anatomy`: by layer, by
   (layer, head), by window) and the logit lens of both its ends, measured the same way: a thread under its own
   generation and cancel event, progress in the status line, cached by (what the graph measures, the edge's
   positions). A new selection cancels the running one; a new graph on show (or a new request) closes it.

The threads are daemons, so a kernel never waits for them; but a daemon thread still inside torch when
the interpreter finalises aborts the process ("terminate called without an active exception", exit
status 134). So every computation is stopped (cancelled, then joined) at interpreter exit, which a
script's end and a kernel's shutdown or restart both reach, and when its widget is closed.
"""

from __future__ import annotations

import atexit
import copy
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..analysis.consensus import compare_on
from ..core.errors import ComputationCancelled, InfoFlowError
from ..core.openmp import release_idle_threads
from ..engine.engine import FlowEngine
from ..engine.metrics import as_metric
from ..graph.flowgraph import Edge, FlowGraph
from ..search.strategies import Attribution, Full
from ..text.corruption import plan_notes
from .requests import CONSENSUS, Request, check_selected_edge, json_safe, searches

if TYPE_CHECKING:
    from ..graph.anatomy import Anatomy
    from ..graph.rolegraph import RoleGraph

PROGRESS_INTERVAL = 0.1
"""Seconds between progress updates sent to the view."""

AnatomyKey = tuple[Request | None, tuple[int, ...], tuple[int, ...]]
"""An anatomy's cache key: the measured request on show (None: none, never cached), source and target positions."""


def throttled(
    say: Callable[[str, float], None], text: Callable[[int, int, str], str]
) -> Callable[[int, int, str], None]:
    """An engine's ``progress(done, total, desc)`` that calls ``say(text(...), fraction)`` at most every interval.

    The last call (done == total) always gets through, so the view never stops short of the end.
    """
    last = 0.0

    def report(done: int, total: int, desc: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_INTERVAL and done < total:
            return
        last = now
        say(text(done, total, desc), done / max(total, 1))

    return report


ESTIMATE_SHOWN = "estimate shown; computing exact values…"
"""The status while the attribution estimate is on show and the exact graph computes."""

TOP_HEADS = 5
"""How many of the heads carrying most of a selected edge's effect the anatomy panel lists."""

STOP_SECONDS = 60.0
"""How long :meth:`Computation.stop` waits for each thread; a cancelled thread ends at its next batch."""


class View(Protocol):
    """What a computation shows its results on: the widget's traits. Called with the computation's lock held."""

    def show(self, graph: FlowGraph, status: str, computing: bool, data: dict[str, Any] | None = None) -> None:
        """Put ``graph`` on show with ``status``; ``computing``: an estimate whose exact graph still computes.

        ``data``: what the front end draws, when not ``graph.to_dict()`` (a role graph's edges carry their interval).
        """

    def start(self, status: str) -> None:
        """A computation started with nothing new to show yet."""

    def say(self, status: str, progress: float | None) -> None:
        """The running computation's status (and its progress, 0 to 1)."""

    def fail(self, message: str) -> None:
        """The running computation failed; the graph on show stays."""

    def clear_error(self, status: str) -> None:
        """Back to the graph on show, which needs no computation; ``status`` describes it."""

    def expanded(self, graph: FlowGraph, level: int, request: Any) -> None:
        """The token graph inside a clicked span edge of drill-down ``level``, for the view that sent ``request``."""

    def measuring(self, selection: dict[str, Any], status: str) -> None:
        """The anatomy of the ``selection`` (a ``selected_edge`` value) started computing."""

    def anatomy_shown(self, data: dict[str, Any], status: str) -> None:
        """The anatomy panel's data (see :func:`anatomy_data`) is ready."""

    def anatomy_failed(self, selection: dict[str, Any], message: str) -> None:
        """The anatomy of ``selection`` failed; ``message`` goes to the error box."""

    def anatomy_closed(self) -> None:
        """No edge selected: the anatomy panel closes."""


class Computation:
    """The measurements behind one widget: its engines, its cache, and the thread computing its newest request.

    Args:
        view: where graphs, status and errors go.
        model: the wrapped model.
        prompt: the clean prompt.
        layers: the layers to intervene in (None: all).
        preview_seconds: see :class:`InfoFlowWidget`.
    """

    def __init__(self, view: View, model: Any, prompt: str, layers: list[int] | None, preview_seconds: float) -> None:
        self.view = view
        self.model = model
        self.prompt = prompt
        self.layers = layers
        self.preview_seconds = preview_seconds
        """Full graphs that last took longer than this many seconds show the estimate first."""
        self.full_seconds: float | None = None  # what the last exact full graph took
        # Guards the generation counters and what is on show. Reentrant: putting a graph on show clears the selected
        # edge, whose observer closes the anatomy under this lock, in the same thread.
        self.lock = threading.RLock()
        self.generation = 0
        self.cancel: threading.Event | None = None
        self.thread: threading.Thread | None = None  # the newest computation
        self.expanding: threading.Thread | None = None  # the newest drill-down
        self.running: Request | None = None  # the request a live thread computes
        self.shown: Request | None = None  # the request whose graph is on show
        self.graph: FlowGraph | None = None  # its graph
        self.cache: dict[Request, FlowGraph | RoleGraph] = {}  # a prompt set's widget (SetComputation): role graphs
        self.compute_lock = threading.Lock()  # one computation of this widget at a time (a stale one ends soon)
        self.engines: dict[tuple[str | None, str | None], FlowEngine] = {}  # a clean run per metric
        # The engine that measured each request's graphs (by Request.measured()): drill-downs and anatomies
        # measure with it, since graphs are plain data and hold none.
        self.measuring: dict[Request, FlowEngine] = {}
        self.drill: list[FlowGraph] = []  # the graph on show, then the expansions opened from it
        self.stopped = threading.Event()  # set by stop(): drill-downs end, nothing new starts
        # The anatomy of the selected edge: its own generations (a graph's do not stop it, nor it a graph's status).
        self.anatomy_generation = 0
        self.anatomy_cancel: threading.Event | None = None
        self.anatomy_thread: threading.Thread | None = None
        self.anatomy: Anatomy | None = None  # the anatomy on show
        self.anatomies: dict[AnatomyKey, tuple[Anatomy, dict[str, Any]]] = {}
        _LIVE.add(self)

    # --- requests --------------------------------------------------------------------------------

    def engine(self, request: Request) -> FlowEngine:
        """The clean-run engine of the request's metric (called by the constructor or under ``compute_lock``)."""
        key = (request.answer, request.distractor)
        if key not in self.engines:
            metric = as_metric(None, request.answer, request.distractor)
            self.engines[key] = FlowEngine(self.model, self.prompt, metric, layers=self.layers, progress=False)
        return self.engines[key]

    def measuring_engine(self, request: Request) -> FlowEngine:
        """The engine of ``request``'s intervention and metric (a consensus: its reference's), kept per request.

        Called under ``compute_lock``; an engine the widget has not built yet (a consensus's reference) is derived
        from the metric's clean run.
        """
        if request.intervention == CONSENSUS:
            request = request.alone(request.build_interventions()[0])
        key = request.measured()
        if key not in self.measuring:
            self.measuring[key] = self.engine(request).with_intervention(request.build_intervention(), progress=False)
        return self.measuring[key]

    def clean_metric(self, request: Request) -> float | None:
        """The clean metric of the request's metric, if its clean run is done (None: not yet)."""
        engine = self.engines.get((request.answer, request.distractor))
        return None if engine is None else engine.clean_metric

    def refresh(self, request: Request) -> None:
        """Show the graph of ``request``: from the cache, or computed in a new thread."""
        with self.lock:
            if self.stopped.is_set():
                return
            if request == self.running and self.thread is not None and self.thread.is_alive():
                return  # e.g. the threshold of a full graph moved while it computes: same graph
            if request == self.shown and self.running is None:
                # Back to what is on show (say, after a failed change): nothing to measure, no failure to report.
                self.view.clear_error(self.summary(self.graph, "shown again") if self.graph is not None else "")
                return
            self.generation += 1
            generation = self.generation
            if self.cancel is not None:
                self.cancel.set()  # the stale computation stops at its next batch
            self.cancel = None
            self.running = None
            self._close_anatomy()  # the selected edge belongs to the graph these parameters replace
            cached = self.cache.get(request)
            if cached is not None:
                self._show(request, cached, self.summary(cached, "cached"))
                return
            self.cancel = cancel = threading.Event()
            self.running = request
            preview = self._preview(request)
            if preview in self.cache:
                self._show(preview, self.cache[preview], ESTIMATE_SHOWN, computing=True)
            else:
                self.view.start("starting…")
            self.thread = threading.Thread(
                target=self._compute, args=(request, preview, generation, cancel), name="infoflow-widget", daemon=True
            )
            release_idle_threads()  # this thread's OpenMP pool would slow the worker's torch by a third
            self.thread.start()

    def summary(self, graph: Any, how: str) -> str:
        """The status line for ``graph`` put on show (see :func:`_summary`)."""
        return _summary(graph, how)

    def _preview(self, request: Request) -> Request | None:
        """The estimate to show while ``request`` computes: None when there is none, or no wait to fill."""
        preview = request.estimate()
        fast = self.full_seconds is not None and self.full_seconds <= self.preview_seconds
        return None if request.strategy == Full.name and fast else preview

    def _compute(self, request: Request, preview: Request | None, generation: int, cancel: threading.Event) -> None:
        """Compute ``request`` (after its ``preview`` estimate, unless cached) and show what is still wanted."""
        status = f"{ESTIMATE_SHOWN} " if preview else ""
        try:
            with self.compute_lock:
                if cancel.is_set():
                    raise ComputationCancelled("a newer request replaced this one")
                if request.intervention == CONSENSUS:
                    self._consensus(request, generation, cancel)
                    return
                engine = self.engine(request).with_intervention(
                    request.build_intervention(), progress=self._progress_reporter(generation, status), cancel=cancel
                )
                if preview is not None and preview not in self.cache:
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
        with self.lock:
            self.measuring[request.measured()] = engine
        if request.strategy == Full.name:
            self.full_seconds = engine.seconds - before
        self._publish(request, graph, generation, final=True)

    def _consensus(self, request: Request, generation: int, cancel: threading.Event) -> None:
        """Measure the consensus of ``request`` on the clean run of its metric and show its graph (under compute_lock).

        Each intervention's own graph is cached under the request that asks for it alone, so choosing it next
        shows it at once.
        """
        interventions = request.build_interventions()
        comparison = compare_on(
            self.engine(request),
            interventions,
            request.build_strategy(),
            progress=self._progress_reporter(generation, ""),
            cancel=cancel,
        )
        with self.lock:
            for intervention, graph in zip(interventions, comparison.graphs.values()):
                self.cache.setdefault(request.alone(intervention), graph)
        self._publish(request, comparison.consensus(), generation, final=True)

    def _publish(self, request: Request, graph: FlowGraph | RoleGraph, generation: int, *, final: bool) -> None:
        """Cache ``graph``; show it if its generation is still the newest (an estimate keeps ``computing``)."""
        with self.lock:
            self.cache[request] = graph
            if generation != self.generation:
                return
            if final:
                self.running = None
                self._show(request, graph, self.summary(graph, "computed"))
            else:
                self._show(request, graph, ESTIMATE_SHOWN, computing=True)

    def _show(self, request: Request, graph: FlowGraph | RoleGraph, status: str, *, computing: bool = False) -> None:
        """Put the graph of ``request`` on show (the caller holds ``lock``)."""
        assert isinstance(graph, FlowGraph)  # this class computes flow graphs; SetComputation shows its role graphs
        self.shown = request
        self.graph = graph
        self.drill = [graph]
        self._drop_anatomy()  # a selected edge belongs to the graph it was selected on (view.show unselects it)
        self.view.show(graph, status, computing)

    def _fail(self, generation: int, err: Exception) -> None:
        with self.lock:
            if generation != self.generation:
                return
            self.running = None
            self.view.fail(str(err) if isinstance(err, InfoFlowError) else f"{type(err).__name__}: {err}")

    def _progress_reporter(self, generation: int, status: str) -> Any:
        return throttled(
            lambda text, fraction: self._say(generation, text, fraction),
            lambda done, total, desc: f"{status}{desc}: {done} of {total} edges",
        )

    def _say(self, generation: int, status: str, progress: float | None = None) -> None:
        """Show a computation's status (and progress) while its generation is still the newest."""
        with self.lock:
            if generation == self.generation:
                self.view.say(status, progress)

    # --- drill-down ------------------------------------------------------------------------------

    def expand(self, content: dict[str, Any]) -> None:
        """Measure in a thread the token edges inside a clicked span edge (``content``: source, target, level)."""
        with self.lock:  # what was on show when the click arrived: the click refers to it
            if self.stopped.is_set():
                return
            shown = (self.generation, list(self.drill), self.shown)
        self.expanding = threading.Thread(
            target=self._expand, args=(content, *shown), name="infoflow-expand", daemon=True
        )
        release_idle_threads()
        self.expanding.start()

    def _expand(
        self, content: dict[str, Any], generation: int, drill: list[FlowGraph], request: Request | None
    ) -> None:
        """Measure the token edges inside one span edge of ``drill`` and send them back to the view that asked."""
        try:
            level = int(content["level"])
            base = drill[level]
            edge = next(e for e in base.edges if (e.source, e.target) == (content["source"], content["target"]))
            nodes = base.nodes
            self._say(generation, f"expanding span edge {nodes[edge.source].label} → {nodes[edge.target].label}…")
            if request is None:
                raise InfoFlowError("No graph is on show: there is no span edge to expand.")
            with self.compute_lock:
                engine = copy.copy(self.measuring_engine(request))
            engine.cancel = self.stopped  # stops at its next batch once the widget stops
            expanded = engine.expand(base, edge)
        except ComputationCancelled:
            return
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self._fail(generation, err)
            return
        with self.lock:
            shown = self.drill[: level + 1]
            if len(shown) != level + 1 or any(now is not then for now, then in zip(shown, drill)):
                return  # another graph went on show meanwhile: this expansion belongs to none on screen
            self.drill[level + 1 :] = [expanded]
            status = f"expanded: {len(expanded.edges)} token edges in {expanded.stats.get('seconds', '?')} s"
            self.view.say(status, None)
            self.view.expanded(expanded, level, content.get("request"))

    # --- anatomy of the selected edge ------------------------------------------------------------

    def select(self, selection: dict[str, Any] | None) -> None:
        """Show the anatomy of the selected edge (a ``selected_edge`` value): from the cache, or measured in a thread.

        None closes it. A selection that names no edge on show fails into the error box (the widget's validator
        refuses it first; this catches a graph that changed in between).
        """
        with self.lock:
            if self.stopped.is_set():
                return
            self._drop_anatomy()
            if selection is None:
                self.view.anatomy_closed()
                return
            try:
                found = check_selected_edge(selection, self.drill)
            except InfoFlowError as err:
                self.view.anatomy_failed(selection, str(err))
                return
            assert found is not None
            level, edge = found
            graph = self.drill[level]
            source, target = graph.nodes[edge.source], graph.nodes[edge.target]
            key: AnatomyKey = (
                self.shown.measured() if self.shown is not None else None,
                tuple(range(source.start, source.end)),
                tuple(range(target.start, target.end)),
            )
            name = _edge_name(graph, edge)
            cached = self.anatomies.get(key)
            if cached is not None and key[0] is not None:
                self.anatomy = cached[0]
                data = {**cached[1], "edge": _selection(level, edge)}
                self.view.anatomy_shown(data, f"anatomy of {name}: cached, shown without measuring")
                return
            self.anatomy_cancel = cancel = threading.Event()
            generation = self.anatomy_generation
            self.view.measuring(_selection(level, edge), f"anatomy of {name}: starting…")
            self.anatomy_thread = threading.Thread(
                target=self._measure_anatomy,
                args=(key, self.shown, level, graph, edge, generation, cancel),
                name="infoflow-anatomy",
                daemon=True,
            )
            release_idle_threads()
            self.anatomy_thread.start()

    def _measure_anatomy(
        self,
        key: AnatomyKey,
        request: Request | None,
        level: int,
        graph: FlowGraph,
        edge: Edge,
        generation: int,
        cancel: threading.Event,
    ) -> None:
        """Measure the anatomy of ``edge`` and the logit lens of its ends; show them if still selected."""
        name = _edge_name(graph, edge)
        try:
            with self.compute_lock:
                if cancel.is_set():
                    raise ComputationCancelled("another edge was selected")
                if request is None:
                    raise InfoFlowError("No graph is on show: there is no edge to measure.")
                engine = copy.copy(self.measuring_engine(request))
                engine.progress = self._anatomy_reporter(generation, name)
                engine.cancel = cancel
                self._say_anatomy(generation, f"anatomy of {name}: measuring…", 0.0)
                anatomy = engine.anatomy(*graph.positions(edge))
                if cancel.is_set():
                    raise ComputationCancelled("another edge was selected")
                self._say_anatomy(generation, f"anatomy of {name}: logit lens of both ends…", None)
                source, target = graph.nodes[edge.source], graph.nodes[edge.target]
                lenses = {"source": engine.logit_lens(source.end - 1), "target": engine.logit_lens(target.end - 1)}
        except ComputationCancelled:
            return
        except Exception as err:  # noqa: BLE001 - shown in the widget, not lost in a thread
            message = str(err) if isinstance(err, InfoFlowError) else f"{type(err).__name__}: {err}"
            with self.lock:
                if generation == self.anatomy_generation:
                    self.view.anatomy_failed(_selection(level, edge), f"anatomy of {name}: {message}")
            return
        data = anatomy_data(anatomy, lenses, graph, _selection(level, edge))
        stats = anatomy.stats
        passes = stats.get("forward_passes", "?")
        status = (
            f"anatomy of {name}: {stats.get('interventions', '?')} exact measurements in {passes} forward "
            f"pass{'' if passes == 1 else 'es'}, {stats.get('seconds', '?')} s, and the logit lens of both ends"
        )
        with self.lock:
            if key[0] is not None:
                self.anatomies[key] = (anatomy, data)
            if generation != self.anatomy_generation:
                return
            self.anatomy = anatomy
            self.view.anatomy_shown(data, status)

    def _anatomy_reporter(self, generation: int, name: str) -> Any:
        return throttled(
            lambda text, fraction: self._say_anatomy(generation, text, fraction),
            lambda done, total, _desc: f"anatomy of {name}: {done} of {total} measurements",
        )

    def _say_anatomy(self, generation: int, status: str, progress: float | None) -> None:
        with self.lock:
            if generation == self.anatomy_generation:
                self.view.say(status, progress)

    def _drop_anatomy(self) -> None:
        """Stop the running anatomy and forget the one on show (the caller holds ``lock``)."""
        self.anatomy_generation += 1
        if self.anatomy_cancel is not None:
            self.anatomy_cancel.set()
        self.anatomy_cancel = None
        self.anatomy = None

    def _close_anatomy(self) -> None:
        """Drop the anatomy and unselect the edge in the view (the caller holds ``lock``)."""
        self._drop_anatomy()
        self.view.anatomy_closed()

    # --- waiting and stopping --------------------------------------------------------------------

    def busy(self) -> list[threading.Thread]:
        """The live threads: the newest computation, the newest drill-down and the newest anatomy."""
        return [t for t in (self.thread, self.expanding, self.anatomy_thread) if t is not None and t.is_alive()]

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running computation and drill-down end (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # A newer request may start a newer thread while one is joined, hence the loop.
        while busy := self.busy():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            busy[0].join(remaining)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel what runs, show nothing more, start nothing new, and wait for the threads to end.

        A cancelled computation ends at its next batch; a drill-down at its next batch too.
        """
        with self.lock:
            self.stopped.set()
            self.generation += 1  # whatever still finishes is neither shown nor reported
            if self.cancel is not None:
                self.cancel.set()
            self.cancel = None
            self.running = None
            self._drop_anatomy()
        for thread in self.busy():
            if thread is not threading.current_thread():  # a widget collected in its own thread
                thread.join(timeout)


def _selection(level: int, edge: Edge) -> dict[str, int]:
    """The ``selected_edge`` value of ``edge`` at drill-down ``level``."""
    return {"source": edge.source, "target": edge.target, "level": level}


def _edge_name(graph: FlowGraph, edge: Edge) -> str:
    """``1 ' Mary' → 13 ' to'``: the edge's ends by position (a span by its range) and text."""

    def end(index: int) -> str:
        node = graph.nodes[index]
        where = str(node.start) if node.end - node.start == 1 else f"{node.start}–{node.end - 1}"
        return f"{where} {graph.node_text(index)!r}"

    return f"{end(edge.source)} → {end(edge.target)}"


def anatomy_data(
    anatomy: Anatomy, lenses: dict[str, Any], graph: FlowGraph, selection: dict[str, int]
) -> dict[str, Any]:
    """The anatomy panel's data (the ``anatomy`` trait), JSON-safe.

    :meth:`Anatomy.to_dict`, the edge selected, the strongest heads (:meth:`Anatomy.top_heads`), the logit lens of
    the edge's ends (``lens``: ``source`` and ``target``, each :meth:`LogitLens.to_dict` at the last position of the
    end), and from the graph its intervention's text and noise floor (cells under it are drawn blank, as arcs under
    it are not drawn).
    """
    return json_safe(
        {
            **anatomy.to_dict(),
            "status": "done",
            "edge": selection,
            "top_heads": [list(item) for item in anatomy.top_heads(TOP_HEADS)],
            "lens": {end: lens.to_dict() for end, lens in lenses.items()},
            "intervention_text": (graph.provenance or {}).get("intervention_text"),
            "noise_floor": (graph.stats or {}).get("noise_floor"),
        }
    )


def _summary(graph: FlowGraph, how: str) -> str:
    """The status line for a graph put on show: ``how`` (computed, cached), what a search's threshold did, the cost.

    ``computed: backtrack measured 56 of 105 edges (49 skipped below threshold 0.59), 5 forward passes in 1.5 s``.
    Auto-corrupt adds what its corrupted prompts kept (``; kept position 3 ' Xzavier' (name): ...``).
    """
    what = _search_note(graph) or f"{len(graph.edges)} edges"
    notes = plan_notes(graph.provenance.get("corruption")) if isinstance(graph.provenance, dict) else []
    if how != "computed":
        return "; ".join([f"{how}: {what}, shown without recomputing", *notes])
    stats = graph.stats
    cost = f"{stats.get('forward_passes', '?')} forward passes in {stats.get('seconds', '?')} s"
    return "; ".join([f"{how}: {what}, {cost}", *notes])


def _search_note(graph: FlowGraph) -> str | None:
    """What the threshold of a search strategy did: edges measured against the full graph's; None for other graphs."""
    strategy = graph.provenance.get("strategy") if isinstance(graph.provenance, dict) else None
    if not isinstance(strategy, dict) or not searches(str(strategy.get("name"))):
        return None
    measured, full = graph.stats.get("interventions"), graph.stats.get("full_interventions")
    threshold = strategy.get("threshold")
    if not isinstance(measured, int) or not isinstance(full, int) or not isinstance(threshold, (int, float)):
        return None
    name, at = strategy["name"], f"threshold {threshold:.3g}"
    if any(node.end - node.start > 1 for node in graph.nodes):  # span edges: each covers many token pairs
        return f"{name} measured {measured} span edges where full measures {full} token edges ({at})"
    if measured >= full:
        return f"{name} measured all {full} edges ({at} skipped none)"
    return f"{name} measured {measured} of {full} edges ({full - measured} skipped below {at})"


_LIVE: weakref.WeakSet[Computation] = weakref.WeakSet()
"""Every computation not yet collected: stopped at interpreter exit."""


@atexit.register
def _stop_all() -> None:
    """Stop every live computation, so no thread is inside torch when the interpreter finalises."""
    for computation in list(_LIVE):
        computation.stop()
