"""Rows of forward passes: how the engine's measurements are cut into batched traces.

A measurement is a list of *rows*, each one edge group intervened in one engine's prompt, in every
head of every chosen layer or only where a ``(layer, head)`` mask says (:func:`head_masks`, for an
edge's anatomy). Rows that can share a forward pass are batched together, whichever engine they
come from: the same model, token count, chosen layers and edit (:meth:`Intervention.edit_key`; two
Corrupt engines share their edit, their corrupted keys and values travel per row). So one pass can
hold rows of different prompts (a prompt set), of different layer and head masks (an anatomy), or
of the samples of an ``AutoCorrupt``.

Within a set of compatible rows, rows are sorted by their earliest target and cut by
``plan_batches``: a batch computes only the positions from its
earliest target on and takes every earlier position's keys and values from the clean runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ComputationCancelled
from ..interventions.edges import edit_masks
from .planning import DAMAGE_ELEMENTS, plan_batches

if TYPE_CHECKING:
    import torch

    from .engine import FlowEngine

Group = tuple[Sequence[int], Sequence[int]]
"""An edge between position groups: (source positions, target positions)."""


@dataclass(frozen=True)
class Rows:
    """Edge groups to measure on one engine, optionally each only in some heads of some layers.

    Attributes:
        engine: the engine (an ``AutoCorrupt`` one is measured on each of its samples, as their mean).
        groups: (sources, targets) per edge group, positions checked by the caller.
        where: None (every head of every chosen layer), or one boolean ``(chosen layers, heads)`` mask per group.
        record: keep each group's damage (and spread) in the engine's ``measurements``.
    """

    engine: FlowEngine
    groups: list[Group]
    where: list[torch.Tensor] | None = None
    record: bool = True


@dataclass(frozen=True)
class Batch:
    """One forward pass's inputs: rows of token ids, the clean keys and values, edits and contexts."""

    ids: torch.Tensor
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    context: dict[int, Any]
    edit: torch.Tensor
    where: torch.Tensor | None
    start: int


def measure(
    requests: Sequence[Rows],
    owner: FlowEngine,
    desc: str,
    progress: bool | Callable[[int, int, str], None],
    cancel: Any,
) -> list[list[float]]:
    """The effects, metric(clean) - metric(intervened), of every request's groups, batched across requests.

    Forward passes, positions and seconds are counted on ``owner``; interventions on each request's engine.
    ``progress`` as the engine's: True for a tqdm bar, or a callable ``progress(done, total, desc)``.
    """
    from tqdm.auto import tqdm

    begin = time.perf_counter()
    rows: list[tuple[FlowEngine, Group, torch.Tensor | None]] = []
    slots: list[list[list[int]]] = []  # per request, per group: its rows (one per sample)
    for request in requests:
        leaves = request.engine.samples or [request.engine]
        distinct = {id(leaf): leaf for leaf in leaves}
        first_row = {}
        for key, leaf in distinct.items():
            first_row[key] = len(rows)
            wheres = request.where or [None] * len(request.groups)
            rows += [(leaf, group, where) for group, where in zip(request.groups, wheres)]
        slots.append([[first_row[id(leaf)] + k for leaf in leaves] for k in range(len(request.groups))])
    effects, damages = [0.0] * len(rows), [0.0] * len(rows)
    finished = [0]  # a disabled tqdm bar does not count
    with tqdm(total=len(rows), desc=desc, unit="edge", disable=progress is not True) as bar:

        def done(indices: list[int], logits: torch.Tensor) -> None:
            _score_rows(rows, indices, logits, effects, damages)
            bar.update(len(indices))
            finished[0] += len(indices)
            if callable(progress):
                progress(finished[0], len(rows), desc)

        _run(rows, owner, done, cancel, desc)
    found = [_collect(request, slot, effects, damages) for request, slot in zip(requests, slots)]
    owner.seconds += time.perf_counter() - begin
    return found


