"""What the ``infoflow`` commands share: their common options, the checks of those options, and the model load.

Nothing here imports torch, transformers or nnsight at import time: ``infoflow --help`` and bad input stay quick.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_non_negative, is_whole
from ..interventions.base import Intervention
from ..interventions.corrupt import AUTO_PROMPTS
from ..interventions.registry import INTERVENTIONS, build_intervention, intervention_menu
from ..search.strategies import AUTO_VERIFY, STRATEGIES, Strategy
from ..text.corruption import plan_notes

if TYPE_CHECKING:
    from nnsight.modeling.transformers import TransformersModel

    from ..engine.engine import FlowEngine
    from ..engine.metrics import Metric
    from ..graph.flowgraph import FlowGraph

INTERVENTION_OPTIONS = {"alpha": "alpha", "corrupted_prompt": "corrupted"}
"""The option (``--alpha``, ``--corrupted``) that sets each intervention parameter."""

AUTO_OPTIONS = {"n": "samples", "seed": "seed"}
"""The options of ``--corrupted auto`` (:meth:`~infoflow_widget.interventions.base.Corrupt.auto`), by its parameter."""


def parse_layers(text: str) -> list[int]:
    """Parse a layer selection such as ``"0-5"`` or ``"0,2,10-12"`` (ranges are inclusive)."""
    layers: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            start, stop = int(first), int(last if dash else first)
        except ValueError:
            raise InfoFlowError(f"--layers {text!r} is not a layer list: write e.g. 0-5 or 0,2,10-12.") from None
        if stop < start:
            raise InfoFlowError(f"--layers {text!r}: {start}-{stop} is an empty range; did you mean {stop}-{start}?")
        layers.extend(range(start, stop + 1))
    return layers


def read_prompt_file(path: str | Path, keep_final_newline: bool = False) -> str:
    r"""The prompt in the UTF-8 file ``path``, exactly as written, less one final line ending.

    Line endings are kept as they are (``\r\n`` stays ``\r\n``: they are tokens too); a UTF-8
    byte-order mark is dropped. Editors end a file with a newline that is not part of the prompt, so one
    final ``\n``, ``\r\n`` or ``\r`` is dropped unless ``keep_final_newline``.

    Raises:
        InfoFlowError: the file cannot be read or is not UTF-8 text.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InfoFlowError(f"Cannot read --prompt-file {path}: {exc.strerror or exc}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InfoFlowError(
            f"--prompt-file {path} is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}): save it as UTF-8."
        ) from None
    if not keep_final_newline:
        for ending in ("\r\n", "\n", "\r"):
            if text.endswith(ending):
                return text[: -len(ending)]
    return text


def add_computation_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that computes on a model: model, prompt, metric, intervention, layers, device."""
    parser.add_argument("--model", default="smollm2-135m", help="bundled name, folder, .gguf file or hub id")
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="the clean prompt")
    prompt.add_argument(
        "--prompt-file",
        type=Path,
        help="read the clean prompt from a UTF-8 file, exactly as written (\\r\\n kept) less one final newline",
    )
    parser.add_argument(
        "--keep-final-newline", action="store_true", help="--prompt-file: keep the file's final newline in the prompt"
    )
    parser.add_argument("--answer", help='the token to predict, e.g. " Mary" (one token)')
    parser.add_argument("--distractor", help='the competing token, e.g. " John"')
    add_intervention_options(parser)


def add_intervention_options(
    parser: argparse.ArgumentParser, seed_help: str = "--corrupted auto: the seed of the generated prompts (default 0)"
) -> None:
    """The intervention, layer, batch, device and progress options (``graph``, ``anatomy`` and ``set`` share them)."""
    parser.add_argument("--intervention", choices=list(INTERVENTIONS), default="zero")
    parser.add_argument("--alpha", type=float, help="dampening scalar (dampen only), >= 0")
    parser.add_argument(
        "--corrupted",
        help="corrupted prompt of the same token length (corrupt only), or 'auto': the mean over generated ones",
    )
    parser.add_argument("--samples", type=int, help="--corrupted auto: how many corrupted prompts (default 4)")
    parser.add_argument("--seed", type=int, help=seed_help)
    parser.add_argument("--layers", help="layers to intervene in, e.g. 0-5 or 0,2,10-12 (default: all)")
    parser.add_argument("--batch-size", type=int, help="edges per forward pass (default: from memory)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--dtype", help="float32 (default), bfloat16 or float16")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_strategy_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose a graph's edges: strategy, threshold, verify and steps (``graph``, ``faithfulness``)."""
    parser.add_argument("--strategy", choices=list(STRATEGIES), default="full")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="full, attribution: keep edges with |effect| >= threshold; search strategies: descend only past it; "
        "attribution-then-exact: also verify every estimate past it",
    )
    parser.add_argument(
        "--verify",
        type=verify_count,
        help="attribution-then-exact: edges verified exactly (default 50), or 'auto': in rounds until the exact "
        "top 10 is settled",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="attribution, attribution-then-exact: points on the estimate's integration path (1: plain first "
        "order; default: the intervention's own, 1 or 8 for corrupt)",
    )


