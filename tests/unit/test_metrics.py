"""Metrics on hand-made final-position logits with an offline word-level tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.engine.metrics import Custom, KLDivergence, Logit, LogitDiff, LogProb, Prob, as_metric

MARY, JOHN, GAVE = 0, 1, 2
LOGITS = np.array([[2.0, 1.0, 0.0, -1.0], [0.5, 3.0, -2.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
CLEAN = LOGITS[0]


@pytest.fixture(scope="module")
def tok():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["mary", "john", "gave", "[UNK]"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


def run(metric, tok, logits=LOGITS, clean=CLEAN) -> np.ndarray:
    values = metric.prepare(tok)(torch.tensor(logits), torch.tensor(clean))
    assert values.shape == (len(logits),)
    return values.double().numpy()


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_logit_diff(tok):
    assert np.allclose(run(LogitDiff("mary", "john"), tok), [1.0, -2.5, 0.0])


def test_logit(tok):
    assert np.allclose(run(Logit("gave"), tok), [0.0, -2.0, 1.0])


def test_log_prob_and_prob(tok):
    expected = log_softmax(LOGITS)[:, JOHN]
    assert np.allclose(run(LogProb("john"), tok), expected, atol=1e-6)
    assert np.allclose(run(Prob("john"), tok), np.exp(expected), atol=1e-6)
    assert np.isclose(run(Prob("john"), tok)[2], 0.25)


def test_kl_divergence(tok):
    p = np.exp(log_softmax(CLEAN))
    expected = -(p * (log_softmax(CLEAN) - log_softmax(LOGITS))).sum(-1)
    values = run(KLDivergence(), tok)
    assert np.allclose(values, expected, atol=1e-6)
    assert values[0] == pytest.approx(0.0, abs=1e-6)  # clean against itself
    assert np.all(values[1:] < 0)


def test_custom(tok):
    values = run(Custom(lambda logits: logits[:, MARY] * 2 + logits[:, GAVE], "twice mary"), tok)
    assert np.allclose(values, [4.0, -1.0, 3.0])


def test_custom_wrong_shape_names_expected_shape(tok):
    score = Custom(lambda logits: logits[:, :2], "pair").prepare(tok)
    with pytest.raises(InfoFlowError, match=r"\(batch,\) = \(3,\)"):
        score(torch.tensor(LOGITS), torch.tensor(CLEAN))


def test_multi_token_answer_shows_pieces(tok):
    with pytest.raises(InfoFlowError, match="one") as err:
        LogitDiff("mary john", "gave").prepare(tok)
    assert "'mary'" in str(err.value) and "'john'" in str(err.value) and "2 tokens" in str(err.value)


@pytest.mark.parametrize("metric", [Logit(""), LogProb(""), LogitDiff("", "john"), LogitDiff("mary", "")])
def test_empty_target(tok, metric):
    with pytest.raises(InfoFlowError, match="non-empty"):
        metric.prepare(tok)


def test_answer_equal_to_distractor(tok):
    with pytest.raises(InfoFlowError, match="same token"):
        LogitDiff("mary", "mary").prepare(tok)


def test_as_metric_choices():
    assert as_metric(None) == KLDivergence()
    assert as_metric(None, answer="mary", distractor="john") == LogitDiff("mary", "john")
    assert as_metric(None, answer="mary") == LogProb("mary")
    metric = Logit("gave")
    assert as_metric(metric) is metric
    custom = as_metric(lambda logits: logits[:, 0])
    assert isinstance(custom, Custom) and custom.name == "<lambda>"


@pytest.mark.parametrize(
    "args, message",
    [
        ((None, None, "john"), "distractor needs an answer"),
        ((Logit("gave"), "mary", None), "not both"),
        ((lambda logits: logits[:, 0], None, "john"), "not both"),
        (("mary", None, None), "Metric or a callable"),
    ],
)
def test_as_metric_errors(args, message):
    with pytest.raises(InfoFlowError, match=message):
        as_metric(*args)


@pytest.mark.parametrize(
    "metric, words",
    [
        (LogitDiff("mary", "john"), ["mary", "john"]),
        (Logit("gave"), ["gave"]),
        (LogProb("gave"), ["gave"]),
        (Prob("gave"), ["gave"]),
        (KLDivergence(), ["KL"]),
    ],
)
def test_describe_and_params(metric, words):
    text = metric.describe()
    assert isinstance(text, str) and all(w in text for w in words)
    params = metric.params()
    assert params["kind"] == type(metric).__name__
    assert json.loads(json.dumps(params)) == params
    assert all(w in json.dumps(params) for w in words if w != "KL")


def test_custom_describe_and_params():
    metric = Custom(lambda logits: logits[:, 0], "first")
    assert metric.describe() == "first"
    params = metric.params()
    assert json.loads(json.dumps(params)) == params and "first" in params.values()


def test_custom_params_keep_the_metric_kind():
    assert Custom(lambda logits: logits[:, 0], "KLDivergence").params() != KLDivergence().params()
