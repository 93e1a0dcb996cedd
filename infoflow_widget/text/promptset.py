"""Prompt sets: many prompts of one task, each with its answer, distractor and named token positions (roles).

A flow graph of one prompt says which of *its* token positions pass information; a prompt set asks the
same of a task, over many prompts whose positions line up by role (the indirect object, the subject's
two mentions, the last position). Two ways to make one:

- :meth:`PromptSet.from_template` fills the slots of a template such as ``"When {IO} and {S} went to the
  {PLACE}, {S} gave a {OBJECT} to"`` with sampled values, keeps only values that are one token where they
  stand, and knows each slot's token position in each prompt. Roles come from the slots: a slot used once
  is a role of its name (``IO``); a slot used twice gives ``S1`` and ``S2``, and ``S1+1``, the token after
  its first mention; ``END`` is the last position. Every prompt of a template has the same tokens at the
  template's fixed words, so its :attr:`~PromptSet.labels` (one per token position: the role, else the
  token's text) are the same list for every prompt.
- ``PromptSet(prompts, answers, distractors, roles)`` takes any hand-made set (or :meth:`PromptSet.from_jsonl`);
  :meth:`PromptSet.labelled` adds the labels once a tokenizer is at hand.

This module needs a tokenizer for templates and labels but never imports torch or a model.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import string
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, cast

from ..core.errors import InfoFlowError, is_whole
from ..core.files import read_text, write_atomic
from .display import token_texts

END = "END"
"""The role of the last token position, where the model predicts the answer."""

OFFSET = "+1"
"""Suffix of an offset role: ``S1+1`` is the token after the first mention of a repeated slot ``S``."""

ENUMERATE_LIMIT = 100_000
"""Up to this many possible fills, all are listed and shuffled; above it fills are drawn at random."""

JSONL_KEYS = ("prompt", "answer", "distractor", "roles")
"""The keys of one line of a prompt-set JSONL file (:meth:`PromptSet.from_jsonl`); prompt and answer required."""


@dataclass(frozen=True)
class PromptRecord:
    """One prompt of a :class:`PromptSet`, as ``prompt_set[i]`` gives it.

    Attributes:
        prompt: the prompt text.
        answer: the token the model should predict after it (``" Mary"``).
        distractor: the token it should prefer the answer to, or None.
        roles: role name -> token position.
        labels: one label per token position (the role, else the token's text); None before labelling.
        slots: the template's slot values of this prompt; None for a hand-made set.
    """

    prompt: str
    answer: str
    distractor: str | None
    roles: dict[str, int]
    labels: tuple[str, ...] | None
    slots: dict[str, str] | None


@dataclass(frozen=True)
class PromptSet:
    """Prompts of one task with their answers, distractors and roles (named token positions).

    Build one from a template (:meth:`from_template`), a JSONL file (:meth:`from_jsonl`) or by hand.
    Sequences are stored as tuples; the set is not changed after it is made.

    Attributes:
        prompts: the prompt texts.
        answers: each prompt's answer token (``" Mary"``).
        distractors: each prompt's distractor token, or None where it has none.
        roles: each prompt's roles, role name -> token position (special tokens such as BOS count).
        labels: each prompt's labels, one per token position: the role at a role position, else the
            token's text; a text that occurs again is numbered (``" the#2"``) so every label is unique.
            None until labelled (:meth:`labelled`); a template set is labelled when made.
        template: the template the prompts were filled from, or None.
        slots: each prompt's slot values (slot name -> value), or None for a hand-made set.
        provenance: how the set was made: ``template``, ``seed``, ``requested`` (n), ``dropped`` (values and
            fills left out, each with its ``reason``) and ``notes``; plain JSON-ready data.
    """

    prompts: tuple[str, ...]
    answers: tuple[str, ...]
    distractors: tuple[str | None, ...] | None = None
    roles: tuple[dict[str, int], ...] | None = None
    labels: tuple[tuple[str, ...], ...] | None = None
    template: str | None = None
    slots: tuple[dict[str, str], ...] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prompts = _sequence(self.prompts, "prompts")
        if not prompts:
            raise InfoFlowError("A PromptSet needs at least one prompt.")
        n = len(prompts)
        answers = _sequence(self.answers, "answers", n)
        distractors = (None,) * n if self.distractors is None else _sequence(self.distractors, "distractors", n)
        roles = ({},) * n if self.roles is None else _sequence(self.roles, "roles", n)
        records = [
            _check_record(p, a, d, r, f"prompt {i}")
            for i, (p, a, d, r) in enumerate(zip(prompts, answers, distractors, roles))
        ]
        set_field = object.__setattr__  # frozen: the checked, converted values are stored once, here
        set_field(self, "prompts", tuple(prompts))
        set_field(self, "answers", tuple(answers))
        set_field(self, "distractors", tuple(distractors))
        checked_roles = tuple(record[3] for record in records)
        set_field(self, "roles", checked_roles)
        if self.labels is not None:
            set_field(self, "labels", _check_labels(self.labels, checked_roles))
        if self.slots is not None:
            set_field(self, "slots", tuple(dict(s) for s in _sequence(self.slots, "slots", n)))
        set_field(self, "provenance", dict(self.provenance))

    def __repr__(self) -> str:
        source = f"template {self.template!r}" if self.template is not None else "hand-made"
        return f"PromptSet({len(self)} prompts, {source})"

    def __len__(self) -> int:
        return len(self.prompts)

    # ``distractors`` and ``roles`` may be given as None, but ``__post_init__`` stores a tuple in each: these are
    # the two as stored, for the type checker.
    @property
    def _distractors(self) -> tuple[str | None, ...]:
        return cast("tuple[str | None, ...]", self.distractors)

    @property
    def _roles(self) -> tuple[dict[str, int], ...]:
        return cast("tuple[dict[str, int], ...]", self.roles)

    def __getitem__(self, index: int) -> PromptRecord:
        """The prompt ``index`` with its answer, distractor, roles, labels and slot values."""
        if not is_whole(index, None) or not -len(self) <= index < len(self):
            raise IndexError(f"prompt index {index!r} is out of range: this set has prompts 0..{len(self) - 1}.")
        return PromptRecord(
            prompt=self.prompts[index],
            answer=self.answers[index],
            distractor=self._distractors[index],
            roles=dict(self._roles[index]),
            labels=None if self.labels is None else self.labels[index],
            slots=None if self.slots is None else dict(self.slots[index]),
        )

    def __iter__(self) -> Iterator[PromptRecord]:
        return (self[i] for i in range(len(self)))

    @property
    def dropped(self) -> list[dict[str, Any]]:
        """The slot values and fills left out of a template set, each with its ``reason``."""
        return list(self.provenance.get("dropped", []))

    @property
    def role_names(self) -> list[str]:
        """Every role name of the set, ordered by its mean token position over the prompts that have it."""
        positions: dict[str, list[int]] = {}
        for roles in self._roles:
            for name, position in roles.items():
                positions.setdefault(name, []).append(position)
        return sorted(positions, key=lambda name: (sum(positions[name]) / len(positions[name]), name))

    def aligned(self) -> bool:
        """Whether every prompt has the same labels (a template set): its nodes are then every label, in order."""
        return self.labels is not None and len(set(self.labels)) == 1

    def groups_by_length(self) -> dict[int, list[int]]:
        """The prompt indices by token length (special tokens included), for batching prompts of one length.

        Raises:
            InfoFlowError: the set has no labels yet (call :meth:`labelled` with the model's tokenizer).
        """
        if self.labels is None:
            raise InfoFlowError("This PromptSet has no labels yet, so no token lengths: call .labelled(tokenizer).")
        groups: dict[int, list[int]] = {}
        for i, labels in enumerate(self.labels):
            groups.setdefault(len(labels), []).append(i)
        return groups

    # --- labels ----------------------------------------------------------------------------------

    def labelled(self, tokenizer: Any) -> PromptSet:
        """A copy with :attr:`labels` from ``tokenizer``, and the role ``END`` at each last position that has no role.

        Prompts are tokenized as the engine tokenizes them (special tokens included), so role positions
        count a BOS token.

        Args:
            tokenizer: a Hugging Face tokenizer, or a model from ``load_model`` (its ``.tokenizer``).

        Raises:
            InfoFlowError: a role's position is past its prompt's last token.
        """
        tokenizer = _tokenizer_of(tokenizer)
        all_roles, all_labels = [], []
        for i, (prompt, roles) in enumerate(zip(self.prompts, self._roles)):
            texts = token_texts(tokenizer, _ids(tokenizer, prompt))
            roles = dict(roles)
            if END not in roles and len(texts) - 1 not in roles.values():
                roles[END] = len(texts) - 1
            for name, position in roles.items():
                if position >= len(texts):
                    raise InfoFlowError(
                        f"prompt {i}: role {name!r} is at position {position}, but the prompt is {len(texts)} tokens "
                        f"(positions 0..{len(texts) - 1}, special tokens included)."
                    )
            all_roles.append(roles)
            all_labels.append(_labels(texts, roles))
        return replace(self, roles=tuple(all_roles), labels=tuple(all_labels))

    # --- templates -------------------------------------------------------------------------------

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        answer: str,
        distractor: str | None = None,
        n: int = 100,
        seed: int = 0,
        tokenizer: Any,
        **slot_values: Sequence[str],
    ) -> PromptSet:
        """Fill ``template``'s slots ``n`` times with values of one token each, and label every position.

        Each fill takes one value per slot, distinct values for distinct slots; fills are drawn with
        ``random.Random(seed)``, without repeats. A value is kept only if it is one token in the prompt
        (with its leading space, which the template supplies: ``"When {IO} and"`` gives ``" Mary"``) and,
        for the answer's and distractor's slots, one token as the answer; the others are listed in
        :attr:`dropped` with the reason. All prompts must then have the same tokens at the template's
        fixed words, so their labels agree position by position.

        Args:
            template: text with slots ``{NAME}`` (``{{`` and ``}}`` are literal braces).
            answer: a slot reference such as ``"{IO}"`` (the slot's value as the next word, ``" Mary"``;
                without the space when the template ends in whitespace), or a literal token (``" yes"``).
            distractor: the same, or None.
            n: how many prompts (fewer, with a warning, when fewer distinct fills exist).
            seed: the seed of the draw.
            tokenizer: a Hugging Face fast tokenizer (it must give character offsets), or a model from
                ``load_model`` (its ``.tokenizer``).
            **slot_values: each slot's values, such as ``IO=["Mary", "Anna"]``.

        Raises:
            InfoFlowError: before any tokenizing, for an empty template or one without slots, bad brace
                syntax, a slot without values or values for no slot, an empty or non-string value, an
                answer or distractor that is neither a slot nor a literal token, ``n < 1`` or a seed that is not
                an integer; then for a literal answer of several tokens, a slot none of whose values is one
                token, no fill left, or a fill whose fixed words tokenize differently from the first fill's
                (the message names both fills).
        """
        parsed, pools, references = _checked_template(template, answer, distractor, n, seed, slot_values)
        tokenizer = _tokenizer_of(tokenizer)
        for role, reference in references.items():
            kind, text = reference or ("none", "")
            if kind == "literal" and len(_ids(tokenizer, text, special=False)) != 1:
                raise InfoFlowError(
                    f"The {role} {text!r} is not one token for this tokenizer: {_pieces(tokenizer, text)}."
                )
        filler = _Filler(parsed, tokenizer, references)
        return filler.build(pools, int(n), int(seed))

    # --- files -----------------------------------------------------------------------------------

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> PromptSet:
        """Read a set from a JSONL file: one object per line with ``prompt``, ``answer``, ``distractor``, ``roles``.

        ``distractor`` (a string or null) and ``roles`` (an object of role name -> token position) may be
        left out; blank lines are skipped. The set has no labels yet (:meth:`labelled`).

        Raises:
            InfoFlowError: the file cannot be read or is not UTF-8, or a line is not such an object (the
                message gives the line number and the bad key).
        """
        path = Path(path)
        text = read_text(path)
        # JSON Lines ends lines with "\n" alone (a "\r" before it too): U+2028 and its kin inside a string are text.
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        records = [_jsonl_record(line, f"{path.name} line {number}") for number, line in enumerate(lines, 1)]
        records = [r for r in records if r is not None]
        if not records:
            raise InfoFlowError(f"{path} holds no prompts (one JSON object per line: {', '.join(JSONL_KEYS)}).")
        prompts, answers, distractors, roles = zip(*records)
        return cls(prompts, answers, distractors, roles, provenance={"source": str(path)})

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write the set as JSONL (prompt, answer, distractor, roles per line), readable by :meth:`from_jsonl`."""
        lines = [
            _escape_line_breaks(json.dumps({"prompt": p, "answer": a, "distractor": d, "roles": r}, ensure_ascii=False))
            for p, a, d, r in zip(self.prompts, self.answers, self._distractors, self._roles)
        ]
        path = Path(path)
        write_atomic(path, "".join(line + "\n" for line in lines))
        return path


MAX_PROMPTS = 100_000
"""The most prompts a template fills: a set's clean runs alone take about 0.2 s a prompt on a CPU."""


def template_slots(template: str) -> list[str]:
    """The slot names of ``template`` in order of first use (``["IO", "S", "PLACE", "OBJECT"]``).

    Raises:
        InfoFlowError: an empty template, one without slots, or bad brace syntax.
    """
    return _Template.parse(template).slots


def check_template(
    template: str, *, answer: str, distractor: str | None = None, n: int = 100, seed: int = 0, **slot_values: Any
) -> list[str]:
    """Check what :meth:`PromptSet.from_template` checks before it tokenizes; return the template's slots in order.

    Front ends call it before loading a model, so that a template slot without values, values for no slot,
    or an answer that is neither a slot nor a literal token fail at once.

    Raises:
        InfoFlowError: as :meth:`PromptSet.from_template` does before tokenizing.
    """
    parsed, _, _ = _checked_template(template, answer, distractor, n, seed, slot_values)
    return parsed.slots


def _checked_template(
    template: Any, answer: Any, distractor: Any, n: Any, seed: Any, slot_values: Mapping[str, Any]
) -> tuple[_Template, dict[str, list[str]], dict[str, tuple[str, str] | None]]:
    """The parsed template, its checked value pools and the answer's and distractor's references."""
    parsed = _Template.parse(template)
    pools = _check_slot_values(parsed, slot_values)
    references = {
        role: _reference(text, parsed, role) for role, text in (("answer", answer), ("distractor", distractor))
    }
    if references["answer"] == references["distractor"]:
        raise InfoFlowError(f"The answer and the distractor are both {answer!r}: they must differ.")
    if not (is_whole(n, 1) and n <= MAX_PROMPTS):
        raise InfoFlowError(f"n must be a whole number of prompts from 1 to {MAX_PROMPTS:,}, got {n!r}.")
    if not is_whole(seed, None):
        raise InfoFlowError(f"seed must be an integer, got {seed!r}.")
    return parsed, pools, references


def ioi_words() -> dict[str, tuple[str, ...]]:
    """The bundled word lists for IOI-style templates: ``names``, ``places`` and ``objects``.

    Every word is one token with a leading space in both bundled tokenizers (SmolLM2-135M and Gemma 3
    270M); ``data/ioi_words.json`` says how that was checked.
    """
    data = json.loads(resources.files("infoflow_widget").joinpath("data/ioi_words.json").read_text(encoding="utf-8"))
    return {key: tuple(data[key]) for key in ("names", "places", "objects")}


# --- checking input --------------------------------------------------------------------------------


def _sequence(value: Any, name: str, length: int | None = None) -> list[Any]:
    """``value`` as a list; it must be a sequence (not a string) of ``length`` items when given."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InfoFlowError(f"{name} must be a list, got {type(value).__name__}.")
    if length is not None and len(value) != length:
        raise InfoFlowError(f"{name} has {len(value)} items but there are {length} prompts: give one per prompt.")
    return list(value)


def _check_record(prompt: Any, answer: Any, distractor: Any, roles: Any, where: str) -> tuple:
    """One prompt's fields, checked; roles come back as a new dict. ``where`` names the prompt in messages."""
    for key, value, optional in (
        ("prompt", prompt, False),
        ("answer", answer, False),
        ("distractor", distractor, True),
    ):
        if not (isinstance(value, str) and value) and not (optional and value is None):
            raise InfoFlowError(
                f"{where}: the {key} must be a non-empty string{' or None' if optional else ''}, got {value!r}."
            )
    if not isinstance(roles, Mapping):
        raise InfoFlowError(f"{where}: roles must be a dict of role name -> token position, got {roles!r}.")
    at: dict[int, str] = {}
    for name, position in roles.items():
        if not isinstance(name, str) or not name:
            raise InfoFlowError(f"{where}: a role name must be a non-empty string, got {name!r}.")
        if not is_whole(position):
            raise InfoFlowError(
                f"{where}: role {name!r} must be a token position (a whole number >= 0), got {position!r}."
            )
        if int(position) in at:
            raise InfoFlowError(f"{where}: roles {at[int(position)]!r} and {name!r} both name position {position}.")
        at[int(position)] = name
    return prompt, answer, distractor, {name: int(position) for name, position in roles.items()}


def _check_labels(labels: Any, roles: Sequence[dict[str, int]]) -> tuple[tuple[str, ...], ...]:
    """Labels given to the constructor: one list of strings per prompt, the role names at the role positions."""
    out = []
    for i, (row, prompt_roles) in enumerate(zip(_sequence(labels, "labels", len(roles)), roles)):
        row = tuple(_sequence(row, f"labels[{i}]"))
        if not all(isinstance(label, str) for label in row) or len(set(row)) != len(row):
            raise InfoFlowError(f"labels[{i}] must be distinct strings, one per token position.")
        for name, position in prompt_roles.items():
            if position >= len(row) or row[position] != name:
                raise InfoFlowError(f"labels[{i}] must have the role {name!r} at position {position}.")
        out.append(row)
    return tuple(out)


LINE_BREAKS_JSON_KEEPS = ("\u0085", "\u2028", "\u2029")
"""The line-breaking characters ``json.dumps(ensure_ascii=False)`` writes as they are (it escapes the control ones)."""


def _escape_line_breaks(line: str) -> str:
    """A JSON text with each character some readers split lines at written as its escape (only strings hold them)."""
    for char in LINE_BREAKS_JSON_KEEPS:
        line = line.replace(char, f"\\u{ord(char):04x}")
    return line


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's keys, each once: a repeated key is an error, not the last value silently."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice")
        found[key] = value
    return found


def _jsonl_record(line: str, where: str) -> tuple | None:
    """The fields of one JSONL line, checked; None for a blank line."""
    if not line.strip():
        return None
    try:
        item = json.loads(line, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise InfoFlowError(f"{where} is not a JSON object: {err}.") from None
    if not isinstance(item, dict):
        raise InfoFlowError(f"{where} must be a JSON object with {', '.join(JSONL_KEYS)}, got {type(item).__name__}.")
    unknown = sorted(set(item) - set(JSONL_KEYS))
    if unknown:
        raise InfoFlowError(f"{where} has unknown key(s) {unknown}; the keys are {', '.join(JSONL_KEYS)}.")
    for key in ("prompt", "answer"):
        if key not in item:
            raise InfoFlowError(f"{where} has no {key!r}.")
    return _check_record(item["prompt"], item["answer"], item.get("distractor"), item.get("roles", {}), where)


def _tokenizer_of(tokenizer: Any) -> Any:
    """A model from ``load_model`` stands for its tokenizer; anything else must be a callable tokenizer."""
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None:
        tokenizer = inner
    if tokenizer is None or not callable(tokenizer):
        raise InfoFlowError("A tokenizer is needed (the model's: tokenizer=model or tokenizer=model.tokenizer).")
    return tokenizer


def _ids(tokenizer: Any, text: str, special: bool = True) -> list[int]:
    """Token ids of ``text``; with ``special`` as the engine tokenizes a prompt (BOS included)."""
    return [int(i) for i in tokenizer(text, add_special_tokens=special)["input_ids"]]


def _pieces(tokenizer: Any, text: str) -> str:
    """How ``text`` tokenizes, for messages: ``2 tokens [' X', 'zavier']``."""
    pieces = token_texts(tokenizer, _ids(tokenizer, text, special=False))
    return f"{len(pieces)} tokens {pieces}"


def _labels(texts: Sequence[str], roles: Mapping[str, int]) -> tuple[str, ...]:
    """One unique label per position: the role there, else the token text, numbered from its second use on."""
    at = {position: name for name, position in roles.items()}
    used = set(roles)
    labels = []
    for position, text in enumerate(texts):
        label = at.get(position)
        if label is None:
            label, k = text, 1
            while label in used:  # a repeated fixed word (" the" twice) gets " the#2"
                k += 1
                label = f"{text}#{k}"
        used.add(label)
        labels.append(label)
    return tuple(labels)


# --- templates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    """A parsed template: its literal texts and slot occurrences in order, and the role of each occurrence."""

    text: str
    parts: tuple[tuple[str, str | None], ...]  # (literal text before, slot name or None at the end)
    occurrence_roles: tuple[str, ...]  # role name of each slot occurrence, in order
    offset_roles: tuple[tuple[str, int], ...]  # (role name, index of the occurrence it follows)

    @property
    def slots(self) -> list[str]:
        """The slot names in order of first use."""
        return list(dict.fromkeys(slot for _, slot in self.parts if slot is not None))

    @classmethod
    def parse(cls, template: Any) -> _Template:
        if not isinstance(template, str) or not template.strip():
            raise InfoFlowError(f"The template must be a non-empty string, got {template!r}.")
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError as err:
            raise InfoFlowError(
                f"The template {template!r} has unbalanced braces ({err}); write {{{{ for a literal '{{'."
            ) from None
        parts = []
        for literal, name, spec, conversion in fields:
            if name is not None and (not name.isidentifier() or spec or conversion):
                raise InfoFlowError(f"Template slots are names in braces such as {{IO}}; {{{name}}} is not one.")
            parts.append((literal, name))
        slots = [name for _, name in parts if name is not None]
        if not slots:
            raise InfoFlowError(f"The template {template!r} has no slot such as {{IO}} to fill.")
        counts = {slot: slots.count(slot) for slot in slots}
        seen: dict[str, int] = {}
        roles = []
        for slot in slots:
            seen[slot] = seen.get(slot, 0) + 1
            roles.append(slot if counts[slot] == 1 else f"{slot}{seen[slot]}")
        offsets = tuple((f"{slot}1{OFFSET}", slots.index(slot)) for slot in counts if counts[slot] > 1)
        names = [*roles, *(name for name, _ in offsets), END]
        clash = sorted({name for name in names if names.count(name) > 1})
        if clash:
            raise InfoFlowError(
                f"The template's slots give the role name(s) {clash} twice (a slot used twice, S, gives S1 and S2, and "
                f"S1{OFFSET}; END is the last position): rename the slots."
            )
        return cls(template, tuple(parts), tuple(roles), offsets)

    def render(self, fill: Mapping[str, str]) -> tuple[str, list[tuple[int, int]]]:
        """The prompt of one fill and each slot occurrence's character span ``(start, end)``."""
        text, spans = "", []
        for literal, slot in self.parts:
            text += literal
            if slot is not None:
                spans.append((len(text), len(text) + len(fill[slot])))
                text += fill[slot]
        return text, spans


def _check_slot_values(parsed: _Template, slot_values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each slot's values, checked and without repeats; every slot needs values and every value list a slot."""
    slots = parsed.slots
    missing = [s for s in slots if s not in slot_values]
    if missing:
        raise InfoFlowError(f"The template's slot(s) {missing} have no values: pass them as {missing[0]}=[...].")
    extra = [s for s in slot_values if s not in slots]
    if extra:
        raise InfoFlowError(f"Values were given for {extra}, which the template does not use (its slots: {slots}).")
    pools = {}
    for slot in slots:
        values = slot_values[slot]
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise InfoFlowError(f"{slot} needs a non-empty list of values, got {values!r}.")
        bad = [v for v in values if not isinstance(v, str) or not v.strip()]
        if bad:
            raise InfoFlowError(f"The values of {slot} must be non-empty strings; {bad[0]!r} is not.")
        pools[slot] = list(dict.fromkeys(values))  # a repeated value would only repeat fills
    return pools


def _reference(text: Any, parsed: _Template, role: str) -> tuple[str, str] | None:
    """``("slot", name)`` for ``"{IO}"``, ``("literal", text)`` for a token; None for no distractor."""
    if text is None and role == "distractor":
        return None
    if not isinstance(text, str) or not text:
        raise InfoFlowError(f"The {role} must be a slot such as '{{IO}}' or a token such as ' Mary', got {text!r}.")
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1] in parsed.slots:
        return ("slot", stripped[1:-1])
    if "{" in text or "}" in text:
        slots = ", ".join("{" + s + "}" for s in parsed.slots)
        raise InfoFlowError(f"The {role} {text!r} is neither one slot of the template ({slots}) nor a literal token.")
    return ("literal", text)


@dataclass
class _Filler:
    """Fills one template: screens values, draws fills, tokenizes and labels each prompt."""

    parsed: _Template
    tokenizer: Any
    references: dict[str, tuple[str, str] | None]
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def build(self, pools: dict[str, list[str]], n: int, seed: int) -> PromptSet:
        pools = {slot: self._screen(slot, values, pools) for slot, values in pools.items()}
        rows: list[tuple[dict[str, str], str, dict[str, int], tuple[str, ...]]] = []
        candidates = 0
        for fill in _candidate_fills(pools, seed):
            candidates += 1
            row = self._row(fill)
            if row is not None:
                self._check_alike(row, rows[0] if rows else row)
                rows.append(row)
                if len(rows) == n:
                    break
        if not candidates:
            raise InfoFlowError(f"No fill of {self.parsed.text!r} has distinct values for its distinct slots.")
        if not rows:
            raise InfoFlowError(f"No fill of {self.parsed.text!r} is usable: {self._reasons()}")
        notes = []
        if len(rows) < n:
            notes.append(f"{len(rows)} prompts instead of {n}: only {len(rows)} distinct usable fills exist.")
            warnings.warn(f"PromptSet.from_template: {notes[0]} {self._reasons()}", UserWarning, stacklevel=3)
        fills = [fill for fill, *_ in rows]
        provenance = {
            "template": self.parsed.text,
            "seed": seed,
            "requested": n,
            "dropped": self.dropped,
            "notes": notes,
        }
        return PromptSet(
            prompts=tuple(prompt for _, prompt, _, _ in rows),
            answers=tuple(self._slot_answer("answer", fill) for fill in fills),
            distractors=tuple(self._answer("distractor", fill) for fill in fills),
            roles=tuple(roles for *_, roles, _ in rows),
            labels=tuple(labels for *_, labels in rows),
            template=self.parsed.text,
            slots=tuple(fills),
            provenance=provenance,
        )

    def _reasons(self) -> str:
        shown = "; ".join(f"{d.get('value', d.get('fill'))!r}: {d['reason']}" for d in self.dropped[:5])
        more = f" (and {len(self.dropped) - 5} more, in .dropped)" if len(self.dropped) > 5 else ""
        return f"dropped {shown}{more}." if shown else "no more distinct fills exist."

    def _answer(self, role: str, fill: Mapping[str, str]) -> str | None:
        """The answer (or distractor) of one fill: a literal, or the slot's value as the next word."""
        reference = self.references[role]
        if reference is None:
            return None
        kind, text = reference
        if kind == "literal":
            return text
        return self._next_word(fill[text])

    def _slot_answer(self, role: str, fill: Mapping[str, str]) -> str:
        """:meth:`_answer` of a role that has a reference (the answer always has one): never None."""
        return cast(str, self._answer(role, fill))

    def _next_word(self, value: str) -> str:
        # The answer follows the prompt, so it takes a space unless the prompt ends in one or the value has one.
        return value if value[0].isspace() or self.parsed.text[-1].isspace() else " " + value

    def _screen(self, slot: str, values: list[str], pools: Mapping[str, list[str]]) -> list[str]:
        """The values of ``slot`` that are one token in the template (and as the answer); the rest go to dropped."""
        kept = []
        for value in values:
            if value != value.strip():  # " Mary" would read "When  Mary" and label the extra space a token
                supplied = f"the template supplies the space before {{{slot}}}"
                reason = f"has space around it: {supplied} (give {value.strip()!r})"
                self.dropped.append({"slot": slot, "value": value, "reason": reason})
                continue
            fill = {other: _other_value(pool, value) for other, pool in pools.items()}
            fill[slot] = value
            reason = self._slot_problem(fill, slot) or self._answer_problem(slot, fill)
            if reason is None:
                kept.append(value)
            else:
                self.dropped.append({"slot": slot, "value": value, "reason": reason})
        if not kept:
            raise InfoFlowError(f"No value of {slot} is one token in {self.parsed.text!r}: {self._reasons()}")
        return kept

    def _answer_problem(self, slot: str, fill: Mapping[str, str]) -> str | None:
        for role in ("answer", "distractor"):
            if self.references[role] == ("slot", slot):
                text = self._next_word(fill[slot])
                if len(_ids(self.tokenizer, text, special=False)) != 1:
                    return f"as the {role}, {text!r} is {_pieces(self.tokenizer, text)}"
        return None

    def _encode(self, prompt: str) -> tuple[list[int], list[tuple[int, int]]]:
        try:
            encoded = self.tokenizer(prompt, return_offsets_mapping=True)
            offsets = [(int(a), int(b)) for a, b in encoded["offset_mapping"]]
        except (NotImplementedError, TypeError, ValueError, KeyError):
            raise InfoFlowError(
                "PromptSet.from_template needs a tokenizer that gives character offsets (a fast tokenizer) to find "
                "each slot's token; build the set by hand instead: PromptSet(prompts, answers, distractors, roles)."
            ) from None
        return [int(i) for i in encoded["input_ids"]], offsets

    def _positions(self, fill: Mapping[str, str]) -> tuple[str, list[int], list[str | None], list[int]]:
        """The prompt, each slot occurrence's token position (-1: not one token) with the problem, and the ids."""
        prompt, spans = self.parsed.render(fill)
        ids, offsets = self._encode(prompt)
        positions, problems = [], []
        for start, end in spans:
            # A value's own token may also hold the whitespace before it (" Mary"), and nothing else of the template.
            region = len(prompt[:start].rstrip())
            inside = [k for k, (a, b) in enumerate(offsets) if a < end and b > start and b > a]
            problem = None
            if len(inside) != 1:
                problem = (
                    f"is {len(inside)} tokens in the prompt {[prompt[offsets[k][0] : offsets[k][1]] for k in inside]}"
                )
            elif offsets[inside[0]][0] < region or offsets[inside[0]][1] > end:
                a, b = offsets[inside[0]]
                problem = f"shares its token {prompt[a:b]!r} with the template's text around it"
            positions.append(inside[0] if problem is None else -1)
            problems.append(problem)
        return prompt, positions, problems, ids

    def _slot_problem(self, fill: Mapping[str, str], slot: str) -> str | None:
        _, _, problems, _ = self._positions(fill)
        slots = [s for _, s in self.parsed.parts if s is not None]
        return next((p for s, p in zip(slots, problems) if s == slot and p is not None), None)

    def _row(self, fill: dict[str, str]) -> tuple[dict[str, str], str, dict[str, int], tuple[str, ...]] | None:
        """One fill's prompt, roles and labels; None (and a dropped entry) when a value is not one token here."""
        prompt, positions, problems, ids = self._positions(fill)
        problem = next((p for p in problems if p is not None), None)
        if problem is None and self._answer("answer", fill) == self._answer("distractor", fill):
            problem = "its answer and distractor are the same token"
        if problem is not None:
            self.dropped.append({"fill": fill, "reason": problem})
            return None
        roles = dict(zip(self.parsed.occurrence_roles, positions))
        derived = [(name, positions[k] + 1) for name, k in self.parsed.offset_roles] + [(END, len(ids) - 1)]
        for name, position in derived:
            if position not in roles.values():  # a position that already has a slot's role keeps it
                roles[name] = position
        roles = dict(sorted(roles.items(), key=lambda item: item[1]))
        return fill, prompt, roles, _labels(token_texts(self.tokenizer, ids), roles)

    def _check_alike(self, row: tuple, first: tuple) -> None:
        """Raise unless ``row``'s labels equal the first fill's: the template's fixed words must tokenize alike."""
        fill, prompt, _, labels = row
        first_fill, first_prompt, _, first_labels = first
        if labels == first_labels:
            return
        if len(labels) != len(first_labels):
            what = f"is {len(labels)} tokens, the first fill's {len(first_labels)}"
        else:
            k = next(k for k, (a, b) in enumerate(zip(labels, first_labels)) if a != b)
            what = f"has {labels[k]!r} at position {k} where the first fill has {first_labels[k]!r}"
        raise InfoFlowError(
            f"The fill {fill} ({prompt!r}) {what} ({first_fill}: {first_prompt!r}): its values change how the "
            "template's fixed words tokenize. Drop those values or change the template."
        )


def _other_value(pool: Sequence[str], avoid: str) -> str:
    """A value of ``pool`` for a probe fill, other than ``avoid`` where the pool has one."""
    return next((v for v in pool if v != avoid), pool[0])


def _candidate_fills(pools: Mapping[str, Sequence[str]], seed: int) -> Iterator[dict[str, str]]:
    """Distinct fills with distinct values across slots, in a random order fixed by ``seed``; each at most once.

    Up to :data:`ENUMERATE_LIMIT` possible fills are all listed and shuffled (so every one comes, and
    the end is known); more are drawn at random, skipping repeats, until draws stop finding new ones.
    """
    rng = random.Random(seed)
    slots = list(pools)
    if math.prod(len(pools[s]) for s in slots) <= ENUMERATE_LIMIT:
        combos = [c for c in itertools.product(*(pools[s] for s in slots)) if len(set(c)) == len(c)]
        rng.shuffle(combos)
        yield from (dict(zip(slots, c)) for c in combos)
        return
    seen: set[tuple[str, ...]] = set()
    misses = 0
    while misses < 1000:  # over 100,000 fills exist, so 1000 misses in a row means nearly all were drawn
        combo = tuple(rng.choice(pools[s]) for s in slots)
        if combo in seen or len(set(combo)) != len(combo):
            misses += 1
            continue
        misses = 0
        seen.add(combo)
        yield dict(zip(slots, combo))
    # Many slots over few values (10 slots, 10 names: one draw in 2,800 is distinct) stop the draws above early:
    # go on drawing each slot among the values the fill has not used yet, until draws only repeat.
    misses = 0
    while misses < 1000:
        combo = _distinct_draw(rng, pools, slots)
        if combo is None or combo in seen:
            misses += 1
            continue
        misses = 0
        seen.add(combo)
        yield dict(zip(slots, combo))


def _distinct_draw(rng: random.Random, pools: Mapping[str, Sequence[str]], slots: list[str]) -> tuple[str, ...] | None:
    """One fill drawn slot by slot among the values not used yet, so its values are distinct (None: a slot ran out)."""
    used: list[str] = []
    for slot in slots:
        left = [value for value in pools[slot] if value not in used]
        if not left:
            return None
        used.append(rng.choice(left))
    return tuple(used)
