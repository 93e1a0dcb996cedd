"""Consensus across interventions: the same edges measured under several interventions, and where their signs agree.

The write-up (section 2.1) warns that one intervention can show edges that are damage ("hemorrhage")
rather than routes, and advises that results be "cross-evaluated with other interventions". Here that
is one call:

    comparison = compare_interventions(model, prompt, answer=" Mary", distractor=" John",
                                       interventions=[Zero(), Dampen(0.5), Knockout()])
    comparison.to_pandas()      # per edge: effect and rank under each intervention, whether the signs agree
    comparison.consensus()      # the first intervention's graph, disagreeing edges flagged "inconsistent"

One clean run serves every intervention: the engine of the first is built from the prompt and the
others are derived from it with :meth:`FlowEngine.with_intervention`, so each costs only its intervened
forward passes (and Corrupt its corrupted prompt's run). Every graph is measured with the same strategy.

The sign rule (:data:`SIGN_RULE`): an effect *counts* when it is finite, nonzero and at least its
graph's noise floor (``stats["noise_floor"]``, the |effect| under which it is numerical noise). An
edge's signs agree when no two counted effects have opposite signs. An effect that does not count (noise,
NaN, or no measurement at all) neither agrees nor disagrees: an edge that carries nothing under Corrupt
(a token both prompts share) and helps under Zero is not inconsistent, and an edge counted under no
intervention agrees trivially.

Edges are matched by their spans (source ``start:end``, target ``start:end``). Under :class:`Full`
(the default) every graph holds the same token pairs; a search strategy may measure different edges
under each intervention, and a span pair one graph did not measure has NaN (no rank) in that
intervention's columns.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole
from ..engine.engine import DEFAULT_MEMORY_BUDGET, FlowEngine, check_graph_request
from ..engine.metrics import Metric, as_metric
from ..graph.flowgraph import Edge, FlowGraph, strongest
from ..graph.trust import FLAGS
from ..interventions.base import Intervention
from ..interventions.patterns import Dampen, Knockout, Zero
from ..interventions.registry import INTERVENTIONS, build_intervention
from ..search.strategies import Strategy
from ..text.display import describe

if TYPE_CHECKING:
    import pandas as pd
    from nnsight.modeling.transformers import TransformersModel

INCONSISTENT = "inconsistent"
"""The flag :meth:`Comparison.consensus` sets on an edge whose signs disagree (one of :data:`trust.FLAGS`)."""

DEFAULT_INTERVENTIONS: tuple[Intervention, ...] = (Zero(), Dampen(0.5), Knockout())
"""What :func:`compare_interventions` compares when no list is given."""

SIGN_RULE = (
    "signs agree when no two counted effects have opposite signs; an effect counts when it is finite, nonzero and "
    "|effect| >= its graph's noise floor (sub-noise and unmeasured effects neither agree nor disagree)"
)
"""The rule, in words, recorded in a consensus graph's provenance."""

SpanKey = tuple[tuple[int, int], tuple[int, int]]
"""An edge's place in every graph: ``((source start, end), (target start, end))``."""

Progress = bool | Callable[[int, int, str], None]


def check_interventions(interventions: Any) -> list[Intervention]:
    """The interventions to compare, each given as an :class:`Intervention` or a name in ``INTERVENTIONS``.

    Checked before any model work. A name builds the intervention with its default parameters
    (``"dampen"``: alpha 0.5); ``"corrupt"`` needs its prompt, so give ``Corrupt(prompt)`` instead.

    Raises:
        InfoFlowError: not a list, an entry neither an intervention nor a name, unknown names (all of them named,
            with the registry), fewer than two interventions, or one listed twice.
    """
    if isinstance(interventions, (str, bytes, Intervention)) or not isinstance(interventions, Sequence):
        raise InfoFlowError(
            "interventions must be a list of two or more interventions, such as [Zero(), Dampen(0.5), Knockout()] "
            f"or ['zero', 'dampen', 'knockout']; got {interventions!r}."
        )
    wrong = [f"[{i}] {item!r}" for i, item in enumerate(interventions) if not isinstance(item, (str, Intervention))]
    if wrong:
        raise InfoFlowError(
            "Each intervention to compare must be an Intervention such as Dampen(0.5) or a name from "
            f"{', '.join(INTERVENTIONS)}; got {', '.join(wrong)}."
        )
    unknown = [item for item in interventions if isinstance(item, str) and item not in INTERVENTIONS]
    if unknown:
        raise InfoFlowError(
            f"Unknown intervention name(s) in the consensus list: {', '.join(map(repr, unknown))}; "
            f"the interventions are {', '.join(INTERVENTIONS)}."
        )
    if len(interventions) < 2:
        raise InfoFlowError(
            f"A consensus compares two or more interventions; got {len(interventions)}: "
            f"{list(interventions)!r}. Add one, e.g. [Zero(), Dampen(0.5), Knockout()]."
        )
    built = [item if isinstance(item, Intervention) else build_intervention(item) for item in interventions]
    for i, item in enumerate(built):
        if item in built[:i]:
            raise InfoFlowError(f"{item!r} is listed twice among the interventions to compare; list each once.")
    return built


