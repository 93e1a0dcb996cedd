"""Flow graphs of a prompt set, lined up by role: :func:`compute_flow_set`.

Each prompt gets its own engine (its clean run, its metric from its answer and distractor). With a
strategy that names its edges in advance (``Full``) the rows of every prompt are measured together
(:mod:`infoflow_widget.engine.batching`): prompts of one token length share forward passes, and each
prompt's effects are exactly what ``compute_flow`` gives for it alone. A search strategy runs prompt
by prompt, since its next edges depend on what it found. The per-prompt graphs become a
``RoleGraph`` by their labels (:meth:`RoleGraph.from_flow_graphs`).

``executor="ray"`` splits the set into shards, one per worker of a Ray cluster (the user's, or a
local one), each worker loading the model once; the driver only aggregates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..core.checks import check_progress_and_cancel
from ..core.errors import ComputationCancelled, InfoFlowError, is_whole
from ..engine.batching import Rows, measure
from ..engine.engine import DEFAULT_MEMORY_BUDGET, FlowEngine, check_graph_request
from ..engine.metrics import as_metric
from ..engine.models import BUNDLED_MODELS, load_model
from ..graph.flowgraph import FlowGraph
from ..graph.rolegraph import RoleGraph
from ..interventions.base import Intervention
from ..search.strategies import Full, Strategy
from ..text.promptset import PromptSet

if TYPE_CHECKING:
    from nnsight.modeling.transformers import TransformersModel

    from ..engine.batching import Group

EXECUTORS = ("local", "ray")


def compute_flow_set(
    model: TransformersModel | str,
    prompt_set: PromptSet,
    intervention: Intervention | None = None,
    *,
    strategy: Strategy | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: bool | Callable[[int, int, str], None] = True,
    cancel: threading.Event | None = None,
    executor: str = "local",
    address: str | None = None,
    workers: int = 2,
    worker_options: dict[str, Any] | None = None,
) -> RoleGraph:
    """The role graph of a prompt set: each role edge's mean effect over the prompts, with its spread.

    Each prompt's metric is the logit difference of its answer and distractor (the log-probability of
    its answer when it has no distractor).

    Args:
        model: a model from :func:`load_model`, or a name or path (required for ``executor="ray"``,
            whose workers load it themselves: a bundled name, a folder or a hub id).
        prompt_set: the prompts, with answers, distractors and roles (:class:`PromptSet`).
        intervention: as for :func:`compute_flow` (``Zero()`` by default; ``Corrupt.auto()`` corrupts
            each prompt on its own).
        strategy: ``Full()`` (default: every token edge, prompts batched together) or a search strategy.
        layers: the layers to intervene in (default: all).
        batch_size: edges per forward pass (default: from ``memory_budget``).
        memory_budget: bytes of activations one forward pass may use.
        progress: True for a progress bar, False for none, or ``progress(done, total, desc)``.
        cancel: an event that stops the computation once set.
        executor: ``"local"`` (this process) or ``"ray"``.
        address: the Ray cluster to join (``ray.init(address=...)``); None starts a local one unless Ray is
            initialised already.
        workers: Ray workers (shards of the set), >= 1.
        worker_options: Ray resources of each worker (default ``{"num_cpus": 1}``; ``{"num_gpus": 1}`` puts
            one worker on each GPU of the cluster).

    Returns:
        A :class:`RoleGraph`; its ``graphs`` hold each prompt's :class:`FlowGraph`.

    Raises:
        InfoFlowError: a bad argument, or a prompt whose answer or distractor is not one token, before any
            forward pass.
    """
    strategy = _check_request(prompt_set, strategy, executor, workers, progress, cancel)
    if executor == "ray":
        start = time.perf_counter()
        options = dict(worker_options or {"num_cpus": 1})
        settings = (intervention, strategy, layers, batch_size, memory_budget)
        labelled, graphs = _ray_flow_graphs(_loadable(model), prompt_set, settings, address, workers, options)
        ran = len(_shards(len(prompt_set), workers))  # the workers that ran: one per non-empty shard
        return _role_graph(labelled, graphs, strategy, time.perf_counter() - start, executor="ray", workers=ran)
    model = load_model(model) if isinstance(model, str) else model
    start = time.perf_counter()
    labelled, graphs = flow_graphs(
        model, prompt_set, intervention, strategy, layers, batch_size, memory_budget, progress, cancel
    )
    return _role_graph(labelled, graphs, strategy, time.perf_counter() - start, executor="local")


def flow_graphs(
    model: TransformersModel,
    prompt_set: PromptSet,
    intervention: Intervention | None,
    strategy: Strategy,
    layers: Sequence[int] | None,
    batch_size: int | None,
    memory_budget: int,
    progress: bool | Callable[[int, int, str], None] = False,
    cancel: threading.Event | None = None,
) -> tuple[PromptSet, list[FlowGraph]]:
    """The labelled prompt set and one flow graph per prompt, measured in this process."""
    labelled = prompt_set if prompt_set.labels is not None else prompt_set.labelled(model.tokenizer)
    metrics = _metrics(model, labelled)
    engines = []
    for k, record in enumerate(labelled):
        if cancel is not None and cancel.is_set():
            raise ComputationCancelled(f"prompt set: cancelled after {k} of {len(labelled)} clean runs")
        engine = FlowEngine(
            model, record.prompt, metrics[k], intervention, layers=layers, batch_size=batch_size,
            memory_budget=memory_budget, progress=False, cancel=cancel,
        )  # fmt: skip
        _check_labels(engine, record.labels, k)
        engines.append(engine)
    if strategy.groups(engines[0]) is None:
        return labelled, _searched(engines, strategy, progress)
    # A strategy that names its groups (not a search) names them for every prompt.
    requests = [Rows(engine, cast("list[Group]", strategy.groups(engine))) for engine in engines]
    effects = measure(requests, engines[0], "prompt set", progress, cancel)
    return labelled, [engine.graph_of(strategy, found) for engine, found in zip(engines, effects)]


def _ray_flow_graphs(
    model: str, prompt_set: PromptSet, settings: tuple, address: str | None, workers: int, options: dict[str, Any]
) -> tuple[PromptSet, list[FlowGraph]]:
    """One shard of the set per Ray worker, each loading the model once; the graphs come back as plain data."""
    try:
        import ray
    except ImportError:
        raise InfoFlowError("executor='ray' needs Ray: pip install 'infoflow-widget[ray]'.") from None
    started = not ray.is_initialized()
    if started:  # a cluster the user joined (or started) stays up; one started here goes down after
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        # Ray's stubs type remote(**options) as a function decorator: here it decorates a class, an actor.
        actor = cast(Any, ray.remote(**options))(_Worker)
        shards = _shards(len(prompt_set), workers)
        actors = [actor.remote(model) for _ in shards]
        futures = [a.run.remote(_subset(prompt_set, shard), *settings) for a, shard in zip(actors, shards)]
        results = ray.get(futures)
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()
    labels = tuple(label for result in results for label in result["labels"])
    roles = tuple(role for result in results for role in result["roles"])
    graphs = [FlowGraph.from_dict(graph) for result in results for graph in result["graphs"]]
    return replace(prompt_set, labels=labels, roles=roles), graphs


class _Worker:
    """A Ray actor holding one model; :meth:`run` measures a shard of a prompt set on it."""

    def __init__(self, model: str) -> None:
        self.model = load_model(model, quiet=True)

    def run(self, prompt_set: PromptSet, *settings: Any) -> dict[str, Any]:
        labelled, graphs = flow_graphs(self.model, prompt_set, *settings)
        return {"labels": labelled.labels, "roles": labelled.roles, "graphs": [g.to_dict() for g in graphs]}


def _shards(count: int, workers: int) -> list[list[int]]:
    """Contiguous shards of ``count`` prompts for up to ``workers`` workers, none empty."""
    size = -(-count // workers)
    return [list(range(a, min(a + size, count))) for a in range(0, count, size)]


def _subset(prompt_set: PromptSet, indices: list[int]) -> PromptSet:
    def pick(values: Any) -> Any:
        return None if values is None else tuple(values[k] for k in indices)

    return replace(
        prompt_set,
        prompts=pick(prompt_set.prompts),
        answers=pick(prompt_set.answers),
        distractors=pick(prompt_set.distractors),
        roles=pick(prompt_set.roles),
        labels=pick(prompt_set.labels),
        slots=pick(prompt_set.slots),
    )


def _loadable(model: Any) -> str:
    """The name or path Ray workers load ``model`` by."""
    if isinstance(model, str):
        return model
    name = getattr(getattr(model, "_module", None), "infoflow_name", None)
    if isinstance(name, str) and (name in BUNDLED_MODELS or Path(name).exists() or "/" in name):
        return name
    raise InfoFlowError(
        "executor='ray' needs a model its workers can load: a bundled name, a folder or a hub id (or a model from "
        f"load_model(name)); got a model named {name!r}."
    )


def _searched(engines: list[FlowEngine], strategy: Strategy, progress: Any) -> list[FlowGraph]:
    """A search strategy's graph of each prompt in turn (its next edges depend on what it found)."""
    from tqdm.auto import tqdm

    graphs = []
    for engine in tqdm(engines, desc="prompt set", unit="prompt", disable=progress is not True):
        graphs.append(engine.graph(strategy))
        if callable(progress):
            progress(len(graphs), len(engines), "prompt set")
    return graphs