def head_masks(layers: int, heads: int) -> dict[str, list[torch.Tensor]]:
    """The ``(layers, heads)`` masks of an anatomy: each layer, each (layer, head), and the windows 0..l and l..L-1."""
    import torch

    def mask() -> torch.Tensor:
        return torch.zeros(layers, heads, dtype=torch.bool)

    def filled(rows: slice) -> torch.Tensor:
        m = mask()
        m[rows] = True
        return m

    per_head = []
    for layer in range(layers):
        for head in range(heads):
            m = mask()
            m[layer, head] = True
            per_head.append(m)
    return {
        "layers": [filled(slice(layer, layer + 1)) for layer in range(layers)],
        "heads": per_head,
        "up_to": [filled(slice(0, layer + 1)) for layer in range(layers)],
        "from": [filled(slice(layer, layers)) for layer in range(layers)],
    }


def _collect(request: Rows, slot: list[list[int]], effects: list[float], damages: list[float]) -> list[float]:
    """A request's effects: each group's row, or the mean over its sample rows (with their spread recorded)."""
    found = []
    for group, rows in zip(request.groups, slot):
        values = [effects[r] for r in rows]
        if request.record:
            measured = request.engine.measurements.setdefault((tuple(group[0]), tuple(group[1])), {})
            measured["damage"] = statistics.fmean(damages[r] for r in rows)
            if len(values) > 1:
                measured["effect_std"] = statistics.stdev(values)
        found.append(statistics.fmean(values) if len(values) > 1 else values[0])
    request.engine.interventions += len(request.groups)
    return found


def _score_rows(
    rows: list[tuple[FlowEngine, Group, Any]],
    indices: list[int],
    logits: torch.Tensor,
    effects: list[float],
    damages: list[float],
) -> None:
    """Each row's effect and damage from its engine's metric and clean run (rows of one engine scored together)."""
    by_engine: dict[int, list[int]] = {}
    for position, k in enumerate(indices):
        by_engine.setdefault(id(rows[k][0]), []).append(position)
    for positions in by_engine.values():
        engine = rows[indices[positions[0]]][0]
        chosen = logits[positions]
        values = engine._score(chosen, engine.clean_logits)
        clean_logp = engine.clean_logits.double().log_softmax(-1)
        for position, value, damage in zip(positions, values.double().tolist(), kl_damage(chosen, clean_logp)):
            effects[indices[position]] = engine.clean_metric - value
            damages[indices[position]] = damage