def label_of(intervention: Intervention) -> str:
    """A short column label: ``"zero"``, ``"dampen(alpha=0.5)"``; long texts (a corrupted prompt) are left out.

    Parameters that are numbers, booleans or strings of at most 16 characters are shown; others (a prompt,
    a list) are not, so two interventions may share a label (:func:`labels_of` numbers them).
    """
    params = intervention.params()
    short = {
        key: value
        for key, value in params.items()
        if key == "kind"
        or isinstance(value, (bool, int, float))
        or (isinstance(value, str) and len(value) <= 16 and value.strip())
    }
    return describe(short) or type(intervention).__name__.lower()


def labels_of(interventions: Sequence[Intervention]) -> list[str]:
    """Each intervention's :func:`label_of`, a repeated one numbered (``"corrupt"``, ``"corrupt#2"``)."""
    labels: list[str] = []
    for intervention in interventions:
        label, k = label_of(intervention), 1
        while (label if k == 1 else f"{label}#{k}") in labels:
            k += 1
        labels.append(label if k == 1 else f"{label}#{k}")
    return labels


def span_key(graph: FlowGraph, edge: Edge) -> SpanKey:
    """The edge's spans, by which the graphs of a comparison are matched."""
    s, t = graph.nodes[edge.source], graph.nodes[edge.target]
    return (s.start, s.end), (t.start, t.end)


def counts(effect: float, noise_floor: float) -> bool:
    """Whether ``effect`` takes part in the sign rule: finite, nonzero and ``|effect| >= noise_floor``."""
    return math.isfinite(effect) and effect != 0 and abs(effect) >= noise_floor


@dataclass(frozen=True)
class Agreement:
    """How one edge's effects compare across the interventions.

    Attributes:
        signs_agree: no two counted effects have opposite signs (True when none or one counts).
        n_agree: how many counted effects share the commoner sign (the larger of the two counts).
        n_signed: how many effects count (above the noise floor, finite, nonzero), of all the interventions.
    """

    signs_agree: bool
    n_agree: int
    n_signed: int


def sign_agreement(effects: Sequence[float], noise_floors: Sequence[float]) -> Agreement:
    """The :class:`Agreement` of one edge's effects (NaN where an intervention did not measure it).

    Examples:
        >>> sign_agreement([2.0, 0.5, -1e-6], [1e-4, 1e-4, 1e-4])
        Agreement(signs_agree=True, n_agree=2, n_signed=2)
        >>> sign_agreement([2.0, -0.5, math.nan], [1e-4, 1e-4, 1e-4])
        Agreement(signs_agree=False, n_agree=1, n_signed=2)
    """
    signed = [e for e, floor in zip(effects, noise_floors) if counts(e, floor)]
    positive = sum(e > 0 for e in signed)
    negative = len(signed) - positive
    return Agreement(signs_agree=positive == 0 or negative == 0, n_agree=max(positive, negative), n_signed=len(signed))


