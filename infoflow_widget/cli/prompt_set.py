"""``infoflow set``: the role graph of a prompt set (``compute_flow_set``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole
from ..core.files import check_destination, write_atomic
from ..graph.rolegraph import SAVE_SUFFIXES as SET_SUFFIXES
from ..graph.rolegraph import RoleGraph
from ..interventions.base import Intervention
from ..interventions.corrupt import AUTO_PROMPTS
from ..search.strategies import STRATEGIES, Strategy
from .options import (
    add_intervention_options,
    check_batch_size,
    check_threshold,
    intervention_from_args,
    load_cli_model,
    parse_layers,
    strategy_from_args,
)

if TYPE_CHECKING:
    from nnsight.modeling.transformers import TransformersModel

    from ..text.promptset import PromptSet

NAME = "set"
"""The command's name on the command line."""

SET_SLOT_WORDS = {"IO": "names", "S": "names", "NAME": "names", "PLACE": "places", "OBJECT": "objects"}
"""``infoflow set --template`` without ``--slots``: the bundled word list (``ioi_words``)
that fills a slot of each of these names. Other slots need ``--slots``; a slot named in ``--slots`` takes its values
from there."""

SET_DEFAULT_N = 100
"""``infoflow set --template``: prompts drawn when ``--n`` is not given (as :meth:`PromptSet.from_template`)."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``set`` command and its options to ``commands``."""
    names = ", ".join(SET_SLOT_WORDS)
    parser = commands.add_parser(
        NAME,
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
    _add_run_options(parser)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The strategy, executor and output options of ``set``."""
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


def _read_slots(path: Path) -> dict[str, Any]:
    """The slot values of ``--slots``: a JSON object of slot name -> list of values (the template checks them)."""
    from ..core.files import read_json

    data = read_json(path, "a --slots file")
    if not isinstance(data, dict):
        raise InfoFlowError(
            f'--slots {path} must hold a JSON object of slot name -> list of values, e.g. {{"IO": ["Mary", "Anna"]}}; '
            f"got a {type(data).__name__}."
        )
    return data


def set_template(args: argparse.Namespace) -> dict[str, Any] | None:
    """The keyword arguments of :meth:`PromptSet.from_template` (less the tokenizer), checked; None for ``--prompts``.

    Every check :meth:`PromptSet.from_template` makes before tokenizing runs here, before the model loads.

    Raises:
        InfoFlowError: a template option with ``--prompts``, or a template, slot or count it cannot fill.
    """
    from ..text.promptset import MAX_PROMPTS, check_template

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
    values = _slot_values(args)
    n = SET_DEFAULT_N if args.n is None else args.n
    seed = 0 if args.seed is None else args.seed
    if not (is_whole(n, minimum=1) and n <= MAX_PROMPTS):
        raise InfoFlowError(f"--n must be a whole number of prompts from 1 to {MAX_PROMPTS:,}; got {n}.")
    check_template(args.template, answer=args.answer, distractor=args.distractor, n=n, seed=seed, **values)
    return {"template": args.template, "answer": args.answer, "distractor": args.distractor, "n": n, "seed": seed,
            "slot_values": values}  # fmt: skip


def _slot_values(args: argparse.Namespace) -> dict[str, Any]:
    """Each of the template's slots with its values: from ``--slots``, else the bundled words of SET_SLOT_WORDS."""
    from ..text.promptset import ioi_words, template_slots

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
    return values


def set_json(role_graph: RoleGraph) -> dict[str, Any]:
    """The JSON of ``infoflow set``: :meth:`RoleGraph.to_dict` with the set's ``roles`` and ``prompts`` added.

    ``roles`` are the set's role names (IO, S1, S1+1, S2, END, ...) among the ``nodes`` (every label, fixed words
    included); ``prompts`` each prompt with its answer, distractor and role positions. :meth:`RoleGraph.load`
    reads the file back (it ignores the two added keys).
    """
    data = role_graph.to_dict()
    prompt_set = _measured_set(role_graph)
    return {
        "format": data.pop("format"),
        "roles": prompt_set.role_names,
        **data,
        "prompts": [
            {"prompt": r.prompt, "answer": r.answer, "distractor": r.distractor, "roles": r.roles} for r in prompt_set
        ],
    }


def run(args: argparse.Namespace) -> None:
    """Check every argument, build the prompt set, compute its role graph, and write it.

    Raises:
        InfoFlowError: a bad argument (before the model loads) or a failed computation.
    """
    _check_out(args.out)
    template = set_template(args)
    from ..text.promptset import PromptSet

    # A --prompts file is read now, before the model loads; a template is filled with the model's tokenizer.
    given = PromptSet.from_jsonl(args.prompts) if template is None else template
    intervention = _intervention(args, from_template=template is not None)
    check_batch_size(args)
    layers = parse_layers(args.layers) if args.layers else None
    strategy = _strategy(args)
    workers = _workers(args)
    measured, model = _load_model(args, needs_tokenizer=template is not None)
    if isinstance(given, PromptSet):
        prompt_set = given
    else:
        values = given.pop("slot_values")
        prompt_set = PromptSet.from_template(tokenizer=model, **given, **values)

    from ..analysis.flowset import compute_flow_set  # torch, transformers and nnsight from here on

    role_graph = compute_flow_set(
        measured,
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
    _report_dropped(_measured_set(role_graph).dropped)
    _write(role_graph, args.out)


def _check_out(out: str) -> None:
    """Check ``--out`` before any work: a role graph's suffix, in a folder where a file can be created (or -)."""
    if out != "-":
        if Path(out).suffix.lower() not in SET_SUFFIXES:
            raise InfoFlowError(
                f"Cannot save to {Path(out).name!r}: set writes {' or '.join(SET_SUFFIXES)}, or - for JSON on stdout."
            )
        check_destination(out, SET_SUFFIXES)


def _intervention(args: argparse.Namespace, from_template: bool) -> Intervention:
    auto = (args.corrupted or "").strip().lower() == AUTO_PROMPTS
    if not from_template and args.seed is not None and not auto:
        raise InfoFlowError("--seed applies only to --template (its draw of values) or --corrupted auto.")
    # --seed seeds the template's draw; it reaches the intervention only as --corrupted auto's seed.
    return intervention_from_args(argparse.Namespace(**{**vars(args), "seed": args.seed if auto else None}))


def _strategy(args: argparse.Namespace) -> Strategy:
    check_threshold(args)
    cls = STRATEGIES[args.strategy]
    if args.threshold > 0 and "threshold" not in {f.name for f in dataclasses.fields(cls)}:
        raise InfoFlowError(f"--threshold applies only to search strategies: --strategy {args.strategy} has none.")
    return strategy_from_args(args, cls)


def _workers(args: argparse.Namespace) -> int:
    """The Ray workers (2 unless ``--workers``), once the options of the other executor are refused."""
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
    return workers


def _load_model(
    args: argparse.Namespace, needs_tokenizer: bool
) -> tuple[TransformersModel | str, TransformersModel | None]:
    """What the set is measured with, and the model here (if any).

    The local executor measures with the model loaded here. Ray's workers load it from its name or path;
    here only a template's tokenizer needs it (on the CPU).
    """
    if args.executor == "local":
        model = load_cli_model(args)
        return model, model
    loadable = str(Path(args.model).resolve()) if Path(args.model).exists() else args.model
    if needs_tokenizer:
        return loadable, load_cli_model(argparse.Namespace(**{**vars(args), "device": "cpu"}))
    return loadable, None


def _measured_set(role_graph: RoleGraph) -> PromptSet:
    """The prompt set ``role_graph`` was measured on (``compute_flow_set`` keeps it with the graph)."""
    if role_graph.prompt_set is None:
        raise InfoFlowError(
            "This role graph holds no prompt set (a loaded one has none): its set JSON needs the prompts it was "
            "measured on, as compute_flow_set returns them."
        )
    return role_graph.prompt_set


def _report_dropped(dropped: list[dict[str, Any]]) -> None:
    if dropped:
        print(
            f"infoflow: note: left out {len(dropped)} slot value(s) or fill(s) that are not one token where they "
            f"stand (provenance.prompt_set.dropped), e.g. {dropped[0].get('value', dropped[0].get('fill'))!r}: "
            f"{dropped[0]['reason']}",
            file=sys.stderr,
        )


def _write(role_graph: RoleGraph, out: str) -> None:
    try:
        text = json.dumps(set_json(role_graph), indent=1, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InfoFlowError("The role graph holds a NaN or infinite clean metric, which JSON cannot.") from None
    if out == "-":
        sys.stdout.write(text + "\n")
        return
    if Path(out).suffix.lower() == ".csv":
        role_graph.save(out)
    else:
        write_atomic(out, text + "\n")
    strongest = "; ".join(
        f"{e.name} {e.mean:+.3g} (same sign in {e.sign_consistency:.0%})" for e in role_graph.ranked()[:3]
    )
    print(
        f"infoflow: wrote {out} ({role_graph.n_prompts} prompts, {len(role_graph.edges)} role edges; strongest "
        f"{strongest}; {role_graph.stats['forward_passes']} forward passes, {role_graph.stats['seconds']:.1f} s)",
        file=sys.stderr,
    )
