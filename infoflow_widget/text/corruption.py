"""Corrupted prompts for path patching, generated: the clean prompt's tokens with other names, numbers and words.

``Corrupt(corrupted_prompt)`` needs a corrupted prompt whose tokens line up with the clean prompt's:
the same token length, and the same tokens wherever nothing was replaced (the write-up calls finding
one by hand non-trivial, section 2 and appendix A). :func:`corrupted_prompts` builds ``n`` of them from
the clean prompt and the model's tokenizer, deterministically for a seed, and returns a
:class:`CorruptionPlan`: the prompts, what changed at which position in each, and the positions that
could not be replaced, with the reason (plain data for ``graph.provenance``).

**Pieces and kinds.** The prompt's text is cut into pieces, each a maximal run of letters or of digits
(``bottom_left`` is ``bottom``, ``_``, ``left``; ``point1`` is ``point`` and ``1``). Everything between
pieces (whitespace, punctuation, code syntax) is never replaced. A piece is:

- a **number**: a run of digits;
- a **name**: a word of the bundled list of first names (:data:`NAMES`), or, in prose, a capitalised
  word that does not start a sentence and is no function word (a proper name: ``Paris``);
- a **word**: in prose, a content word (a word that is no function word of :data:`STOP_WORDS`, and no
  acronym such as ``USA``); in code, any part of an identifier that is no keyword or builtin of
  :data:`CODE_WORDS` (``Point``, ``calculate``, ``area``, the class ``A``, the variable ``x``);
- kept otherwise: function words (``the``, ``to``, ``and``, ``When``), code keywords and builtins
  (``def``, ``self``, ``float``, ``print``), every part of a dunder name (``__init__``), contraction
  endings (the ``s`` of ``Mary's``).

A prompt counts as code when a line looks like code (a ``def``/``class``/``function`` definition, an
import, a Python block header ending in ``:``, an assignment, a line ending in ``{`` ``}`` ``;``);
``code=`` overrides that. In code, comments (``#`` or ``//`` to the end of the line) are read as prose.

**Which kinds are replaced.** ``kinds=None`` (the default) corrupts what such a task is about and keeps
the rest of the prompt: in prose, the names and numbers (with seed 0 the IOI prompt becomes ``"When
Wendy and Adrian went to the store, Adrian gave a book to"``, names only as in the write-up's
corruption, section 2.1), falling back to content words when the prompt has no replaceable name or
number; in code, identifiers and numbers (``foo = A(Point(2, 3), Point(6, 5))`` becomes ``dog =
N(Plate(4, 0), Plate(1, 2))`` on Gemma 3). ``kinds=("name", "number", "word")`` replaces every kind;
``keep=`` names words that stay.

**Names of the task.** The answer and the distractor (``avoid=``, from the metric) are never used as
*replacement values*, so no corrupted prompt contains the clean answer anew; their positions in the
prompt *are* replaced like any other name (in IOI the names are the answer and the distractor, and the
write-up's corruption replaces them). No replacement is a word of the clean prompt either (``Mary``
never becomes ``John``), nor a function word or code keyword (``pass``, ``set``), except that numbers
may take another number of the prompt (``0`` -> ``1``: there are only ten digits).

**Consistency.** With ``consistent=True`` (the default) each distinct clean piece maps to one
replacement in a sample, and distinct pieces to distinct ones (case kept: the comment's ``Calculate``
and the code's ``calculate`` become ``Hear`` and ``hear``): the corrupted IOI prompt is again a fluent IOI prompt
with other names (``ABB`` -> ``CDD``), and the corrupted code is again a consistent program. With
``consistent=False`` every occurrence gets its own replacement, all distinct: the write-up's example
``"When Felix and Sarah went to the store, Diego gave a book to"`` (``ABB`` -> ``CDE``), which also
breaks the repetition of the subject.

**Checks.** A replacement comes from its kind's pool with the piece's case (lower, Capitalised,
UPPER), keeps the piece's surroundings (so its leading space), and must keep the tokens: the prompt
with it re-tokenises to the same length, with the same token ids at every position it does not cover
(the covered positions, one for a single-token piece, must stay as many). Other values are tried in a
seeded order. In code, a piece of several tokens (``circumference`` after ``_`` on SmolLM2) is
replaced by a made-up compound of bundled words (``passhighsend``), and a word tokenised differently at
its occurrences (one token in a comment, three in an identifier) gets one replacement per tokenisation
(a note says so). A piece for which no value fits stays as it is and is listed in
:attr:`CorruptionPlan.unreplaceable` with its positions and the reason (``When Xzavier and Mary ...``:
`` Xzavier`` is three tokens and no bundled name is). Each whole corrupted prompt is checked once more,
and the ``n`` prompts are distinct when the prompt allows that many (else a note says how many are).

**Word lists.** :data:`NAMES` (220 first names), :data:`NOUNS` (134), :data:`ADJECTIVES` (74),
:data:`VERBS` (89) and :data:`PAST_VERBS` (49) were picked from longer candidate lists so that every
entry is one token with a leading space in both bundled tokenizers (SmolLM2-135M's byte-level BPE and
Gemma 3's SentencePiece); the names that were not (``Abby``, ``Megan``, ``Zoe``, ``Dylan``, ... 22 of
243) were left out. ``tests/integration/test_corruption_models.py`` counts, per tokenizer and list, the
entries that are one token with and without the leading space, and fails unless every entry is one
token with it. Without it (identifiers after ``.`` or ``_``): SmolLM2 69 of 220 names, 115 of 134 nouns;
Gemma 3 218 and 134. Other tokenizers are checked at run time, value by value.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, cast

from ..core.errors import InfoFlowError, is_whole
from .display import token_texts

KINDS: tuple[str, ...] = ("name", "number", "word")
"""The kinds of piece that can be replaced."""

NAMES: tuple[str, ...] = tuple(
    """
    Aaron Adam Alan Albert Alex Alice Amanda Amy Andrew Andy Angela Anna Anne Anthony Arthur Ashley Barbara Ben
    Benjamin Beth Betty Bill Bob Brad Brian Bruce Carl Carlos Carol Caroline Catherine Charles Charlie Chris
    Christine Claire Colin Craig Dan Daniel David Dean Deborah Dennis Diana Diego Donald Doug Edward Elizabeth
    Ellen Emily Emma Eric Eva Frank Fred Gary George Grace Greg Hannah Harry Helen Henry Ian Isaac Jack Jacob
    James Jane Janet Jason Jean Jeff Jennifer Jenny Jerry Jessica Jim Joe John Jonathan Jordan Joseph Josh
    Joshua Julia Julie Justin Karen Kate Katie Keith Kelly Ken Kevin Kim Laura Lauren Leo Linda Lisa Louis Lucy
    Luke Maria Mark Martin Mary Matt Max Michael Michelle Mike Nancy Nathan Nick Nicole Oliver Olivia Oscar Pam
    Patrick Paul Peter Philip Rachel Ray Rebecca Richard Rick Robert Roger Ron Rose Ruth Ryan Sam Sandra Sara
    Sarah Scott Sean Simon Sophie Steve Steven Susan Tim Tom Tony Victor Victoria Walter Wayne William Felix
    Hugo Ivan Julian Marco Maya Nina Noah Omar Pablo Rosa Vincent Adrian Alfred Andrea Angel Ann Arnold Austin
    Bruno Clara Cole Dave Ella Ethan Gabriel Gordon Harold Howard Jackson Jake Jesse Jimmy Joan Joel
    Johnny Juan Larry Leon Lily Louise Lynn Marie Marcus Martha Mason Molly Morgan Neil Norman Owen Pedro Phil
    Ralph Roy Russell Sally Stanley Ted Terry Todd Troy Wendy
    """.split()
)
"""First names, each one token with a leading space in both bundled tokenizers: recognised as names, and drawn from."""

NOUNS: tuple[str, ...] = tuple(
    """
    book store house car dog cat tree river city table chair window door garden bottle letter phone computer
    apple bread cake ring key box bag hat coat shirt shoe ball game song story picture paper pen cup plate bowl
    knife road street bridge park school office hospital church market shop hotel room kitchen floor wall roof
    field farm forest mountain island lake beach boat ship train plane bike horse bird fish flower leaf stone
    rock sand water fire gift card map clock watch camera radio lamp bed desk bank money coin ticket note list
    report plan idea problem answer question reason result point area center circle line shape square size
    level price value number name word page film movie show party meeting class lesson test job team group
    family friend child teacher doctor student
    """.split()
)
"""Nouns (a noun of the prompt is replaced by a noun; its plural with -s by a plural)."""

ADJECTIVES: tuple[str, ...] = tuple(
    """
    big small long short old new young good bad great little high low large early late hard easy strong weak
    dark bright cold hot warm cool fast slow quick happy sad rich poor clean dirty full empty heavy light soft
    loud quiet red blue green black white yellow brown gray simple clear free open close deep wide thin thick
    sharp sweet fresh real main final total basic common local public private special single double
    """.split()
)
"""Adjectives."""

VERBS: tuple[str, ...] = tuple(
    """
    make take give find tell ask work call try need feel become leave put mean keep let begin seem help show
    hear play run move live believe bring write sit stand lose pay meet include continue set learn change lead
    understand watch follow stop create speak read spend grow walk win offer remember love consider appear buy
    wait serve fix send expect build stay fall cut reach join remain suggest raise pass sell require decide
    pull compute calculate measure draw scale sort count check load save print update render
    """.split()
)
"""Verbs in the base form."""

PAST_VERBS: tuple[str, ...] = tuple(
    """
    went gave said took made came saw knew got found thought told became left felt brought began kept held
    wrote stood heard meant met ran paid sat spoke lay led grew lost fell sent built understood drew broke
    spent rose drove bought wore chose sold threw caught taught fought
    """.split()
)
"""Verbs in the past tense."""

STOP_WORDS: frozenset[str] = frozenset(
    """
    a an the this that these those some any each every all both either neither no none other another such
    what which who whom whose where when why how whether if then than else so as because since until while
    although though unless whereas once and or but nor yet also too very just only even still already not
    i me my mine myself you your yours yourself we us our ours ourselves he him his himself she her hers
    herself it its itself they them their theirs themselves one ones
    of to in on at by for with from into onto about above below over under after before between through
    during without within along across against among around behind beside beyond toward towards upon off out
    up down near per via
    am is are was were be been being have has had having do does did doing done will would shall should can
    could may might must ought let lets
    here there now today again ever never always often sometimes soon later first last next
    s t d ll re ve m o y
    """.split()
)
"""Function words, kept in prose (compared in lower case)."""

CODE_WORDS: frozenset[str] = frozenset(
    """
    False None True and as assert async await break class continue def del elif else except finally for from
    global if import in is lambda nonlocal not or pass raise return try while with yield match case self cls
    abs all any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex delattr dict
    dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash hex id input int
    isinstance issubclass iter len list locals map max min next object oct open ord pow print property range
    repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip
    Exception ValueError TypeError KeyError IndexError RuntimeError NotImplementedError
    List Dict Set Tuple Optional Union Any Callable Iterable Iterator Sequence
    function const let var new this null undefined true false void int long double char static public private
    protected extends implements interface package fn func struct enum impl pub mut use mod go defer chan
    include define typedef sizeof unsigned signed auto switch default do goto
    """.split()
)
"""Keywords, builtins and common type names of Python and other languages: kept in code (case-sensitive)."""

CONTRACTIONS = frozenset({"s", "t", "d", "ll", "re", "ve", "m"})
"""Endings after an apostrophe (``Mary's``, ``don't``), kept in prose."""

_NAME_SET = frozenset(NAMES)
_PIECE = re.compile(r"[^\W\d_]+|\d+")
_IDENTIFIER = re.compile(r"\w+")
_COMMENT = re.compile(r"(?:#|//)[^\n]*")
_CODE_LINE = re.compile(
    r"^[ \t]*(?:def|class|fn|func|function|struct|interface|enum)[ \t]+\w+[ \t]*[(:{<]"
    r"|^[ \t]*(?:import[ \t]+[\w.]+[ \t]*$|from[ \t]+[\w.]+[ \t]+import\b|#include\b|package[ \t]+[\w.]+[ \t]*;?$)"
    r"|^[ \t]*(?:if|elif|else|for|while|try|except|with)\b[^\n]*:[ \t]*$"
    r"|^[ \t]*[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?[ \t]*[-+*/]?=[^=]"
    r"|[{};][ \t]*$",
    re.MULTILINE,
)
"""A line of code: a definition, an import, a Python block header, an assignment, or a line ending in ``{ } ;``."""
_LONG_NUMBER_DRAWS = 400
"""Values drawn for a number of four digits or more (shorter ones try every value of their width)."""
_SAMPLE_ATTEMPTS = 40
"""Draws per sample before a repeated prompt is accepted (the prompt has fewer distinct corruptions than n)."""


@dataclass(frozen=True)
class Change:
    """One token position of a corrupted prompt that differs from the clean one."""

    position: int
    old: str
    new: str


@dataclass(frozen=True)
class CorruptedSample:
    """One corrupted prompt: its text, the token positions that changed, and the pieces replaced (old, new)."""

    prompt: str
    changes: tuple[Change, ...]
    replacements: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Unreplaceable:
    """A piece of a replaced kind that no value of its pool can replace without changing the tokens."""

    positions: tuple[int, ...]
    text: str
    kind: str
    reason: str

    def describe(self) -> str:
        """``position 3 ' Xavier' (name): ...``."""
        where = ", ".join(str(p) for p in self.positions)
        return f"position{'s' if len(self.positions) > 1 else ''} {where} {self.text!r} ({self.kind}): {self.reason}"


@dataclass(frozen=True)
class CorruptionPlan:
    """What :func:`corrupted_prompts` built: ``n`` corrupted prompts of the clean prompt's token length.

    Attributes:
        prompt: the clean prompt.
        tokens: its tokens' texts.
        kinds: per token position, the kind replaced there (``"name"``, ``"number"``, ``"word"``) or
            ``"kept"``.
        samples: the corrupted prompts with their changes.
        unreplaceable: pieces of a replaced kind that stayed, with the reason.
        replaced_kinds: the kinds replaced (chosen by the prompt when ``kinds=None``).
        n, seed, consistent, avoid, keep, code: the request.
        notes: what the caller should know (fewer distinct prompts than asked, a fallback of kinds).
    """

    prompt: str
    tokens: tuple[str, ...]
    kinds: tuple[str, ...]
    samples: tuple[CorruptedSample, ...]
    unreplaceable: tuple[Unreplaceable, ...]
    replaced_kinds: tuple[str, ...]
    n: int
    seed: int
    consistent: bool
    avoid: tuple[str, ...]
    keep: tuple[str, ...]
    code: bool
    notes: tuple[str, ...] = ()

    @property
    def prompts(self) -> list[str]:
        """The corrupted prompts, one per sample, in order."""
        return [s.prompt for s in self.samples]

    def provenance(self) -> dict[str, Any]:
        """The plan as plain JSON data, for ``graph.provenance["corruption"]``."""
        return {
            "generator": "auto",
            "n": self.n,
            "seed": self.seed,
            "kinds": list(self.replaced_kinds),
            "consistent": self.consistent,
            "avoid": list(self.avoid),
            "keep": list(self.keep),
            "code": self.code,
            "prompts": self.prompts,
            "changes": [
                [{"position": c.position, "old": c.old, "new": c.new} for c in s.changes] for s in self.samples
            ],
            "replacements": [[list(pair) for pair in s.replacements] for s in self.samples],
            "unreplaceable": [
                {"positions": list(u.positions), "text": u.text, "kind": u.kind, "reason": u.reason}
                for u in self.unreplaceable
            ],
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        """A few lines for people: the prompts, the unreplaceable positions and the notes."""
        lines = [f"{len(self.samples)} corrupted prompt(s), replacing {', '.join(self.replaced_kinds)}:"]
        lines += [f"  {s.prompt!r}" for s in self.samples]
        lines += [f"  kept: {u.describe()}" for u in self.unreplaceable]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def plan_notes(provenance: Any) -> list[str]:
    """What a plan's :meth:`~CorruptionPlan.provenance` tells a user beyond its prompts: kept positions, then notes.

    ``["kept positions 1, 2, 3 ' Xzavier' (name): 3 tokens here, and none of the 218 bundled names ...", ...]``;
    ``[]`` for anything that is not a plan's provenance (a graph without one).
    """
    if not isinstance(provenance, dict):
        return []
    lines = []
    for kept in provenance.get("unreplaceable") or []:
        if isinstance(kept, dict) and isinstance(kept.get("positions"), list):
            u = Unreplaceable(
                tuple(kept["positions"]), str(kept.get("text")), str(kept.get("kind")), str(kept.get("reason"))
            )
            lines.append(f"kept {u.describe()}")
    return lines + [str(note) for note in provenance.get("notes") or []]


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    text: str
    kind: str  # a kind of KINDS, or "kept"
    pool: str  # where its replacements come from: a key of _POOLS, or digits
    positions: tuple[int, ...]  # the token positions it overlaps


@dataclass
class _Group:
    """Pieces replaced together (every occurrence of one word when consistent, else one occurrence)."""

    key: str
    kind: str
    pool: str
    pieces: list[_Piece]

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(sorted({p for piece in self.pieces for p in piece.positions}))


def check_corruption_args(
    n: Any = 4,
    seed: Any = 0,
    *,
    avoid: Any = (),
    keep: Any = (),
    kinds: Any = None,
    consistent: Any = True,
    code: Any = None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]:
    """Check the arguments of :func:`corrupted_prompts` without a tokenizer (for ``Corrupt.auto``, before any work).

    Returns:
        ``avoid``, ``keep`` and ``kinds`` as tuples (a single string counts as one item; kinds None stays None).

    Raises:
        InfoFlowError: ``n`` not a whole number >= 1, a seed that is no whole number, texts that are not
            strings, an unknown kind, or ``consistent`` / ``code`` not booleans.
    """
    if not is_whole(n, minimum=1):
        raise InfoFlowError(f"n (the number of corrupted prompts) must be a whole number >= 1; got {n!r}.")
    if not is_whole(seed, minimum=None):
        raise InfoFlowError(f"seed must be a whole number; got {seed!r}.")
    avoid_texts = _texts(avoid, "avoid", "[' Mary', ' John']")
    keep_texts = _texts(keep, "keep", "['Mary']")
    chosen: tuple[str, ...] | None = None
    if kinds is not None:
        chosen = _texts(kinds, "kinds", "['name', 'number']")
        unknown = [k for k in chosen if k not in KINDS]
        if unknown or not chosen:
            raise InfoFlowError(
                f"kinds must be some of {', '.join(map(repr, KINDS))} (or None: chosen by the prompt); got {kinds!r}."
            )
        chosen = tuple(k for k in KINDS if k in chosen)
    if not isinstance(consistent, bool):
        raise InfoFlowError(f"consistent must be True or False; got {consistent!r}.")
    if code is not None and not isinstance(code, bool):
        raise InfoFlowError(f"code must be True, False or None (detected from the prompt); got {code!r}.")
    return avoid_texts, keep_texts, chosen


def _texts(value: Any, role: str, example: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Collection) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InfoFlowError(f"{role} must be a list of texts such as {example}; got {value!r}.")


def metric_texts(metric: Any) -> tuple[str, ...]:
    """The texts a metric is about (answer, distractor, target): what ``avoid=`` should hold for it."""
    return tuple(
        text for name in ("answer", "distractor", "target") if isinstance(text := getattr(metric, name, None), str)
    )


def looks_like_code(text: str) -> bool:
    """Whether ``text`` reads as code: a definition, import, block header or assignment, or a line ending in ``{};``."""
    return _CODE_LINE.search(text) is not None


def corrupted_prompts(
    tokenizer: Any,
    prompt: str,
    n: int = 4,
    seed: int = 0,
    *,
    avoid: Collection[str] = (),
    keep: Collection[str] = (),
    kinds: Collection[str] | None = None,
    consistent: bool = True,
    code: bool | None = None,
) -> CorruptionPlan:
    """Build ``n`` corrupted prompts whose tokens line up with ``prompt``'s: other names, numbers or words.

    The rules (which pieces are names, numbers, words; which are replaced; how) are in the module's
    docstring. Deterministic for a given seed, tokenizer and prompt; the first ``k`` prompts of a request
    for ``n >= k`` are those of a request for ``k``.

    Args:
        tokenizer: the model's tokenizer (``model.tokenizer``); it is called as the engine calls it.
        prompt: the clean prompt.
        n: how many corrupted prompts (distinct when the prompt allows that many).
        seed: the seed of the draws.
        avoid: texts never used as replacement values, compared without surrounding whitespace and case:
            the metric's answer and distractor (:func:`metric_texts`).
        keep: words that stay unchanged wherever they occur (``["Mary"]`` corrupts only the other names).
        kinds: the kinds replaced, of ``("name", "number", "word")``; None: names and numbers in prose
            (content words when it has no replaceable name or number), every kind in code.
        consistent: the same clean word gets the same replacement throughout one prompt (else each
            occurrence its own).
        code: whether the prompt is code (None: :func:`looks_like_code`).

    Returns:
        A :class:`CorruptionPlan` (``plan.prompts``, ``plan.unreplaceable``, ``plan.provenance()``).

    Raises:
        InfoFlowError: bad arguments (see :func:`check_corruption_args`); a prompt with no piece of the
            replaced kinds, or none that can be replaced without changing the tokens.

    Examples:
        >>> plan = corrupted_prompts(model.tokenizer, "When Mary and John went to the store, John gave a book to",
        ...                          n=4, avoid=[" Mary", " John"])
        >>> plan.prompts[0]
        'When Wendy and Adrian went to the store, Adrian gave a book to'
    """
    avoid, keep, chosen = check_corruption_args(
        n, seed, avoid=avoid, keep=keep, kinds=kinds, consistent=consistent, code=code
    )
    if not isinstance(prompt, str) or not prompt.strip():
        raise InfoFlowError(f"The prompt to corrupt must be a non-empty text; got {prompt!r}.")
    if not callable(tokenizer):
        raise InfoFlowError(
            f"tokenizer must be a transformers tokenizer (model.tokenizer); got {type(tokenizer).__name__}."
        )
    is_code = looks_like_code(prompt) if code is None else code
    encode = _encoder(tokenizer)
    ids, offsets = _encode_with_offsets(tokenizer, prompt)
    keep_keys = {k.strip().lower() for k in keep if k.strip()}
    pieces = _pieces(prompt, offsets, is_code, keep_keys)
    search = _Search(tokenizer, encode, prompt, ids, offsets, pieces, avoid, seed, compounds=is_code)

    considered = chosen or (KINDS if is_code else ("name", "number"))
    groups = search.split(_groups([p for p in pieces if p.kind in considered], consistent))
    notes: list[str] = []
    failed: list[_Group] = []
    if chosen is None and not is_code and not any(search.replaceable(g) for g in groups):
        fallback = search.split(_groups([p for p in pieces if p.kind == "word"], consistent))
        if fallback:
            if groups:
                notes.append("no name or number of the prompt can be replaced: content words are replaced instead")
            considered, failed, groups = ("word",), groups, fallback
    if not groups:
        what = " or ".join(f"a {k}" for k in considered) if chosen else "a proper name, a number or a content word"
        raise InfoFlowError(
            f"No token of this prompt can be replaced by another of the same kind ({what}; punctuation, whitespace, "
            "function words and code keywords stay): give Corrupt(corrupted_prompt) by hand."
        )
    unreplaceable = tuple(search.unreplaceable(g) for g in failed + groups if not search.replaceable(g))
    live = [g for g in groups if search.replaceable(g)]
    if not live:
        reasons = "; ".join(u.describe() for u in unreplaceable)
        raise InfoFlowError(
            f"No token of this prompt can be replaced without changing its token length ({reasons}): "
            "give Corrupt(corrupted_prompt) by hand."
        )

    rng = random.Random(seed)
    samples: list[CorruptedSample] = []
    seen: set[str] = set()
    for _ in range(n):
        sample = search.sample(live, rng, seen)
        seen.add(sample.prompt)
        samples.append(sample)
    distinct = len(seen)
    if distinct < n:
        notes.append(f"only {distinct} distinct corrupted prompt(s) found for n = {n}: some repeat")

    notes += search.notes
    replaced = tuple(k for k in KINDS if k in considered)
    covered = {p: g.kind for g in live for p in g.positions}
    return CorruptionPlan(
        prompt=prompt,
        tokens=tuple(token_texts(tokenizer, ids)),
        kinds=tuple(covered.get(p, "kept") for p in range(len(ids))),
        samples=tuple(samples),
        unreplaceable=unreplaceable,
        replaced_kinds=replaced,
        n=n,
        seed=seed,
        consistent=consistent,
        avoid=avoid,
        keep=keep,
        code=is_code,
        notes=tuple(notes),
    )


def _encoder(tokenizer: Any) -> Callable[[str], list[int]]:
    """The prompt's token ids as the engine gets them (special tokens included)."""

    def encode(text: str) -> list[int]:
        return [int(i) for i in tokenizer(text)["input_ids"]]

    return encode