@dataclass
class Comparison:
    """The graphs of one prompt and metric under several interventions, matched edge by edge.

    Attributes:
        graphs: each intervention's graph, by label (:func:`labels_of`), in the order given.
        interventions: each intervention, by the same labels.
    """

    graphs: dict[str, FlowGraph]
    interventions: dict[str, Intervention] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.graphs) < 2:
            raise InfoFlowError(f"A comparison needs two graphs or more; got {len(self.graphs)}.")
        tokens = {tuple(g.tokens) for g in self.graphs.values()}
        if len(tokens) != 1:
            raise InfoFlowError("The graphs of a comparison must share their prompt (their tokens differ).")
        self._found: list[dict[SpanKey, tuple[Edge, int]]] | None = None  # _cells(), computed once

    def __repr__(self) -> str:
        return f"Comparison({', '.join(self.graphs)}; {len(self.keys())} edges)"

    @property
    def labels(self) -> list[str]:
        """The interventions' labels, in order: the suffixes of the table's ``effect_`` and ``rank_`` columns."""
        return list(self.graphs)

    def noise_floors(self) -> list[float]:
        """Each graph's ``stats["noise_floor"]`` (0 for a graph without one)."""
        return [float(g.stats.get("noise_floor", 0.0) or 0.0) for g in self.graphs.values()]

    def _cells(self) -> list[dict[SpanKey, tuple[Edge, int]]]:
        """Per graph: each span pair's edge and its rank by |effect| (1 = strongest); a repeated pair: the stronger."""
        if self._found is not None:
            return self._found
        cells = []
        for graph in self.graphs.values():
            found: dict[SpanKey, tuple[Edge, int]] = {}
            for rank, k in enumerate(strongest([e.effect for e in graph.edges]), start=1):
                found.setdefault(span_key(graph, graph.edges[k]), (graph.edges[k], rank))
            cells.append(found)
        self._found = cells
        return cells

    def keys(self) -> list[SpanKey]:
        """Every span pair measured under some intervention: the first graph's by rank, then others by best rank."""
        cells = self._cells()
        every = {key for found in cells for key in found}

        def order(key: SpanKey) -> tuple[int, int]:
            ranks = [found[key][1] for found in cells if key in found]
            first = cells[0][key][1] if key in cells[0] else math.inf
            return (first, min(ranks))  # type: ignore[return-value]

        return sorted(every, key=order)

    def effects(self, key: SpanKey) -> list[float]:
        """The effects of one span pair under each intervention, in order (NaN where it was not measured)."""
        return [found[key][0].effect if key in found else math.nan for found in self._cells()]

    def agreements(self) -> dict[SpanKey, Agreement]:
        """Each span pair's :class:`Agreement` (see :data:`SIGN_RULE`)."""
        floors = self.noise_floors()
        return {key: sign_agreement(self.effects(key), floors) for key in self.keys()}

    def to_pandas(self) -> pd.DataFrame:
        """One row per span pair; rows follow the first intervention's ranking (pairs it lacks after).

        Columns: ``source_span``, ``target_span`` (``"start:end"``), ``source_text``, ``target_text``; per
        intervention label ``effect_<label>`` (NaN where not measured) and ``rank_<label>`` (by |effect| in
        that graph, 1 = strongest, as :meth:`FlowGraph.to_pandas` ranks; missing where not measured);
        ``signs_agree``, ``n_agree`` and ``n_signed`` (:class:`Agreement`); ``flags``: every flag the edge has
        under any intervention, plus ``inconsistent`` where the signs disagree, comma-joined.
        """
        import pandas as pd

        cells, floors = self._cells(), self.noise_floors()
        tokens = next(iter(self.graphs.values())).tokens
        rows = []
        for key in self.keys():
            (s0, s1), (t0, t1) = key
            found = [cell.get(key) for cell in cells]
            effects = [math.nan if f is None else f[0].effect for f in found]
            agree = sign_agreement(effects, floors)
            names = {name for f in found if f is not None for name in f[0].flags}
            if not agree.signs_agree:
                names.add(INCONSISTENT)
            row: dict[str, Any] = {
                "source_span": f"{s0}:{s1}",
                "target_span": f"{t0}:{t1}",
                "source_text": "".join(tokens[s0:s1]),
                "target_text": "".join(tokens[t0:t1]),
            }
            row.update({f"effect_{label}": effect for label, effect in zip(self.labels, effects)})
            row.update({f"rank_{label}": None if f is None else f[1] for label, f in zip(self.labels, found)})
            row.update(signs_agree=agree.signs_agree, n_agree=agree.n_agree, n_signed=agree.n_signed)
            row["flags"] = ",".join(name for name in FLAGS if name in names)
            rows.append(row)
        columns = [
            "source_span", "target_span", "source_text", "target_text",
            *(f"effect_{label}" for label in self.labels), *(f"rank_{label}" for label in self.labels),
            "signs_agree", "n_agree", "n_signed", "flags",
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=columns)
        for label in self.labels:
            frame[f"rank_{label}"] = frame[f"rank_{label}"].astype("Int64")  # whole ranks, <NA> where not measured
        return frame

    def consensus(self, reference: int | str = 0) -> FlowGraph:
        """The reference intervention's graph, each edge whose signs disagree flagged ``"inconsistent"``.

        Its edges, effects, damage and other flags are the reference graph's; an ``inconsistent`` flag it
        carried is replaced by this comparison's verdict. Provenance: the reference's, with
        ``intervention_text`` saying it is a consensus and ``consensus``: the interventions compared (params and
        labels), the reference's label, the rule and the number of inconsistent edges. Stats: the reference's,
        with ``forward_passes``, ``interventions`` and ``seconds`` summed over every graph (the cost of the
        comparison; each graph's own under ``stats["consensus"]``). Plain data like every graph: an engine of the
        reference intervention measures inside its edges (:meth:`FlowEngine.expand`).

        Args:
            reference: the index or the label of the reference intervention (the first by default).

        Raises:
            InfoFlowError: no such intervention.
        """
        labels = self.labels
        if isinstance(reference, str) and reference in self.graphs:
            label = reference
        elif (
            not isinstance(reference, str)
            and is_whole(reference, minimum=None)
            and -len(labels) <= reference < len(labels)
        ):
            label = labels[int(reference)]
        else:
            raise InfoFlowError(
                f"reference must be an index 0..{len(labels) - 1} or a label ({', '.join(labels)}); got {reference!r}."
            )
        graph = self.graphs[label]
        verdicts = self.agreements()
        edges = []
        for edge in graph.edges:
            names = set(edge.flags) - {INCONSISTENT}
            if not verdicts[span_key(graph, edge)].signs_agree:
                names.add(INCONSISTENT)
            edges.append(replace(edge, flags=tuple(name for name in FLAGS if name in names)))
        others = [other for other in labels if other != label]
        text = graph.provenance.get("intervention_text") or label
        compared = [self.interventions[lab].params() if lab in self.interventions else {"kind": lab} for lab in labels]
        provenance = {
            **graph.provenance,
            "intervention_text": f"{text}; consensus with {', '.join(others)}: edges whose signs disagree faded",
            "consensus": {
                "interventions": compared,
                "labels": labels,
                "reference": label,
                "rule": SIGN_RULE,
                "inconsistent": sum(INCONSISTENT in e.flags for e in edges),
            },
        }
        kept = ("forward_passes", "interventions", "seconds")
        costs = {lab: {k: g.stats.get(k, 0) for k in kept} for lab, g in self.graphs.items()}
        stats = {
            **graph.stats,
            "forward_passes": sum(c["forward_passes"] or 0 for c in costs.values()),
            "interventions": sum(c["interventions"] or 0 for c in costs.values()),
            "seconds": round(sum(c["seconds"] or 0.0 for c in costs.values()), 3),
            "consensus": costs,
        }
        return replace(
            graph,
            tokens=list(graph.tokens),
            nodes=list(graph.nodes),
            edges=edges,
            provenance=provenance,
            stats=stats,
        )


