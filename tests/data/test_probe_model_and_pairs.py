"""scripts/probe_model.py's sharpening headroom and scripts/probe_pairs.py's likelihood comparison, hand-worked."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe_model, probe_pairs = load("probe_model"), load("probe_pairs")


def test_headroom_counts_what_sharpening_gains_and_loses():
    greedy = [[1.0], [0.0], [1.0], [0.0], [0.0]]
    sampled = [[1, 1, 0, 0],   # half right, greedy right: kept
               [1, 1, 1, 0],   # most right, greedy wrong: gained
               [1, 0, 0, 0],   # mostly wrong, greedy right: lost
               [0, 0, 0, 0],   # never right
               [0, 1, 0, 1]]   # half right, greedy wrong: gained
    got = probe_model.headroom(greedy, sampled)
    assert got == pytest.approx((0.4, 0.4, 0.8, 0.8, 0.6, 0.4, 0.2))
    g, *_, half, gain, loss = got
    assert g + gain - loss == pytest.approx(half)  # what perfect sharpening makes of greedy


@pytest.mark.parametrize("a, b, n", [((1, 2, 3, 4), (1, 2, 5), 2), ((1, 2, 3), (1, 2, 3), 2), ((9,), (8,), 1)])
def test_common_prefix_leaves_at_least_one_token_to_score(a, b, n):
    assert probe_pairs.common_prefix(a, b) == n


class Bigram(torch.nn.Module):
    """A decoder whose hidden state is the one-hot current token and whose head is `table`: logits[t] = table[ids[t]]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table)
        self.head = torch.nn.Linear(len(table), len(table), bias=False)
        self.head.weight.data = self.table.T.clone()
        self.config = type("Config", (), {})()

    def base_model(self, input_ids, **_):
        hidden = torch.nn.functional.one_hot(input_ids, len(self.table)).float()
        return type("Out", (), {"last_hidden_state": hidden})()

    def get_output_embeddings(self):
        return self.head


def test_tail_logprob_scores_only_the_tokens_after_the_prefix():
    # row 0 -> softmax (1/5, 3/5, 1/5); row 1 -> (1/4, 1/4, 1/2)
    model = Bigram([[0.0, math.log(3), 0.0], [0.0, 0.0, math.log(2)], [0.0, 0.0, 0.0]])
    total, mean = probe_pairs.tail_logprob(model, (0, 1, 2), start=1)  # p(1 | 0) p(2 | 1)
    assert total == pytest.approx(math.log(0.6 * 0.5)) and mean == pytest.approx(math.log(0.3) / 2)
    total, mean = probe_pairs.tail_logprob(model, (0, 1, 2), start=2)  # p(2 | 1) alone
    assert total == pytest.approx(math.log(0.5)) and mean == pytest.approx(math.log(0.5))
    # the likelier answer wins: after the shared token 0, answer 1 (3/5) beats answer 2 (1/5)
    assert probe_pairs.tail_logprob(model, (0, 1), 1)[0] > probe_pairs.tail_logprob(model, (0, 2), 1)[0]
