"""PromptSet: filling templates, roles and labels, hand-made sets, JSONL files, and bad input (no model).

The tokenizer is the tiny models' whitespace word tokenizer (conftest.word_tokenizer), so each word is one
token and each position can be checked by decoding it, independently of the offsets PromptSet uses.
"""

from __future__ import annotations

import json
import re
import warnings

import pytest
from conftest import word_tokenizer

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.text.promptset import PromptSet, ioi_words

TEMPLATE = "when {IO} and {S} went to the {PLACE} , {S} gave a {OBJECT} to"
NAMES = ["mary", "john", "felix", "sarah", "diego", "bob", "alice"]
VALUES = dict(IO=NAMES, S=NAMES, PLACE=["store"], OBJECT=["book"])


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer()


def ioi(tokenizer, **kwargs) -> PromptSet:
    args = dict(answer="{IO}", distractor="{S}", n=10, seed=0, tokenizer=tokenizer, **VALUES)
    return PromptSet.from_template(TEMPLATE, **{**args, **kwargs})


def token_at(tokenizer, prompt: str, position: int) -> str:
    return tokenizer.decode([tokenizer(prompt)["input_ids"][position]]).strip()


def test_template_roles_point_at_their_values(tokenizer):
    ps = ioi(tokenizer)
    assert len(ps) == 10 and ps.dropped == []
    for record in ps:
        slots = record.slots
        assert record.prompt == TEMPLATE.format(**slots)
        assert record.answer == " " + slots["IO"] and record.distractor == " " + slots["S"]
        assert slots["IO"] != slots["S"]
        # Positions checked by decoding the token there, not through the offsets PromptSet used.
        for role, slot in (("IO", "IO"), ("S1", "S"), ("S2", "S"), ("PLACE", "PLACE"), ("OBJECT", "OBJECT")):
            assert token_at(tokenizer, record.prompt, record.roles[role]) == slots[slot]
        assert token_at(tokenizer, record.prompt, record.roles["S1+1"]) == "went"
        assert record.roles["END"] == len(tokenizer(record.prompt)["input_ids"]) - 1
    assert ps.roles[0] == {"IO": 1, "S1": 3, "S1+1": 4, "PLACE": 7, "S2": 9, "OBJECT": 12, "END": 13}


def test_labels_are_the_same_for_every_prompt_and_unique(tokenizer):
    ps = ioi(tokenizer)
    assert ps.aligned()
    assert ps.labels[0] == (
        "when",
        "IO",
        "and",
        "S1",
        "S1+1",
        "to",
        "the",
        "PLACE",
        ",",
        "S2",
        "gave",
        "a",
        "OBJECT",
        "END",
    )
    assert ps.groups_by_length() == {14: list(range(10))}
    assert ps.role_names == ["IO", "S1", "S1+1", "PLACE", "S2", "OBJECT", "END"]


def test_a_repeated_fixed_word_gets_a_numbered_label(tokenizer):
    ps = PromptSet.from_template("the {IO} and the {S}", answer="{IO}", n=2, tokenizer=tokenizer, IO=NAMES, S=NAMES)
    assert ps.labels[0] == ("the", "IO", "and", "the#2", "S")
    # S is the last position, so it keeps its slot role and END is not added there.
    assert "END" not in ps.roles[0]


def test_fills_are_seeded_distinct_and_without_repeats(tokenizer):
    a, b, c = ioi(tokenizer, n=30), ioi(tokenizer, n=30), ioi(tokenizer, n=30, seed=1)
    assert a.prompts == b.prompts
    assert a.prompts != c.prompts
    assert len(set(a.prompts)) == 30


def test_fewer_fills_than_asked_warns_and_keeps_them_all(tokenizer):
    with pytest.warns(UserWarning, match=r"42 prompts instead of 100"):
        ps = ioi(tokenizer, n=100)
    assert len(set(ps.prompts)) == len(ps) == 7 * 6  # ordered pairs of distinct names
    assert ps.provenance["requested"] == 100 and "42 prompts" in ps.provenance["notes"][0]