def compare_on(
    engine: FlowEngine,
    interventions: Sequence[Intervention | str] = DEFAULT_INTERVENTIONS,
    strategy: Strategy | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    measure_first_on_engine: bool = False,
) -> Comparison:
    """Compare the interventions on an engine's clean run: each gets an engine derived from it and measures a graph.

    Every derived engine is prepared (Corrupt: its corrupted prompt run and length check) before any graph
    is measured, so a bad corrupted prompt fails early. The widget calls this with its per-metric engine.

    Args:
        engine: the engine whose clean run (model, prompt, metric, layers) every intervention shares.
        interventions: two or more interventions or names (:func:`check_interventions`).
        strategy: which edges each graph measures (``Full()`` by default).
        progress: True for a bar per intervention, False for none, or ``progress(done, total, desc)`` over all
            interventions (each counted as many edges as the one running; exact for ``Full``), ``desc`` naming
            the intervention (``"zero (1 of 3): full graph"``); None: the engine's.
        cancel: an event that stops the computation (:class:`ComputationCancelled`) at the next batch.
        measure_first_on_engine: measure the first intervention on ``engine`` itself, which must already have it
            (its graph's stats then count the clean run, as :func:`compute_flow`'s do).
    """
    built = check_interventions(interventions)
    strategy = check_graph_request(strategy, 0.0, engine.metric)
    labels = labels_of(built)
    progress = engine.progress if progress is None else progress
    engines = []
    for k, (label, intervention) in enumerate(zip(labels, built)):
        report = _reporter(progress, label, k, len(built))
        if k == 0 and measure_first_on_engine:
            if engine.intervention != intervention:
                raise InfoFlowError(f"The engine's intervention is {engine.intervention!r}, not {intervention!r}.")
            engine.progress, engine.cancel = report, cancel
            engines.append(engine)
        else:
            engines.append(engine.with_intervention(intervention, progress=report, cancel=cancel))
    graphs = {}
    for label, derived in zip(labels, engines):
        try:
            graphs[label] = derived.graph(strategy)
        finally:
            close = getattr(derived.progress, "close", None)
            if close is not None:
                close()
    return Comparison(graphs, dict(zip(labels, built)))