def _role_graph(
    labelled: PromptSet, graphs: list[FlowGraph], strategy: Strategy, seconds: float, **how: Any
) -> RoleGraph:
    first = graphs[0].provenance
    provenance = {
        "model": first.get("model"),
        "intervention": first.get("intervention"),
        "intervention_text": first.get("intervention_text"),
        "metric": "logit difference of each prompt's answer and distractor",
        "strategy": strategy.params(),
        "layers": first.get("layers"),
        "prompt_set": {"template": labelled.template, **labelled.provenance},
        **how,
    }
    stats = {
        "prompts": len(graphs),
        # Joint passes are counted on the engine of the first prompt of each batch plan: the sum is the set's.
        "forward_passes": sum(g.stats["forward_passes"] for g in graphs),
        "interventions": sum(g.stats["interventions"] for g in graphs),
        "seconds": round(seconds, 3),
    }
    labels = cast("tuple[tuple[str, ...], ...]", labelled.labels)  # the set is labelled: flow_graphs labels it
    role_graph = RoleGraph.from_flow_graphs(graphs, labels, labelled.roles, provenance=provenance, stats=stats)
    role_graph.prompt_set = labelled
    return role_graph


def _metrics(model: TransformersModel, prompt_set: PromptSet) -> list[Any]:
    """Each prompt's metric, prepared once to check its tokens before any model work."""
    metrics = []
    for k, record in enumerate(prompt_set):
        metric = as_metric(None, record.answer, record.distractor)
        try:
            metric.prepare(model.tokenizer)
        except InfoFlowError as err:
            raise InfoFlowError(f"prompt {k} ({record.prompt!r}): {err}") from None
        metrics.append(metric)
    return metrics