def test_values_of_several_tokens_are_dropped_with_the_reason(tokenizer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = ioi(tokenizer, IO=["mary", "bob alice"], S=["john"])
    assert ps.prompts == ("when mary and john went to the store , john gave a book to",)
    assert ps.dropped == [{"slot": "IO", "value": "bob alice", "reason": "is 2 tokens in the prompt ['bob', 'alice']"}]


def test_a_slot_with_no_single_token_value_fails(tokenizer):
    with pytest.raises(InfoFlowError, match=r"No value of IO is one token.*'bob alice'"):
        ioi(tokenizer, IO=["bob alice"])


def test_too_few_distinct_values_fail(tokenizer):
    with pytest.raises(InfoFlowError, match="distinct values"):
        ioi(tokenizer, IO=["mary"], S=["mary"])


def test_a_literal_answer_and_a_distractor_slot(tokenizer):
    ps = PromptSet.from_template(
        "when {IO} and {S} went", answer=" store", distractor="{S}", n=3, tokenizer=tokenizer, IO=NAMES, S=NAMES
    )
    assert set(ps.answers) == {" store"}
    assert ps.distractors == tuple(" " + s["S"] for s in ps.slots)


def test_the_answer_has_no_space_when_the_template_ends_in_one(tokenizer):
    ps = PromptSet.from_template("{IO} and {S} went to ", answer="{IO}", n=2, tokenizer=tokenizer, IO=NAMES, S=NAMES)
    assert ps.answers == tuple(s["IO"] for s in ps.slots)


def test_a_model_stands_for_its_tokenizer(tokenizer):
    class Model:
        pass

    model = Model()
    model.tokenizer = tokenizer
    assert ioi(model).prompts == ioi(tokenizer).prompts


TWO = {"IO": NAMES, "S": NAMES}


@pytest.mark.parametrize(
    ("template", "kwargs", "message"),
    [
        ("", TWO, "non-empty string"),
        ("no slots here", {}, "has no slot"),
        ("when {IO and", TWO, "unbalanced braces"),
        ("when {IO!r} and {S}", TWO, r"\{IO\} is not one"),
        ("when {0} and {S}", TWO, "is not one"),
        ("when {IO} and {S}", {"IO": NAMES}, r"\['S'\] have no values"),
        ("when {IO} and {S}", {**TWO, "S": []}, "needs a non-empty list"),
        ("when {IO} and {S}", {**TWO, "S": "john"}, "needs a non-empty list"),
        ("when {IO} and {S}", {**TWO, "S": ["john", ""]}, "non-empty strings"),
        ("when {IO} and {S}", {**TWO, "S": ["john", 3]}, "non-empty strings"),
        ("when {IO}", TWO, r"Values were given for \['S'\]"),
        ("when {IO} and {S}", {**TWO, "answer": "{X}"}, "neither one slot"),
        ("when {IO} and {S}", {**TWO, "answer": "{IO} and"}, "neither one slot"),
        ("when {IO} and {S}", {**TWO, "answer": None}, "must be a slot"),
        ("when {IO} and {S}", {**TWO, "distractor": ""}, "must be a slot"),
        ("when {IO} and {S}", {**TWO, "distractor": " {IO} "}, "both"),
        ("when {IO} and {S}", {**TWO, "answer": " a", "distractor": " a"}, "both ' a'"),
        ("when {IO} and {S}", {**TWO, "n": 0}, "n must be a whole number"),
        ("when {IO} and {S}", {**TWO, "n": 2.5}, "n must be a whole number"),
        ("when {IO} and {S}", {**TWO, "seed": "x"}, "seed must be an integer"),
        ("when {IO} and {S}", {**TWO, "tokenizer": None}, "A tokenizer is needed"),
        ("when {S} and {S1} and {S}", {"S": NAMES, "S1": NAMES}, r"role name\(s\) \['S1'\] twice"),
        ("when {IO} and {END}", {"IO": NAMES, "END": NAMES}, r"\['END'\] twice"),
        ("when {IO} and {S}", {**TWO, "answer": " store book"}, "is not one token"),
    ],
)
def test_bad_templates_fail_before_any_work(tokenizer, template, kwargs, message):
    args = {"answer": "{IO}", "n": 3, "seed": 0, "tokenizer": tokenizer, **kwargs}
    with pytest.raises(InfoFlowError, match=message):
        PromptSet.from_template(template, **args)


class MergingTokenizer:
    """Words split on spaces, except that ' and' after the value 'zed' is two tokens: fixed words differ by fill."""

    def __init__(self):
        self.vocab: list[str] = []

    def _id(self, piece: str) -> int:
        if piece not in self.vocab:
            self.vocab.append(piece)
        return self.vocab.index(piece)

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=False):
        spans = [m.span() for m in re.finditer(r" ?\S+", text)]
        if " zed and" in text:
            k = text.index(" and", text.index(" zed") + 1)
            spans = [s for s in spans if s[0] != k] + [(k, k + 3), (k + 3, k + 4)]
            spans.sort()
        out = {"input_ids": [self._id(text[a:b]) for a, b in spans]}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)

    def convert_ids_to_tokens(self, i):
        return self.vocab[i]


