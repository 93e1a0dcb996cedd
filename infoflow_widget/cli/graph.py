"""``infoflow graph``: the information-flow graph of one prompt (``compute_flow``)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InfoFlowError, is_whole
from ..core.files import check_destination
from ..graph.flowgraph import FlowGraph, save_suffixes
from .options import (
    add_computation_options,
    add_strategy_options,
    check_inputs,
    load_cli_model,
    measure_graph,
    print_corruption_notes,
    strategy_and_threshold,
)

NAME = "graph"
"""The command's name on the command line."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``graph`` command and its options to ``commands``."""
    graph = commands.add_parser(NAME, help="compute an information-flow graph")
    add_computation_options(graph)
    add_strategy_options(graph)
    graph.add_argument("--top-k", type=int, default=10, help="edges drawn in the .html figure")
    graph.add_argument(
        "--out", required=True, help="graph.json, graph.csv, graph.html (any case), or - for JSON on stdout"
    )


def run(args: argparse.Namespace) -> None:
    """Check every argument, compute the graph, and write it.

    Raises:
        InfoFlowError: a bad argument (before the model loads) or a failed computation.
    """
    if args.out != "-":
        # Suffix, folder, and that a file can be created there: before any work.
        check_destination(args.out, save_suffixes())
    given = check_inputs(args)
    if not is_whole(args.top_k, minimum=1):
        raise InfoFlowError(f"--top-k must be at least 1; got {args.top_k}.")
    strategy, threshold = strategy_and_threshold(args)
    model = load_cli_model(args)
    _, graph = measure_graph(args, given, model, strategy, threshold)
    _report(graph)
    _write(graph, args)


def _report(graph: FlowGraph) -> None:
    """The notes on stderr: what --corrupted auto could not replace, and whether --verify auto settled the top 10."""
    print_corruption_notes(graph.provenance)
    report = graph.stats.get("verification")
    if report is not None and report["at_risk"]:
        print(
            f"infoflow: note: verified {report['verified']} of {report['of']} edges; {report['at_risk']} unverified "
            "estimates could still enter the top 10 (widest error band seen): --verify N with a larger N settles it.",
            file=sys.stderr,
        )


def _write(graph: FlowGraph, args: argparse.Namespace) -> None:
    if args.out == "-":
        sys.stdout.write(graph.to_json() + "\n")  # refuses NaN, as a .json file does: stdout stays valid JSON
        return
    graph.save(args.out, top_k=args.top_k)
    print(
        f"infoflow: wrote {args.out} ({len(graph.edges)} edges, {graph.stats['forward_passes']} forward passes, "
        f"{graph.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )
