"""The corrupted-prompt generator on a toy tokenizer (no model): kinds, consistency, checks, determinism, errors.

The bundled tokenizers (SmolLM2, Gemma 3) are in tests/integration/test_corruption_models.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.text.corruption import (
    NAMES,
    CorruptionPlan,
    check_corruption_args,
    corrupted_prompts,
    looks_like_code,
    metric_texts,
)

CASES = Path(__file__).resolve().parents[2] / "cases"
IOI = "When Mary and John went to the store, John gave a book to"
IOI_2 = "Then, Anna and Tom had a long argument. Afterwards Tom said to"
YEARS = "The year 1984 came after 1983 and before"
CODE = (CASES / "code_completion_prompt.py").read_text().rstrip("\n")
TOKEN = re.compile(r" ?[^\W\d_]+| ?\d| ?[^\s\w]|_|\s+")


class ToyTokenizer:
    """A small byte-level-BPE-like tokenizer with a BOS token and character offsets.

    A word with its leading space is one token, a digit one token, a punctuation mark (with its leading
    space) one token; a word of nine letters or more, or with a "z" in it, splits into pieces of three
    characters, so that some words are several tokens and some names (Zoltan) have no one-token peer.
    """

    def __init__(self, bos: bool = True) -> None:
        self.bos = bos
        self.vocab: dict[str, int] = {"<s>": 0}
        self.texts = ["<s>"]
        self.all_special_ids = [0]
        self.calls = 0

    def _id(self, text: str) -> int:
        if text not in self.vocab:
            self.vocab[text] = len(self.texts)
            self.texts.append(text)
        return self.vocab[text]

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for m in TOKEN.finditer(text):
            a, b = m.span()
            word = m.group().strip()
            if word.isalpha() and (len(word) >= 9 or "z" in word.lower()):
                spans += [(k, min(k + 3, b)) for k in range(a, b, 3)]
            else:
                spans.append((a, b))
        return spans

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> dict:
        self.calls += 1
        spans = self._spans(text)
        ids = [self._id(text[a:b]) for a, b in spans]
        if self.bos and add_special_tokens:
            ids, spans = [0, *ids], [(0, 0), *spans]
        out = {"input_ids": ids}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out

    def decode(self, ids) -> str:
        return "".join(self.texts[i] for i in ids)

    def convert_ids_to_tokens(self, i: int) -> str:
        return self.texts[i]


class NoOffsetsTokenizer(ToyTokenizer):
    """A tokenizer without character offsets (a slow tokenizer): they come from decoding."""

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> dict:
        if return_offsets_mapping:
            raise NotImplementedError("return_offset_mapping is not available when using Python tokenizers")
        return super().__call__(text, add_special_tokens)

    def decode(self, ids) -> str:
        return "".join(self.texts[i] for i in ids if i not in self.all_special_ids)


class UntouchableTokenizer:
    """Fails the test when called: argument errors must come before any tokenizing."""

    def __call__(self, *args, **kwargs):
        raise AssertionError("the tokenizer was called before the arguments were checked")


@pytest.fixture
def tok() -> ToyTokenizer:
    return ToyTokenizer()


def ids(tok, text):
    return tok(text)["input_ids"]


def differing(tok, a, b):
    return [k for k, (x, y) in enumerate(zip(ids(tok, a), ids(tok, b))) if x != y]


def test_ioi_names_are_replaced_consistently_and_nothing_else(tok):
    plan = corrupted_prompts(tok, IOI, n=4, seed=0, avoid=[" Mary", " John"])
    assert isinstance(plan, CorruptionPlan) and len(plan.prompts) == 4
    assert plan.replaced_kinds == ("name", "number") and not plan.code
    clean = ids(tok, IOI)
    names = [k for k, t in enumerate(plan.tokens) if t in (" Mary", " John")]
    assert names == [2, 4, 10]
    assert [k for k, kind in enumerate(plan.kinds) if kind != "kept"] == names
    assert all(plan.kinds[k] == "name" for k in names)
    for sample in plan.samples:
        new = ids(tok, sample.prompt)
        assert len(new) == len(clean)
        assert [c.position for c in sample.changes] == names == differing(tok, IOI, sample.prompt)
        io, s1, s2 = (c.new for c in sample.changes)
        assert s1 == s2 != io  # S1 and S2 stay one name; IO another
        assert {io.strip(), s1.strip()} <= set(NAMES) and not {io, s1} & {" Mary", " John"}
        words = sample.prompt.split()
        assert "Mary" not in words and "John" not in words
        assert re.sub(r"[A-Z][a-z]+", "N", sample.prompt) == re.sub(r"[A-Z][a-z]+", "N", IOI)
        assert dict(sample.replacements) == {"Mary": io.strip(), "John": s1.strip()}
    assert len(set(plan.prompts)) == 4


def test_each_occurrence_its_own_name_as_in_the_writeup(tok):
    """consistent=False: three distinct names, like 'When Felix and Sarah went to the store, Diego gave a book to'."""
    plan = corrupted_prompts(tok, IOI, n=4, avoid=[" Mary", " John"], consistent=False)
    for sample in plan.samples:
        assert len({c.new for c in sample.changes}) == 3
        assert len(ids(tok, sample.prompt)) == len(ids(tok, IOI))


def test_a_second_ioi_template(tok):
    plan = corrupted_prompts(tok, IOI_2, n=3, seed=1, avoid=[" Anna", " Tom"])
    names = [k for k, t in enumerate(plan.tokens) if t in (" Anna", " Tom")]
    assert len(names) == 3
    for sample in plan.samples:
        assert differing(tok, IOI_2, sample.prompt) == names
        assert sample.prompt.startswith("Then, ") and ". Afterwards " in sample.prompt  # kept words
        new = sample.prompt.split()
        assert new[1] != new[3] and new[3] == new[9]  # Anna -> X, Tom -> Y twice


def test_numbers_get_numbers_of_the_same_width(tok):
    plan = corrupted_prompts(tok, YEARS, n=4, seed=0)
    assert plan.replaced_kinds == ("name", "number")
    for prompt in plan.prompts:
        m = re.fullmatch(r"The year (\d{4}) came after (\d{4}) and before", prompt)
        assert m and m[1] != "1984" and m[2] != "1983" and m[1] != m[2] and m[1][0] != "0"
        assert len(ids(tok, prompt)) == len(ids(tok, YEARS))


def test_content_words_when_asked(tok):
    plan = corrupted_prompts(tok, IOI, n=2, avoid=[" Mary", " John"], kinds=("name", "word"))
    replaced = {old for s in plan.samples for old, _ in s.replacements}
    assert replaced == {"Mary", "John", "went", "store", "gave", "book"}
    for sample in plan.samples:
        words = sample.prompt.split()
        assert [w for w in words if w in ("When", "and", "to", "the", "a")] == ["When", "and", "to", "the", "a", "to"]


def test_prose_without_names_or_numbers_falls_back_to_words(tok):
    plan = corrupted_prompts(tok, "The cat sat on the mat", n=2)
    assert plan.replaced_kinds == ("word",)
    assert all(p.startswith("The ") and " on the " in p for p in plan.prompts)


def test_code_keeps_syntax_and_keywords_and_replaces_identifiers(tok):
    plan = corrupted_prompts(tok, CODE, n=2, seed=0, avoid=["bar", "foo"])
    assert plan.code and plan.replaced_kinds == ("name", "number", "word")
    keywords = r"\b(?:def|class|self|return|import|from|float|None|print|range|len|for|in|List|__init__)\b"
    for prompt in plan.prompts:
        assert len(ids(tok, prompt)) == len(ids(tok, CODE))
        assert re.sub(r"[^\W_]+", "", prompt) == re.sub(r"[^\W_]+", "", CODE)  # punctuation, whitespace, _
        assert re.findall(keywords, prompt) == re.findall(keywords, CODE)
        assert not re.search(r"\b(?:foo|bar|calculate_circumference|Point)\b", prompt)
        assert prompt.count("(") == CODE.count("(")
    replacements = dict(plan.samples[0].replacements)
    assert replacements["foo"] != replacements["bar"] and not {"foo", "bar"} & set(replacements.values())
    assert len(replacements["A"]) == 1 and replacements["A"].isupper()
    assert len(replacements["2"]) == 1 and replacements["2"].isdigit()


def test_one_mapping_per_word_in_code(tok):
    prompt = "def area(width, height):\n    return width * height\n\n# Area of a room\nprint(area(3, 4))"
    plan = corrupted_prompts(tok, prompt, n=3)
    shape = r"def (\w+)\((\w+), (\w+)\):\n    return (\w+) \* (\w+)\n\n# (\w+) of a (\w+)\nprint\((\w+)\((\d), (\d)\)\)"
    for sample in plan.samples:
        m = re.fullmatch(shape, sample.prompt)
        assert m, sample.prompt
        assert m[1] == m[8] and m[2] == m[4] and m[3] == m[5] and len({m[1], m[2], m[3], m[7]}) == 4
        assert m[6] == m[1].capitalize()  # the comment's Area follows the code's area
        assert m[9] != "3" and m[10] != "4" and m[9] != m[10]


def test_unreplaceable_positions_are_said(tok):
    prompt = "When Zoltan and Mary went to the store, Mary gave a book to"
    plan = corrupted_prompts(tok, prompt, n=2, avoid=[" Mary"])
    zoltan = [k for k, t in enumerate(plan.tokens) if t in (" Zo", "lta", "n")]
    assert len(plan.unreplaceable) == 1
    u = plan.unreplaceable[0]
    assert u.positions == tuple(zoltan) and u.text == " Zoltan" and u.kind == "name"
    assert u.reason.startswith(f"{len(zoltan)} tokens here, and none of the") and "bundled names" in u.reason
    assert all(plan.kinds[k] == "kept" for k in zoltan)
    for prompt_ in plan.prompts:
        assert " Zoltan " in prompt_ and " Mary " not in prompt_
    assert plan.provenance()["unreplaceable"][0]["positions"] == zoltan
    assert "position" in u.describe() and "Zoltan" in plan.describe()


def test_keep_leaves_words(tok):
    plan = corrupted_prompts(tok, IOI, n=2, keep=["Mary"], avoid=[" Mary", " John"])
    for prompt in plan.prompts:
        assert prompt.startswith("When Mary and ") and "John" not in prompt


def test_avoid_is_never_a_replacement(tok):
    avoid = [f" {name}" for name in NAMES[:200]]
    plan = corrupted_prompts(tok, IOI, n=4, avoid=avoid)
    left = set(NAMES[200:]) - {"Mary", "John"}
    for sample in plan.samples:
        assert {new for _, new in sample.replacements} <= left


def test_deterministic_and_prefix_stable(tok):
    a = corrupted_prompts(tok, IOI, n=4, seed=3)
    b = corrupted_prompts(ToyTokenizer(), IOI, n=4, seed=3)
    assert a == b or (a.prompts == b.prompts and a.provenance() == b.provenance())
    assert corrupted_prompts(tok, IOI, n=2, seed=3).prompts == a.prompts[:2]
    assert corrupted_prompts(tok, IOI, n=4, seed=4).prompts != a.prompts


def test_distinct_prompts_and_a_note_when_there_are_too_few(tok):
    plan = corrupted_prompts(tok, IOI, n=16, seed=0)
    assert len(set(plan.prompts)) == 16 and not plan.notes
    small = corrupted_prompts(tok, "The score was 7 at the end", n=12)
    assert len(small.prompts) == 12 and len(set(small.prompts)) == 9  # 9 other digits
    assert any("only 9 distinct" in note for note in small.notes)


def test_provenance_is_plain_json(tok):
    plan = corrupted_prompts(tok, IOI, n=2, avoid=[" Mary", " John"])
    data = json.loads(json.dumps(plan.provenance()))
    assert data["prompts"] == plan.prompts and data["n"] == 2 and data["seed"] == 0
    assert data["kinds"] == ["name", "number"] and data["avoid"] == [" Mary", " John"]
    assert [c["position"] for c in data["changes"][0]] == [2, 4, 10]
    assert data["changes"][0][0]["old"] == " Mary"


def test_offsets_from_decoding_for_a_tokenizer_without_them():
    with_offsets = corrupted_prompts(ToyTokenizer(), IOI, n=3, avoid=[" Mary"])
    without = corrupted_prompts(NoOffsetsTokenizer(), IOI, n=3, avoid=[" Mary"])
    assert without.prompts == with_offsets.prompts


def test_no_bos_tokenizer(tok):
    plan = corrupted_prompts(ToyTokenizer(bos=False), IOI, n=1)
    assert [c.position for c in plan.samples[0].changes] == [1, 3, 9]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n (the number of corrupted prompts) must be a whole number >= 1"),
        ({"n": -2}, "whole number >= 1"),
        ({"n": 2.0}, "whole number >= 1"),
        ({"n": True}, "whole number >= 1"),
        ({"n": "4"}, "whole number >= 1"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"kinds": ["name", "verb"]}, "kinds must be some of"),
        ({"kinds": []}, "kinds must be some of"),
        ({"avoid": 5}, "avoid must be a list of texts"),
        ({"keep": [1]}, "keep must be a list of texts"),
        ({"consistent": "yes"}, "consistent must be True or False"),
        ({"code": 1}, "code must be True, False or None"),
        ({"prompt": "   "}, "non-empty text"),
        ({"prompt": None}, "non-empty text"),
    ],
)
def test_bad_arguments_fail_before_any_tokenizing(kwargs, message):
    args = {"prompt": IOI, **kwargs}
    with pytest.raises(InfoFlowError, match=re.escape(message)):
        corrupted_prompts(UntouchableTokenizer(), **args)


def test_check_corruption_args_alone():
    assert check_corruption_args(4, 0, avoid=" Mary", kinds="name") == ((" Mary",), (), ("name",))
    assert check_corruption_args(1, -7, kinds=("word", "name")) == ((), (), ("name", "word"))
    with pytest.raises(InfoFlowError):
        check_corruption_args(0)


def test_nothing_replaceable_is_a_clear_error(tok):
    with pytest.raises(InfoFlowError, match=r"No token of this prompt can be replaced by another of the same kind"):
        corrupted_prompts(tok, "And then, to the... of it", n=2)
    with pytest.raises(InfoFlowError, match=r"give Corrupt\(corrupted_prompt\) by hand"):
        corrupted_prompts(tok, IOI, n=2, kinds="number")


def test_nothing_replaceable_without_changing_the_length(tok):
    with pytest.raises(InfoFlowError, match=r"without changing its token length \(position.* ' Zoltan' \(name\)"):
        corrupted_prompts(tok, "Then Zoltan said to", n=2, kinds=("name",))


def test_no_tokenizer():
    with pytest.raises(InfoFlowError, match="tokenizer must be a transformers tokenizer"):
        corrupted_prompts(None, IOI)


def test_looks_like_code():
    assert looks_like_code(CODE)
    assert looks_like_code("x = 1\nprint(x)")
    assert looks_like_code("int main() {\n  return 0;\n}")
    for prose in (IOI, IOI_2, YEARS, "Q: Who went to the store?\nA:", "from the store he went home"):
        assert not looks_like_code(prose), prose


def test_metric_texts():
    from infoflow_widget.engine.metrics import KLDivergence, LogitDiff, LogProb

    assert metric_texts(LogitDiff(" Mary", " John")) == (" Mary", " John")
    assert metric_texts(LogProb(" Mary")) == (" Mary",)
    assert metric_texts(KLDivergence()) == ()


def test_word_lists_are_small_and_distinct():
    assert 150 <= len(NAMES) <= 300 and len(set(NAMES)) == len(NAMES)
    assert all(name[0].isupper() and name.isalpha() for name in NAMES)
