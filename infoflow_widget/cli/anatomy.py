"""``infoflow anatomy``: where one edge's effect is carried, by layer, by (layer, head) and by window of layers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError
from ..core.files import check_destination, write_atomic
from .options import add_computation_options, build_engine, check_inputs, load_cli_model, print_corruption_notes

if TYPE_CHECKING:
    from ..graph.anatomy import Anatomy

NAME = "anatomy"
"""The command's name on the command line."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``anatomy`` command and its options to ``commands``."""
    anatomy = commands.add_parser(
        NAME,
        help="where one edge's effect is carried: by layer, by (layer, head) and by window of layers",
        description="The anatomy of one edge source -> target: its effect with the intervention in one layer at a "
        "time (all heads), in one (layer, head) at a time, and in the layers 0..l and l..L-1 (windows). Positions are "
        "0-based token indices: J, or a span J0:J1 holding J0..J1-1 (half-open, as in Python and the graph's span "
        "labels); a negative index counts from the end (-1: the last token; write --target=-3:-1 for a negative "
        "span). The JSON echoes the positions used as 'sources' and 'targets'.",
    )
    add_computation_options(anatomy)
    anatomy.add_argument("--source", required=True, help="source position J or span J0:J1 (J0..J1-1)")
    anatomy.add_argument("--target", required=True, help="target position I or span I0:I1 (I0..I1-1), e.g. -1")
    anatomy.add_argument(
        "--lens", action="store_true", help="add the logit lens at the last source and the last target position"
    )
    anatomy.add_argument("--out", required=True, help="anatomy.json (any case), or - for JSON on stdout")


def parse_positions(text: str, option: str) -> tuple[int, int | None]:
    """Parse a position ``"J"`` or a span ``"J0:J1"`` (half-open: J0..J1-1) into ``(J0, J1)``; ``(J, None)`` for one.

    Negative indices count from the end (:func:`resolve_positions` applies them once the prompt's length is known).

    Raises:
        InfoFlowError: the text is not an integer or two integers around one colon.
    """
    first, colon, last = text.strip().partition(":")
    try:
        if "_" in text:  # int() reads "1_0" as 10: a typo, not a position
            raise ValueError(text)
        start, stop = int(first), int(last) if colon else None
    except ValueError:
        raise InfoFlowError(
            f"{option} {text!r} is not a token position: write a 0-based index J (e.g. 4, or -1 for the last token) "
            "or a span J0:J1 holding J0..J1-1 (e.g. 3:6)."
        ) from None
    if stop is not None and (start >= 0) == (stop >= 0) and stop <= start:  # same sign: empty at any length
        raise InfoFlowError(f"{option} {text!r} is an empty span: J0:J1 holds J0..J1-1, so J1 must exceed J0.")
    return start, stop


def resolve_positions(span: tuple[int, int | None], n: int, option: str) -> list[int]:
    """The 0-based positions of a :func:`parse_positions` result in a prompt of ``n`` tokens.

    Raises:
        InfoFlowError: a position outside the prompt (0..n-1, or -n..-1), or a span empty once resolved.
    """
    start, stop = span
    text = str(start) if stop is None else f"{start}:{stop}"
    where = f"this prompt has {n} tokens: positions 0..{n - 1}, or -{n}..-1 from the end"
    if stop is None:
        if not -n <= start < n:
            raise InfoFlowError(f"{option} {text} is out of range: {where}.")
        return [start % n]
    if not -n <= start < n or not -n <= stop <= n:
        raise InfoFlowError(f"{option} {text} is out of range: {where} (a span's end J1 may be {n}).")
    first, end = start % n, stop + n if stop < 0 else stop
    if end <= first:
        raise InfoFlowError(f"{option} {text} is an empty span here ({first}:{end}): {where}.")
    return list(range(first, end))


def check_order(sources: list[int], targets: list[int], source: str, target: str) -> None:
    """Check that the edge runs forward: the first source is not after the last target.

    Raises:
        InfoFlowError: the source comes after the target (no position attends to a later one).
    """
    if sources[0] > targets[-1]:
        raise InfoFlowError(
            f"--source {source} comes after --target {target}: a position attends only to itself and earlier "
            "positions, so there is no such edge. Swap them?"
        )


def run(args: argparse.Namespace) -> None:
    """Check every argument, measure the edge's anatomy (and the logit lens with ``--lens``), and write its JSON.

    Raises:
        InfoFlowError: a bad argument (before the model loads, where it can tell) or a failed computation.
    """
    _check_out(args.out)
    source, target = parse_positions(args.source, "--source"), parse_positions(args.target, "--target")
    if min(source[0], target[0], target[1] or 0) >= 0:  # no index from the end: a reversed edge fails before loading
        check_order([source[0]], [target[0] if target[1] is None else target[1] - 1], args.source, args.target)
    given = check_inputs(args)
    model = load_cli_model(args)

    from ..engine.engine import tokenizer_of  # torch, transformers and nnsight from here on

    n = len(tokenizer_of(model)(given.prompt)["input_ids"])  # as the engine tokenizes it: checked before the clean run
    sources = resolve_positions(source, n, "--source")
    targets = resolve_positions(target, n, "--target")
    check_order(sources, targets, args.source, args.target)
    engine = build_engine(args, given, model)
    anatomy = engine.anatomy(sources, targets)
    print_corruption_notes(anatomy.provenance)
    data = anatomy.to_dict()
    if args.lens:
        data["lens"] = {
            "source": engine.logit_lens(sources[-1]).to_dict(),
            "target": engine.logit_lens(targets[-1]).to_dict(),
        }
    _write(anatomy, data, args.out)


def _check_out(out: str) -> None:
    """Check ``--out`` before any work: a .json name, in a folder where a file can be created (or - for stdout)."""
    if out != "-":
        if Path(out).suffix.lower() != ".json":
            raise InfoFlowError(f"Cannot save to {Path(out).name!r}: anatomy writes .json, or - for stdout.")
        check_destination(out, (".json",))


def _write(anatomy: Anatomy, data: dict[str, Any], out: str) -> None:
    try:
        text = json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InfoFlowError(
            "The anatomy holds NaN or infinite effects, which JSON cannot: check the metric and the model's dtype."
        ) from None
    if out == "-":
        sys.stdout.write(text + "\n")
        return
    write_atomic(out, text + "\n")
    heads = ", ".join(f"L{layer}.H{head} {value:+.3g}" for layer, head, value in anatomy.top_heads(3))
    print(
        f"infoflow: wrote {out} (effect {anatomy.effect:+.4g}; strongest heads {heads}; "
        f"{anatomy.stats['forward_passes']} forward passes, {anatomy.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )
