"""The corrupted-prompt generator on the bundled tokenizers (SmolLM2-135M, Gemma-3-270M): the cases' prompts.

Only the tokenizers load (from the converted model's cached folder; the model is loaded, once, when the
cache is empty). Each corrupted prompt is checked the way ``Corrupt`` checks it: the same token length,
and the same tokens wherever nothing was replaced.
"""

from __future__ import annotations

import re

import pytest
from conftest import bundled_tokenizer

from infoflow_widget.text.corruption import ADJECTIVES, NAMES, NOUNS, PAST_VERBS, VERBS, corrupted_prompts

pytestmark = pytest.mark.slow

IOI_2 = "Then, Anna and Tom had a long argument. Afterwards Tom said to"
YEARS = "The year 1984 came after 1983 and before"
TOKENIZERS = ["smollm2-135m", "gemma-3-270m"]


@pytest.fixture(scope="module", params=TOKENIZERS)
def tokenizer(request):
    return bundled_tokenizer(request.param)


def ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text)["input_ids"])


def assert_aligned(tokenizer, clean: str, plan) -> None:
    """Every sample: same length, same ids outside the replaced positions, and its changes listed right."""
    clean_ids = ids(tokenizer, clean)
    replaced = {k for k, kind in enumerate(plan.kinds) if kind != "kept"}
    for sample in plan.samples:
        new = ids(tokenizer, sample.prompt)
        assert len(new) == len(clean_ids), sample.prompt
        differs = [k for k, (a, b) in enumerate(zip(clean_ids, new)) if a != b]
        assert set(differs) <= replaced, sample.prompt
        assert [c.position for c in sample.changes] == differs


def test_bundled_lists_are_single_tokens_with_a_leading_space(tokenizer):
    """How the lists were chosen: every entry is one token after a space in both bundled tokenizers."""

    def single(text):
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) == 1

    counts = {}
    for label, words in [
        ("names", NAMES),
        ("nouns", NOUNS),
        ("adjectives", ADJECTIVES),
        ("verbs", VERBS),
        ("past", PAST_VERBS),
    ]:
        spaced = [w for w in words if single(" " + w)]
        bare = [w for w in words if single(w)]
        counts[label] = (len(words), len(spaced), len(bare))
        assert len(spaced) == len(words), [w for w in words if w not in spaced]
    print(type(tokenizer).__name__, counts)  # (entries, one token after a space, one token alone)
    assert counts["names"][2] >= 50 and counts["nouns"][2] >= 100


def test_ioi_case(tokenizer, ioi_case):
    prompt, answer, distractor = ioi_case["prompt"], ioi_case["answer"], ioi_case["distractor"]
    plan = corrupted_prompts(tokenizer, prompt, n=4, seed=0, avoid=[answer, distractor])
    assert_aligned(tokenizer, prompt, plan)
    assert not plan.unreplaceable and not plan.notes
    assert [t for t, kind in zip(plan.tokens, plan.kinds) if kind != "kept"] == [" Mary", " John", " John"]
    assert plan.prompts[0] == "When Wendy and Adrian went to the store, Adrian gave a book to"  # seed 0
    assert len(set(plan.prompts)) == 4
    for prompt_ in plan.prompts:
        m = re.fullmatch(r"When (\w+) and (\w+) went to the store, (\w+) gave a book to", prompt_)
        assert m and m[1] != m[2] == m[3] and not {m[1], m[2]} & {"Mary", "John"}


def test_ioi_as_in_the_writeup(tokenizer, ioi_case):
    """Three distinct names, like the write-up's 'When Felix and Sarah went to the store, Diego gave a book to'."""
    prompt = ioi_case["prompt"]
    plan = corrupted_prompts(
        tokenizer, prompt, n=4, avoid=[ioi_case["answer"], ioi_case["distractor"]], consistent=False
    )
    assert_aligned(tokenizer, prompt, plan)
    assert len(ids(tokenizer, ioi_case["corrupted"])) == len(ids(tokenizer, prompt))  # the write-up's is aligned too
    for sample in plan.samples:
        assert len({c.new for c in sample.changes}) == 3


def test_second_ioi_template(tokenizer):
    plan = corrupted_prompts(tokenizer, IOI_2, n=4, seed=0, avoid=[" Anna", " Tom"])
    assert_aligned(tokenizer, IOI_2, plan)
    assert [t for t, kind in zip(plan.tokens, plan.kinds) if kind != "kept"] == [" Anna", " Tom", " Tom"]
    for prompt in plan.prompts:
        m = re.fullmatch(r"Then, (\w+) and (\w+) had a long argument\. Afterwards (\w+) said to", prompt)
        assert m and m[1] != m[2] == m[3]


def test_numbers(tokenizer):
    plan = corrupted_prompts(tokenizer, YEARS, n=4, seed=0)
    assert_aligned(tokenizer, YEARS, plan)
    for prompt in plan.prompts:
        m = re.fullmatch(r"The year (\d{4}) came after (\d{4}) and before", prompt)
        assert m and m[1] != "1984" and m[2] != "1983"


def test_code_case(tokenizer, code_case):
    prompt = code_case["prompt"]
    plan = corrupted_prompts(tokenizer, prompt, n=4, seed=0, avoid=[code_case["answer"], code_case["distractor"]])
    assert plan.code and not plan.unreplaceable
    assert_aligned(tokenizer, prompt, plan)
    keywords = r"\b(?:def|class|self|return|import|from|float|None|print|range|len|for|in|List|__init__)\b"
    for corrupted in plan.prompts:
        assert re.sub(r"[^\W_]+", "", corrupted) == re.sub(r"[^\W_]+", "", prompt)  # syntax and whitespace kept
        assert re.findall(keywords, corrupted) == re.findall(keywords, prompt)
        assert not re.search(r"\b(?:foo|bar)\b", corrupted)
        assert re.search(r"\n(\w+) = \w\(\w+\(\d, \d\), \w+\(\d, \d\)\)\n\n(\w+) = \w\(\w+\(\d, \d\), \d\)", corrupted)
    assert len(set(plan.prompts)) == 4


def test_deterministic(tokenizer, ioi_case):
    first = corrupted_prompts(tokenizer, ioi_case["prompt"], n=3, seed=5)
    again = corrupted_prompts(tokenizer, ioi_case["prompt"], n=3, seed=5)
    assert first.provenance() == again.provenance()
    assert corrupted_prompts(tokenizer, ioi_case["prompt"], n=3, seed=6).prompts != first.prompts


def test_an_unreplaceable_name_is_said(tokenizer):
    """A name of several tokens (no bundled name is) stays, and the plan says where and why."""
    prompt = "When Xzavier and Mary went to the store, Mary gave a book to"
    plan = corrupted_prompts(tokenizer, prompt, n=2, avoid=[" Mary"])
    assert len(plan.unreplaceable) == 1
    u = plan.unreplaceable[0]
    assert u.kind == "name" and u.text == " Xzavier" and len(u.positions) > 1
    assert all(" Xzavier " in p and " Mary " not in p for p in plan.prompts)
    assert_aligned(tokenizer, prompt, plan)