def strategy_and_threshold(args: argparse.Namespace) -> tuple[Strategy, float]:
    """The strategy of :func:`add_strategy_options` and the threshold that filters its finished graph.

    Strategies with a threshold of their own use it as they go; the others' finished graphs are filtered by it.
    """
    check_threshold(args)
    strategy = strategy_from_args(args, STRATEGIES[args.strategy])
    filters = "threshold" not in {f.name for f in dataclasses.fields(strategy)}
    return strategy, args.threshold if filters else 0.0


def measure_graph(
    args: argparse.Namespace, given: Inputs, model: TransformersModel, strategy: Strategy, threshold: float
) -> tuple[FlowEngine, FlowGraph]:
    """The engine of the checked inputs on ``model`` and the graph it measures (``compute_flow``'s steps)."""
    from ..engine.engine import check_graph_request  # torch, transformers and nnsight from here on

    check_graph_request(strategy, threshold, given.metric)  # before the clean run
    engine = build_engine(args, given, model)
    return engine, engine.graph(strategy, threshold)


def build_engine(args: argparse.Namespace, given: Inputs, model: TransformersModel) -> FlowEngine:
    """The engine of the checked inputs on ``model``, with ``--batch-size`` and ``--quiet`` (its clean run is done)."""
    from ..engine.engine import FlowEngine  # torch, transformers and nnsight from here on

    return FlowEngine(
        model,
        given.prompt,
        given.metric,
        given.intervention,
        layers=given.layers,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )


def intervention_from_args(args: argparse.Namespace) -> Intervention:
    """The intervention of ``--intervention`` with its parameters, each option checked against it.

    Raises:
        InfoFlowError: an option the intervention does not take, or ``--samples`` below 1.
    """
    given = {parameter: getattr(args, option) for parameter, option in INTERVENTION_OPTIONS.items()}
    menu = intervention_menu()
    for parameter, option in INTERVENTION_OPTIONS.items():
        takers = [item["name"] for item in menu if parameter in item["parameters"]]
        if given[parameter] is not None and args.intervention not in takers:
            raise InfoFlowError(f"--{option} applies only to --intervention {' or '.join(takers)}.")
    auto = {parameter: getattr(args, option) for parameter, option in AUTO_OPTIONS.items()}
    for parameter, option in AUTO_OPTIONS.items():
        if auto[parameter] is not None and (args.corrupted or "").strip().lower() != AUTO_PROMPTS:
            raise InfoFlowError(f"--{option} applies only to --corrupted {AUTO_PROMPTS} (generated corrupted prompts).")
    if auto["n"] is not None and auto["n"] < 1:
        raise InfoFlowError(f"--samples must be at least 1; got {auto['n']}.")
    return build_intervention(args.intervention, **given, **auto)