def _check_labels(engine: FlowEngine, labels: Sequence[str] | None, k: int) -> None:
    if labels is not None and len(labels) != engine.n:
        raise InfoFlowError(
            f"prompt {k} is {engine.n} tokens for this model but the set labels {len(labels)}: label the set with "
            "this model's tokenizer (prompt_set.labelled(model.tokenizer))."
        )


def _check_request(
    prompt_set: Any, strategy: Strategy | None, executor: Any, workers: Any, progress: Any, cancel: Any
) -> Strategy:
    if not isinstance(prompt_set, PromptSet):
        raise InfoFlowError(
            "prompt_set must be a PromptSet (PromptSet.from_template(...), PromptSet.from_jsonl(path) or "
            f"PromptSet(prompts, answers, distractors, roles)); got {type(prompt_set).__name__}."
        )
    if executor not in EXECUTORS:
        raise InfoFlowError(f"executor must be one of {', '.join(map(repr, EXECUTORS))}; got {executor!r}.")
    if not is_whole(workers, minimum=1):
        raise InfoFlowError(f"workers must be a whole number >= 1; got {workers!r}.")
    check_progress_and_cancel(progress, cancel)
    return check_graph_request(strategy if strategy is not None else Full(), 0.0, as_metric(None, " a", " b"))