def _encode_with_offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and each token's character span; special tokens (BOS) get empty spans.

    Fast tokenizers give the spans; for others they come from decoding growing prefixes, which must
    reproduce the text.
    """
    try:
        encoded = tokenizer(text, return_offsets_mapping=True)
        ids = [int(i) for i in encoded["input_ids"]]
        offsets = [(int(a), int(b)) for a, b in encoded["offset_mapping"]]
    except (NotImplementedError, TypeError, ValueError, KeyError):
        ids = [int(i) for i in tokenizer(text)["input_ids"]]
        special = set(getattr(tokenizer, "all_special_ids", ()) or ())
        offsets, done, kept = [], 0, []
        for i in ids:
            if i in special:
                offsets.append((done, done))
                continue
            kept.append(i)
            end = len(tokenizer.decode(kept))
            offsets.append((done, end))
            done = end
        if tokenizer.decode(kept) != text:
            raise InfoFlowError(
                "This tokenizer gives no character offsets and its decoding does not reproduce the prompt: the "
                "corrupted prompts cannot be aligned to its tokens. Use a fast tokenizer, or give Corrupt(prompt)."
            ) from None
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    offsets = [(a, a) if i in special else (a, b) for i, (a, b) in zip(ids, offsets)]
    return ids, offsets


def _pieces(text: str, offsets: list[tuple[int, int]], is_code: bool, keep: set[str]) -> list[_Piece]:
    """Every run of letters or digits of ``text``, classified, with the token positions it overlaps."""
    comments = [m.span() for m in _COMMENT.finditer(text)] if is_code else []
    identifiers = {}
    for m in _IDENTIFIER.finditer(text):
        for k in range(m.start(), m.end()):
            identifiers[k] = m.group()
    pieces = []
    for m in _PIECE.finditer(text):
        start, end, word = m.start(), m.end(), m.group()
        prose = not is_code or any(a <= start < b for a, b in comments)
        kind, pool = _classify(text, start, word, identifiers.get(start, word), prose, keep)
        positions = tuple(k for k, (a, b) in enumerate(offsets) if a < end and b > start and b > a)
        pieces.append(_Piece(start, end, word, kind, pool, positions))
    return pieces


def _classify(text: str, start: int, word: str, identifier: str, prose: bool, keep: set[str]) -> tuple[str, str]:
    """The kind of one piece and the pool its replacements come from."""
    lower = word.lower()
    if lower in keep:
        return "kept", ""
    if word.isdigit():
        return "number", "digits"
    if word in _NAME_SET:
        return "name", "names"
    if prose:
        before = text[:start]
        if before[-1:] in ("'", "\u2019") and lower in CONTRACTIONS:
            return "kept", ""
        if lower in STOP_WORDS or (len(word) > 1 and word.isupper()):
            return "kept", ""
        if word[0].isupper() and not _starts_sentence(before):
            return "name", "names"
        return "word", _word_pool(lower)
    if identifier in CODE_WORDS or word in CODE_WORDS or (identifier.startswith("__") and identifier.endswith("__")):
        return "kept", ""
    return "word", _word_pool(lower)


def _starts_sentence(before: str) -> bool:
    """Whether a word after ``before`` starts a sentence, a line or a comment (quotes and brackets skipped)."""
    stripped = before.rstrip(" \t\"'([\u201c\u2018")
    return not stripped or stripped[-1] in ".!?:\n#/*"


def _word_pool(lower: str) -> str:
    if len(lower) == 1:
        return "letters"
    for name, words in (("past", PAST_VERBS), ("verbs", VERBS), ("nouns", NOUNS), ("adjectives", ADJECTIVES)):
        if lower in words:
            return name
    if lower.endswith("s") and lower[:-1] in NOUNS:
        return "plural"
    return "words"


_POOLS: dict[str, tuple[str, ...]] = {
    "names": NAMES,
    "past": PAST_VERBS,
    "verbs": VERBS,
    "nouns": NOUNS,
    "adjectives": ADJECTIVES,
    "plural": tuple(w + "s" for w in NOUNS),
    "words": tuple(dict.fromkeys(NOUNS + ADJECTIVES + VERBS)),
    "letters": tuple("abcdefghijklmnopqrstuvwxyz"),
}
_POOL_LABELS = {
    "names": "bundled names",
    "past": "past-tense verbs",
    "verbs": "verbs",
    "nouns": "nouns",
    "adjectives": "adjectives",
    "plural": "plural nouns",
    "words": "bundled words",
    "letters": "letters",
    "digits": "numbers of the same width",
}


def _groups(pieces: list[_Piece], consistent: bool) -> list[_Group]:
    """Pieces replaced together: by lower-case text and kind when consistent, else one each; in prompt order."""
    if not consistent:
        return [_Group(p.text.lower(), p.kind, p.pool, [p]) for p in pieces if p.positions]
    groups: dict[tuple[str, str], _Group] = {}
    for p in pieces:
        if not p.positions:
            continue
        key = (p.kind, p.text if p.kind == "number" else p.text.lower())
        if key not in groups:
            groups[key] = _Group(key[1], p.kind, p.pool, [])
        groups[key].pieces.append(p)
    return list(groups.values())


def _cased(value: str, like: str) -> str:
    """``value`` in the case of ``like``: lower, Capitalised or UPPER."""
    if like.isdigit():
        return value
    if len(like) > 1 and like.isupper():
        return value.upper()
    if like[:1].isupper():
        return value[:1].upper() + value[1:].lower()
    return value.lower()


class _Search:
    """The candidate values of each group, and which of them keep the prompt's tokens (cached)."""

    def __init__(
        self,
        tokenizer: Any,
        encode: Callable[[str], list[int]],
        prompt: str,
        ids: list[int],
        offsets: list[tuple[int, int]],
        pieces: list[_Piece],
        avoid: tuple[str, ...],
        seed: int,
        *,
        compounds: bool,
    ) -> None:
        self.tokenizer = tokenizer
        self.encode = encode
        self.prompt = prompt
        self.ids = ids
        self.offsets = offsets
        self.seed = seed
        self.compounds = compounds
        self.notes: list[str] = []
        words = {p.text.lower() for p in pieces if not p.text.isdigit()}
        avoided = {a.strip().lower() for a in avoid} | {m.group().lower() for a in avoid for m in _PIECE.finditer(a)}
        reserved = {w.lower() for w in CODE_WORDS} | STOP_WORDS  # no replacement reads as a keyword (pass, set)
        self.taken_words = words | avoided | reserved  # never a replacement of a name or word
        self.avoided = avoided  # never a replacement of a number either
        self.fits: dict[tuple[int, str], bool] = {}
        self._probe: dict[int, str | None] = {}
        self._tried: dict[int, int] = {}

    def candidates(self, group: _Group, rng: random.Random | None) -> list[str]:
        """The group's candidate values (in the pool's case), shuffled by ``rng`` (None: the pool's order)."""
        width = {len(p.positions) for p in group.pieces}
        if group.pool == "digits":
            values = self._numbers(group.key)
            values = [v for v in values if v != group.key and v not in self.avoided]
        elif self.compounds and group.kind == "word" and len(width) == 1 and min(width) > 1:
            values = [v for v in self._compounds(group.key, min(width)) if v not in self.taken_words]
        else:
            values = [v for v in _POOLS[group.pool] if v.lower() not in self.taken_words]
        if rng is not None:
            values = rng.sample(values, len(values))
        return values

    def _numbers(self, digits: str) -> list[str]:
        width = len(digits)
        lead = "0123456789" if width == 1 or digits[0] == "0" else "123456789"
        if width <= 3:
            return [v for v in (str(k).zfill(width) for k in range(10**width)) if v[0] in lead]
        draw = random.Random(f"{self.seed}:{digits}")
        values = (draw.choice(lead) + "".join(draw.choice("0123456789") for _ in range(width - 1)) for _ in range(999))
        return list(dict.fromkeys(values))[:_LONG_NUMBER_DRAWS]

    def _compounds(self, key: str, parts: int) -> list[str]:
        """Made-up identifier parts of one to ``parts`` bundled words (``redbox``), for a piece of several tokens."""
        draw = random.Random(f"{self.seed}:{key}")
        words = _POOLS["words"]
        values = ("".join(draw.choice(words) for _ in range(draw.randint(1, parts))) for _ in range(999))
        return list(dict.fromkeys(values))[:_LONG_NUMBER_DRAWS]

    def split(self, groups: list[_Group]) -> list[_Group]:
        """Groups no value fits whose occurrences are tokenised differently, split by their numbers of tokens.

        ``circumference`` is one token in a comment and three in ``calculate_circumference``: no single
        value replaces both, while one value per tokenisation may.
        """
        out = []
        for group in groups:
            widths: dict[int, list[_Piece]] = {}
            for piece in group.pieces:
                widths.setdefault(len(piece.positions), []).append(piece)
            if len(widths) == 1 or self.replaceable(group):
                out.append(group)
                continue
            parts = [_Group(group.key, group.kind, group.pool, pieces) for pieces in widths.values()]
            out += parts
            if any(self.replaceable(part) for part in parts):
                self.notes.append(
                    f"{group.pieces[0].text!r} is tokenised differently at its occurrences: they get different "
                    "replacements"
                )
        return out

    def _substitute(self, pairs: list[tuple[_Piece, str]]) -> str:
        out, at = [], 0
        for piece, value in sorted(pairs, key=lambda pair: pair[0].start):
            out += [self.prompt[at : piece.start], _cased(value, piece.text)]
            at = piece.end
        return "".join(out) + self.prompt[at:]

    def aligned(self, pairs: list[tuple[_Piece, str]]) -> bool:
        """Whether the prompt with these replacements has the clean tokens outside the pieces, and as many."""
        covered = {p for piece, _ in pairs for p in piece.positions}
        new = self.encode(self._substitute(pairs))
        return len(new) == len(self.ids) and all(
            a == b for k, (a, b) in enumerate(zip(new, self.ids)) if k not in covered
        )

    def _standalone(self, piece: _Piece, value: str) -> bool:
        """Quick test: the text of the piece's tokens, with the value, is as many tokens on its own."""
        spans = [self.offsets[p] for p in piece.positions]
        a, b = min(s for s, _ in spans), max(e for _, e in spans)
        text = self.prompt[a : piece.start] + _cased(value, piece.text) + self.prompt[piece.end : b]
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) == len(piece.positions)

    def fit(self, group: _Group, value: str) -> bool:
        """Whether ``value`` replaces every piece of ``group`` keeping the tokens (cached)."""
        key = (id(group), value)
        if key not in self.fits:
            self._tried[id(group)] = self._tried.get(id(group), 0) + 1
            self.fits[key] = all(self._standalone(p, value) for p in group.pieces) and self.aligned(
                [(p, value) for p in group.pieces]
            )
        return self.fits[key]

    def replaceable(self, group: _Group) -> bool:
        """Whether some value of the group's pool fits (the first in the pool's order, found once)."""
        if id(group) not in self._probe:
            self._probe[id(group)] = next((v for v in self.candidates(group, None) if self.fit(group, v)), None)
        return self._probe[id(group)] is not None

    def unreplaceable(self, group: _Group) -> Unreplaceable:
        tried = len(self.candidates(group, None))
        label = _POOL_LABELS[group.pool]
        if tried == 0:
            reason = f"no other {label} left (the list's others are in the prompt or avoided)"
        else:
            widths = sorted({len(p.positions) for p in group.pieces})
            reason = (
                f"{' or '.join(map(str, widths))} token{'s' if widths != [1] else ''} here, and none of the {tried} "
                f"{label} tried takes as many in its place without changing a neighbouring token"
            )
        tokens = token_texts(self.tokenizer, [self.ids[p] for p in group.positions])
        return Unreplaceable(group.positions, "".join(tokens), group.kind, reason)

    def sample(self, groups: list[_Group], rng: random.Random, seen: set[str]) -> CorruptedSample:
        """One corrupted prompt: a fitting value per group, distinct values, checked whole; new when possible."""
        last = None
        for _ in range(_SAMPLE_ATTEMPTS):
            chosen: list[tuple[_Group, str]] = []
            used: set[str] = set()
            for group in groups:
                value = next(
                    (v for v in self.candidates(group, rng) if v.lower() not in used and self.fit(group, v)), None
                )
                if value is not None:
                    chosen.append((group, value))
                    used.add(value.lower())
            pairs = [(p, v) for g, v in chosen for p in g.pieces]
            if not self.aligned(pairs):  # two replacements that fit apart but not together: rule out one
                self._rule_out(chosen)
                continue
            last = pairs
            if self._substitute(pairs) not in seen:
                break
        if last is None:  # every draw clashed: the first group's value that fits alone
            group = groups[0]
            probe = cast(str, self._probe[id(group)])  # the groups sampled are replaceable: each has a probe value
            last = [(p, probe) for p in group.pieces]
        return self._sample(last)

    def _rule_out(self, chosen: list[tuple[_Group, str]]) -> None:
        pairs: list[tuple[_Piece, str]] = []
        for group, value in chosen:
            pairs += [(p, value) for p in group.pieces]
            if not self.aligned(pairs):
                if self._probe.get(id(group)) != value:  # keep one value per group that fits
                    self.fits[(id(group), value)] = False
                return

    def _sample(self, pairs: list[tuple[_Piece, str]]) -> CorruptedSample:
        text = self._substitute(pairs)
        new = self.encode(text)
        changed = [k for k, (a, b) in enumerate(zip(self.ids, new)) if a != b]
        old_texts = token_texts(self.tokenizer, [self.ids[k] for k in changed])
        new_texts = token_texts(self.tokenizer, [new[k] for k in changed])
        replacements: dict[tuple[str, str], None] = {}
        for piece, value in sorted(pairs, key=lambda pair: pair[0].start):
            replacements[(piece.text, _cased(value, piece.text))] = None
        return CorruptedSample(
            prompt=text,
            changes=tuple(Change(k, o, w) for k, o, w in zip(changed, old_texts, new_texts)),
            replacements=tuple(replacements),
        )
