"""The bundled IOI word lists and PromptSet templates on the bundled tokenizers (SmolLM2-135M, Gemma-3-270M).

Only the tokenizers load (conftest.bundled_tokenizer). This is how ``data/ioi_words.json`` was checked: every
word is one token after a space, and the IOI template filled with every word drops none.
"""

from __future__ import annotations

import pytest
from conftest import bundled_tokenizer

from infoflow_widget.text.promptset import PromptSet, ioi_words

pytestmark = pytest.mark.slow

IOI = "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to"


@pytest.fixture(scope="module", params=["smollm2-135m", "gemma-3-270m"])
def tokenizer(request):
    return bundled_tokenizer(request.param)


def test_every_bundled_word_is_one_token_after_a_space(tokenizer):
    for kind, words in ioi_words().items():
        several = [w for w in words if len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) != 1]
        assert several == [], (kind, several)


def test_the_ioi_template_keeps_every_bundled_word(tokenizer):
    words = ioi_words()
    slots = {"IO": words["names"], "S": words["names"], "PLACE": words["places"], "OBJECT": words["objects"]}
    ps = PromptSet.from_template(IOI, answer="{IO}", distractor="{S}", n=200, seed=0, tokenizer=tokenizer, **slots)
    assert ps.dropped == [] and len(ps) == 200 and ps.aligned()
    ids = [tokenizer(p)["input_ids"] for p in ps.prompts]
    for record, row in zip(ps, ids):
        for role, slot in (("IO", "IO"), ("S1", "S"), ("S2", "S"), ("PLACE", "PLACE"), ("OBJECT", "OBJECT")):
            assert tokenizer.decode([row[record.roles[role]]]) == " " + record.slots[slot]
        assert tokenizer.decode([row[record.roles["END"]]]) == " to" and record.roles["END"] == len(row) - 1
        assert len(tokenizer(record.answer, add_special_tokens=False)["input_ids"]) == 1