def test_a_fill_that_changes_the_fixed_words_fails_naming_it():
    message = r"The fill \{'IO': '(amy|zed)'.* is [56] tokens, the first fill's [56]"
    with pytest.raises(InfoFlowError, match=message) as err:
        PromptSet.from_template("when {IO} and {S} went", answer="{IO}", n=10, tokenizer=MergingTokenizer(),
                                IO=["amy", "zed"], S=["bob", "cat"])  # fmt: skip
    assert "'when zed and" in str(err.value) and "'when amy and" in str(err.value)  # both fills, either first


def test_a_tokenizer_without_offsets_is_refused(tokenizer):
    def plain(text, add_special_tokens=True, return_offsets_mapping=False):
        if return_offsets_mapping:
            raise NotImplementedError
        return tokenizer(text, add_special_tokens=add_special_tokens)

    with pytest.raises(InfoFlowError, match="character offsets"):
        ioi(plain)


# --- hand-made sets and files --------------------------------------------------------------------------


def test_a_hand_made_set_is_checked_and_labelled(tokenizer):
    ps = PromptSet(["when mary and john went", "bob gave a book to alice"], [" john", " bob"], None,
                   [{"IO": 1}, {"S": 0, "IO": 5}])  # fmt: skip
    assert ps.distractors == (None, None) and ps.labels is None and not ps.aligned()
    labelled = ps.labelled(tokenizer)
    assert labelled.labels == (("when", "IO", "and", "john", "END"), ("S", "gave", "a", "book", "to", "IO"))
    assert labelled.roles == ({"IO": 1, "END": 4}, {"S": 0, "IO": 5})  # the last position already had a role
    assert labelled.groups_by_length() == {5: [0], 6: [1]}
    assert labelled[1].labels == labelled.labels[1] and labelled[-1].prompt == "bob gave a book to alice"
    with pytest.raises(IndexError):
        labelled[2]
    with pytest.raises(InfoFlowError, match="labelled"):
        ps.groups_by_length()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], []), "at least one prompt"),
        (("when mary", [" john"]), "prompts must be a list"),
        ((["when mary"], [" john", " bob"]), "answers has 2 items but there are 1 prompts"),
        ((["when mary"], [""]), "prompt 0: the answer must be a non-empty string"),
        ((["when mary", ""], [" a", " b"]), "prompt 1: the prompt must be"),
        ((["when mary"], [" a"], [3]), "the distractor must be a non-empty string or None"),
        ((["when mary"], [" a"], None, [{"IO": -1}]), "token position"),
        ((["when mary"], [" a"], None, [{"IO": True}]), "token position"),
        ((["when mary"], [" a"], None, [{"IO": 1, "S": 1}]), "both name position 1"),
        ((["when mary"], [" a"], None, [["IO", 1]]), "roles must be a dict"),
    ],
)
def test_bad_hand_made_sets_fail(args, message):
    with pytest.raises(InfoFlowError, match=message):
        PromptSet(*args)


def test_a_role_past_the_prompt_fails_when_labelled(tokenizer):
    with pytest.raises(InfoFlowError, match=r"prompt 0: role 'IO' is at position 9, but the prompt is 2 tokens"):
        PromptSet(["when mary"], [" a"], roles=[{"IO": 9}]).labelled(tokenizer)


def test_jsonl_round_trip(tmp_path, tokenizer):
    ps = ioi(tokenizer, n=4)
    path = ps.to_jsonl(tmp_path / "set.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"prompt": ps.prompts[0], "answer": ps.answers[0], "distractor": ps.distractors[0],
                                    "roles": ps.roles[0]}  # fmt: skip
    back = PromptSet.from_jsonl(path)
    assert (back.prompts, back.answers, back.distractors, back.roles) == (
        ps.prompts,
        ps.answers,
        ps.distractors,
        ps.roles,
    )
    assert back.labelled(tokenizer).labels == ps.labels


