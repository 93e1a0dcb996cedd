"""``infoflow faithfulness``: do a graph's strongest edges, together, carry the prediction?

The graph command's options choose the graph; ``--ks``, ``--ablation`` and its parameters choose the curve.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..analysis.faithfulness import MAX_RANDOM, faithfulness
from ..core.errors import InfoFlowError, is_whole
from ..core.files import check_destination
from ..graph.faithfulness import SAVE_SUFFIXES
from ..interventions.corrupt import AUTO_PROMPTS
from ..interventions.registry import INTERVENTIONS, build_intervention
from .options import (
    add_computation_options,
    add_strategy_options,
    check_inputs,
    load_cli_model,
    measure_graph,
    print_corruption_notes,
    strategy_and_threshold,
)

if TYPE_CHECKING:
    from ..graph.faithfulness import Faithfulness
    from ..interventions.base import Intervention

NAME = "faithfulness"
"""The command's name on the command line."""

ABLATION_OPTIONS = {"alpha": "ablation_alpha", "corrupted_prompt": "ablation_corrupted", "n": "ablation_samples"}
"""The options that set each parameter of ``--ablation`` (its own, apart from the graph's intervention's)."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``faithfulness`` command and its options to ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="how much of the metric a graph's k strongest edges keep with every other edge intervened",
        description="Measure a graph (the graph command's options), then for each k keep its k strongest edges and "
        "intervene on every other attention edge at once: f(k) = (m(kept) - m(none)) / (m(clean) - m(none)). Also "
        "the necessity (only the k edges intervened) and a random baseline (k edges drawn at random).",
    )
    add_computation_options(parser)
    add_strategy_options(parser)
    parser.add_argument("--ks", type=_ks, help="edges kept at each point, e.g. 1,2,3,5,10 (default: those and MIB's)")
    parser.add_argument(
        "--ablation", choices=list(INTERVENTIONS), help="what the other edges get (default: --intervention)"
    )
    parser.add_argument("--ablation-alpha", type=float, help="--ablation dampen: its scalar")
    parser.add_argument("--ablation-corrupted", help="--ablation corrupt: a corrupted prompt, or 'auto'")
    parser.add_argument("--ablation-samples", type=int, help="--ablation corrupt --ablation-corrupted auto: samples")
    parser.add_argument(
        "--ranking", choices=["abs", "signed"], default="abs", help="strongest |effect| or most helpful"
    )
    parser.add_argument("--random", type=int, default=8, help="random kept sets per k (0: none; default 8)")
    parser.add_argument("--random-seed", type=int, default=0, help="the seed of the random kept sets (default 0)")
    parser.add_argument("--no-necessity", action="store_true", help="skip the top-k-removed points")
    parser.add_argument("--out", required=True, help="faithfulness.json, faithfulness.csv, or - for JSON on stdout")


def run(args: argparse.Namespace) -> None:
    """Check every argument, measure the graph, then its faithfulness curve, and write it.

    Raises:
        InfoFlowError: a bad argument (before the model loads) or a failed computation.
    """
    if args.out != "-":
        check_destination(args.out, SAVE_SUFFIXES)
    given = check_inputs(args)
    ablation = _ablation(args)
    if not is_whole(args.random) or args.random > MAX_RANDOM:
        raise InfoFlowError(f"--random must be a whole number of draws from 0 to {MAX_RANDOM}; got {args.random}.")
    strategy, threshold = strategy_and_threshold(args)
    model = load_cli_model(args)
    engine, graph = measure_graph(args, given, model, strategy, threshold)
    print_corruption_notes(graph.provenance)
    result = faithfulness(
        engine,
        graph,
        ks=args.ks,
        ablation=ablation,
        ranking=args.ranking,
        necessity=not args.no_necessity,
        random=args.random,
        seed=args.random_seed,
    )
    _write(result, args)


def _ks(text: str) -> list[int]:
    """``--ks``: whole numbers >= 1, comma-separated."""
    try:
        ks = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers such as 1,2,3,5,10, got {text!r}") from None
    if any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"each k must be at least 1, got {text!r}")
    return ks


def _ablation(args: argparse.Namespace) -> Intervention | None:
    """The intervention of ``--ablation`` with its parameters (None: the graph's own)."""
    given = {parameter: getattr(args, option) for parameter, option in ABLATION_OPTIONS.items()}
    if args.ablation is None:
        if any(value is not None for value in given.values()):
            raise InfoFlowError("--ablation-alpha, --ablation-corrupted and --ablation-samples need --ablation.")
        return None
    if given["n"] is not None and (given["corrupted_prompt"] or "").strip().lower() != AUTO_PROMPTS:
        raise InfoFlowError("--ablation-samples applies only to --ablation corrupt --ablation-corrupted auto.")
    return build_intervention(args.ablation, **given)


def _write(result: Faithfulness, args: argparse.Namespace) -> None:
    if args.out == "-":
        sys.stdout.write(result.to_json(indent=1) + "\n")
    else:
        result.save(args.out)
    shown = ", ".join(f"k={p.k}: {p.faithfulness:.0%}" for p in result.curve[1:6])
    print(
        f"infoflow: faithfulness {shown} (CPR {result.cpr:.3f}, CMD {result.cmd:.3f}); "
        f"{result.stats['forward_passes']} forward passes, {result.stats['seconds']:.1f} s"
        + ("" if args.out == "-" else f"; wrote {args.out}"),
        file=sys.stderr,
    )