def compare_interventions(
    model: TransformersModel | str,
    prompt: str,
    metric: Metric | Callable[..., Any] | None = None,
    interventions: Sequence[Intervention | str] = DEFAULT_INTERVENTIONS,
    *,
    answer: str | None = None,
    distractor: str | None = None,
    strategy: Strategy | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Progress = True,
    cancel: threading.Event | None = None,
) -> Comparison:
    """Measure the same edges under several interventions, sharing one clean run, and compare them edge by edge.

    Everything is checked before the model loads or runs: the interventions (objects or names from
    ``INTERVENTIONS``; unknown names, fewer than two, or anything else refused), the metric and the strategy.

    Args:
        model: a model from :func:`load_model`, or a name/path for it.
        prompt: the clean prompt.
        metric: as in :func:`compute_flow` (by default from ``answer`` and ``distractor``, else the KL divergence).
        interventions: two or more interventions or names; by default ``Zero(), Dampen(0.5), Knockout()``.
        answer: the token the model should predict.
        distractor: the token it should not.
        strategy: which edges every graph measures; ``Full()`` (every token pair) by default. Search
            strategies may measure different edges under each intervention: see :class:`Comparison`.
        layers: the layers to intervene in (default: all).
        batch_size: edges per forward pass (default: from ``memory_budget``).
        memory_budget: bytes of activations one forward pass may use.
        progress: True for a progress bar per intervention, False for none, or ``progress(done, total, desc)``.
        cancel: an event that stops the computation once set.

    Returns:
        A :class:`Comparison`: ``.to_pandas()`` for the table, ``.consensus()`` for the flagged graph.

    Examples:
        >>> comparison = compare_interventions(model, "When Mary and John went to the store, John gave a book to",
        ...                                    answer=" Mary", distractor=" John",
        ...                                    interventions=[Zero(), Dampen(0.5), Knockout()])
        >>> comparison.to_pandas().head(10)
        >>> comparison.consensus().top(10)
    """
    built = check_interventions(interventions)
    metric = as_metric(metric, answer, distractor)
    check_graph_request(strategy, 0.0, metric)
    engine = FlowEngine(
        model,
        prompt,
        metric,
        built[0],
        layers=layers,
        batch_size=batch_size,
        memory_budget=memory_budget,
        progress=progress,
        cancel=cancel,
    )
    return compare_on(engine, built, strategy, progress=progress, cancel=cancel, measure_first_on_engine=True)


class _Bars:
    """``progress(done, total, desc)`` drawing a tqdm bar on stderr for one intervention's measurements."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bar: Any = None

    def __call__(self, done: int, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        if self.bar is None or self.bar.total != total or done < self.bar.n:
            self.close()
            self.bar = tqdm(total=total, desc=f"{self.prefix}: {desc}", unit="edge")
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _reporter(progress: Progress, label: str, k: int, count: int) -> Progress:
    """The progress of intervention ``k`` of ``count``: its own bar, nothing, or the caller's over all of them."""
    prefix = f"{label} ({k + 1} of {count})"
    if progress is True:
        return _Bars(prefix)
    if not progress:
        return False
    report = progress

    def overall(done: int, total: int, desc: str) -> None:
        report(k * total + done, count * total, f"{prefix}: {desc}")

    return overall