def test_jsonl_round_trip_keeps_every_line_breaking_character(tmp_path):
    """str.splitlines() breaks at 11 characters; JSON Lines at "\\n" alone: each survives inside a prompt."""
    breaks = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
    assert all(len(f"a{b}b".splitlines()) == 2 for b in breaks)
    ps = PromptSet([f"when{b}mary and" for b in breaks], [" john"] * len(breaks))
    path = ps.to_jsonl(tmp_path / "breaks.jsonl")
    written = path.read_text(encoding="utf-8")
    assert written.count("\n") == len(breaks) and not any(c in written for c in "\x85\u2028\u2029\r")
    assert PromptSet.from_jsonl(path).prompts == ps.prompts
    path.write_bytes(written.replace("\n", "\r\n").encode())  # a file saved with Windows line ends reads the same
    assert PromptSet.from_jsonl(path).prompts == ps.prompts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "a b", "answer": " c", "answer": " d"}\n', "line 1 is not a JSON object: the key 'answer' "),
        ('{"prompt": "a b", "answer": " c"}\n\nnot json\n', "set.jsonl line 3 is not a JSON object"),
        ('{"prompt": "a b", "answer": " c"}\n[1]\n', "line 2 must be a JSON object"),
        ('{"prompt": "a b"}\n', "line 1 has no 'answer'"),
        ('{"prompt": "a b", "answer": " c", "anwser": 1}\n', r"line 1 has unknown key\(s\) \['anwser'\]"),
        ('{"prompt": "a b", "answer": " c", "roles": {"IO": "x"}}\n', "line 1: role 'IO' must be a token position"),
        ("\n\n", "holds no prompts"),
    ],
)
def test_bad_jsonl_lines_are_named(tmp_path, content, message):
    path = tmp_path / "set.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InfoFlowError, match=message):
        PromptSet.from_jsonl(path)


def test_bundled_ioi_words():
    words = ioi_words()
    assert set(words) == {"names", "places", "objects"}
    assert len(words["names"]) >= 30 and len(words["places"]) >= 15 and len(words["objects"]) >= 15
    for values in words.values():
        assert len(set(values)) == len(values) and all(v.isalpha() for v in values)


def test_template_slots_and_check_template_need_no_tokenizer():
    from infoflow_widget.text.promptset import check_template, template_slots

    assert template_slots(TEMPLATE) == ["IO", "S", "PLACE", "OBJECT"]
    assert check_template(TEMPLATE, answer="{IO}", distractor="{S}", **VALUES) == ["IO", "S", "PLACE", "OBJECT"]
    with pytest.raises(InfoFlowError, match=r"slot\(s\) \['OBJECT'\] have no values"):
        check_template(TEMPLATE, answer="{IO}", IO=NAMES, S=NAMES, PLACE=["store"])
    with pytest.raises(InfoFlowError, match="neither one slot of the template"):
        check_template(TEMPLATE, answer="{X}", **VALUES)
    with pytest.raises(InfoFlowError, match="has no slot"):
        template_slots("when mary and john")


def test_many_slots_over_few_values_still_fill():
    """10 slots over the same 10 words: 10! distinct fills exist, though a random draw is distinct once in 2,800."""
    from conftest import word_tokenizer

    words = [f"w{k}" for k in range(10)]
    slots = "ABCDEFGHIJ"
    template = " ".join(f"{{{slot}}}" for slot in slots) + " end"
    ps = PromptSet.from_template(
        template, answer="{A}", n=20, seed=0, tokenizer=word_tokenizer([*words, "end"]), **{s: words for s in slots}
    )
    assert len(ps) == 20 and len(set(ps.prompts)) == 20
    assert all(len(set(prompt.split()[:10])) == 10 for prompt in ps.prompts)


def test_a_slot_value_with_its_own_space_is_dropped_with_the_reason(tokenizer):
    ps = ioi(tokenizer, n=4, IO=[" mary", "felix", "sarah"])
    assert all("  " not in prompt for prompt in ps.prompts)
    dropped = [d for d in ps.dropped if d["value"] == " mary"]
    assert dropped and "the template supplies the space before {IO} (give 'mary')" in dropped[0]["reason"]
    with pytest.raises(InfoFlowError, match="supplies the space"):
        ioi(tokenizer, n=4, IO=[" mary", " felix"])