def strategy_from_args(args: argparse.Namespace, cls: type[Strategy]) -> Strategy:
    """The search strategy ``cls`` with ``--threshold``, ``--verify`` and ``--steps`` where it takes them.

    Raises:
        InfoFlowError: ``--verify`` or ``--steps`` for a strategy without that parameter.
    """
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, object] = {}
    if "threshold" in fields and args.threshold > 0:
        kwargs["threshold"] = args.threshold
    if args.verify is not None:
        if "k" not in fields:
            raise InfoFlowError("--verify applies only to --strategy attribution-then-exact.")
        kwargs["k"] = args.verify
    if args.steps is not None:
        if "steps" not in fields:
            raise InfoFlowError("--steps applies only to --strategy attribution or attribution-then-exact.")
        kwargs["steps"] = args.steps
    return cls(**kwargs)


def verify_count(text: str) -> int | str:
    """``--verify``: a whole number of edges, or ``auto``.

    Raises:
        argparse.ArgumentTypeError: neither (argparse turns it into a usage error).
    """
    if text.strip().lower() == AUTO_VERIFY:
        return AUTO_VERIFY
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of edges or {AUTO_VERIFY!r}, got {text!r}") from None


def check_threshold(args: argparse.Namespace) -> None:
    """Check ``--threshold``: a finite number >= 0.

    Raises:
        InfoFlowError: it is negative, NaN or infinite.
    """
    if not is_non_negative(args.threshold):
        raise InfoFlowError(f"--threshold must be a finite number >= 0; got {args.threshold}.")


def check_batch_size(args: argparse.Namespace) -> None:
    """Check ``--batch-size``: unset, or a whole number >= 1.

    Raises:
        InfoFlowError: it is below 1.
    """
    if args.batch_size is not None and not is_whole(args.batch_size, minimum=1):
        raise InfoFlowError(f"--batch-size must be at least 1; got {args.batch_size}.")


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What :func:`add_computation_options` gave, checked: the prompt, metric, intervention and layers."""

    prompt: str
    metric: Metric
    intervention: Intervention
    layers: list[int] | None


def check_inputs(args: argparse.Namespace) -> Inputs:
    """Check the options of :func:`add_computation_options` (before the model loads) and build what they describe.

    Raises:
        InfoFlowError: an option is out of range, contradicts another, or the prompt is empty or unreadable.
    """
    from ..engine.metrics import as_metric

    if args.keep_final_newline and args.prompt_file is None:
        raise InfoFlowError("--keep-final-newline applies only to --prompt-file.")
    prompt = args.prompt if args.prompt is not None else read_prompt_file(args.prompt_file, args.keep_final_newline)
    if not prompt.strip():  # before the model loads
        raise InfoFlowError("The prompt is empty: give some text to analyse (--prompt or --prompt-file).")
    check_batch_size(args)
    intervention = intervention_from_args(args)
    metric = as_metric(None, args.answer, args.distractor)
    layers = parse_layers(args.layers) if args.layers else None
    return Inputs(prompt, metric, intervention, layers)


def load_cli_model(args: argparse.Namespace) -> TransformersModel:
    """The model of ``--model`` on ``--device`` in ``--dtype`` (``--quiet``: without transformers' bars).

    Call it once every other argument is checked: torch, transformers and nnsight load from here on.
    """
    from ..engine.models import BUNDLED_MODELS, cache_dir

    if args.model in BUNDLED_MODELS or args.model.lower().endswith(".gguf"):
        cache_dir()  # the converted weights' folder must be usable ($INFOFLOW_CACHE)
    from ..engine.models import load_model

    # --quiet: transformers' own bars too ("Loading weights"), set back after the load (main() may run in-process).
    return load_model(args.model, device=args.device, dtype=args.dtype, quiet=args.quiet)


def print_corruption_notes(provenance: dict[str, Any]) -> None:
    """Print on stderr what ``--corrupted auto`` could not replace (one ``infoflow: note:`` line each)."""
    for note in plan_notes(provenance.get("corruption")):
        print(f"infoflow: note: {note}", file=sys.stderr)