def kl_damage(logits: torch.Tensor, clean_logp: torch.Tensor) -> list[float]:
    """KL(clean || intervened) of the next-token distribution for each row of ``logits`` ``(batch, vocab)``.

    How much an intervention changed the whole prediction, not just the metric's tokens: the
    ``damage`` of an edge (:mod:`infoflow_widget.graph.trust`). Computed in float64, a few rows at a time (a
    vocabulary of 262k in float64 is 2 MB a row: :data:`~infoflow_widget.engine.planning.DAMAGE_ELEMENTS` at a time,
    which the memory planner counts), and never below 0.
    """
    found = []
    for chunk in logits.split(max(1, DAMAGE_ELEMENTS // logits.shape[-1])):
        logp = chunk.double().log_softmax(-1)
        found += (clean_logp.exp() * (clean_logp - logp)).sum(-1).clamp_min(0.0).tolist()
    return found


def _run(
    rows: list[tuple[FlowEngine, Group, Any]],
    owner: FlowEngine,
    done: Callable[[list[int], torch.Tensor], None],
    cancel: Any,
    desc: str,
) -> None:
    """Run the rows in batches of compatible rows, calling ``done(row indices, final logits)`` after each pass."""
    import torch

    finished = 0
    for indices in _compatible(rows).values():
        lead = rows[indices[0]][0]
        order = sorted(indices, key=lambda k: min(rows[k][1][1]))
        starts = [min(rows[k][1][1]) for k in order]
        engines = list({id(rows[k][0]): rows[k][0] for k in indices}.values())
        cap = _row_caps(engines)
        plan = plan_batches(starts, lead.n, cap)
        while plan:
            if cancel is not None and cancel.is_set():
                raise ComputationCancelled(f"{desc}: cancelled after {finished} of {len(rows)} edges")
            first, last = plan[0]
            chosen = order[first:last]
            try:
                logits = lead._trace(_batch([rows[k] for k in chosen], starts[first]))
            except torch.OutOfMemoryError:
                if len(chosen) == 1:
                    raise
                halved = cap(starts[first]) // 2
                for engine in engines:  # the estimate was too generous for this device: plan smaller batches
                    engine.limit_rows(halved)
                plan = [(first + a, first + b) for a, b in plan_batches(starts[first:], lead.n, cap)]
                continue
            plan.pop(0)
            owner.forward_passes += 1
            owner.positions += len(chosen) * (lead.n - starts[first])
            finished += len(chosen)
            done(chosen, logits)


def _row_caps(engines: list[FlowEngine]) -> Callable[[int], int]:
    """The most rows a pass starting at a position may hold: what every engine's budget allows."""
    stacked = len(engines) > 1  # rows of several engines each carry their own prefix and context

    def cap(start: int) -> int:
        return min(engine.rows_per_pass(start, stacked) for engine in engines)

    return cap


def _compatible(rows: list[tuple[FlowEngine, Group, Any]]) -> dict[Hashable, list[int]]:
    """Row indices by what rows must share to run in one pass: model, token count, layers and edit."""
    found: dict[Hashable, list[int]] = {}
    for k, (engine, _group, _where) in enumerate(rows):
        key = (id(engine.hf_model), engine.n, tuple(engine.layers), engine.intervention.edit_key())
        found.setdefault(key, []).append(k)
    return found


def _batch(rows: list[tuple[FlowEngine, Group, Any]], start: int) -> Batch:
    """The inputs of one pass over ``rows``; one engine's rows share its tensors (expanded, not copied)."""
    import torch

    engines = [engine for engine, _, _ in rows]
    lead, size = engines[0], len(rows)
    edit = edit_masks([group for _, group, _ in rows], lead.n, lead.hf_model.device)
    where = None
    if any(w is not None for _, _, w in rows):
        every = torch.ones(len(lead.layers), _heads(lead), dtype=torch.bool)
        where = torch.stack([every if w is None else w for _, _, w in rows]).to(edit.device)
    if all(engine is lead for engine in engines):
        ids = lead.input_ids.expand(size, -1)
        kv = [
            (k[:, :, :start].expand(size, -1, -1, -1), v[:, :, :start].expand(size, -1, -1, -1))
            for k, v in lead._clean_kv
        ]
        return Batch(ids, kv, lead._context, edit, where, start)
    ids = torch.cat([engine.input_ids for engine in engines])
    kv = [
        (
            torch.cat([e._clean_kv[layer][0][:, :, :start] for e in engines]),
            torch.cat([e._clean_kv[layer][1][:, :, :start] for e in engines]),
        )
        for layer in range(len(lead._clean_kv))
    ]
    return Batch(ids, kv, _stacked_context([engine._context for engine in engines]), edit, where, start)


def _stacked_context(contexts: list[dict[int, Any]]) -> dict[int, Any]:
    """Per layer, the rows' contexts joined along the batch: each tensor of a row's context has a batch of one."""
    import torch

    if all(context is contexts[0] for context in contexts):
        return contexts[0]
    return {
        layer: {name: torch.cat([context[layer][name] for context in contexts]) for name in contexts[0][layer]}
        for layer in contexts[0]
    }


def _heads(engine: FlowEngine) -> int:
    """The model's query heads per layer: the head axis of its attention patterns."""
    hf_model: Any = engine.hf_model  # a transformers model: torch's Module does not type its ``config``
    return hf_model.config.num_attention_heads
