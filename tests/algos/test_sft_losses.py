import math

import pytest
import torch

from align.algos.schedule import lr_at
from align.algos.sft import expert_balance_loss, expert_load, shifted_token_nll


def test_shifted_nll_hand_worked():
    # vocab 2; logits equal -> each prediction has nll log 2; one logit pair favours token 1 by ln 3.
    logits = torch.zeros(1, 3, 2)
    logits[0, 1] = torch.tensor([0.0, math.log(3.0)])  # p(token1) = 3/4 at position 1
    ids = torch.tensor([[0, 1, 1]])
    mask = torch.tensor([[0, 0, 1]])  # only the last token is a target (predicted from position 1)
    nll, n = shifted_token_nll(logits, ids, mask)
    assert n.item() == 1
    assert nll.item() == pytest.approx(-math.log(0.75), abs=1e-6)
    nll_all, n_all = shifted_token_nll(logits, ids, torch.tensor([[0, 1, 1]]))
    assert n_all.item() == 2
    assert nll_all.item() == pytest.approx(math.log(2.0) - math.log(0.75), abs=1e-6)


def test_shifted_nll_matches_hf_loss_on_all_tokens():
    torch.manual_seed(0)
    logits, ids = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    nll, n = shifted_token_nll(logits, ids, torch.ones(2, 5))
    ref = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 7), ids[:, 1:].reshape(-1))
    assert (nll / n).item() == pytest.approx(ref.item(), rel=1e-6)


def test_balance_loss_uniform_is_one_and_collapse_is_large():
    uniform = torch.zeros(8, 4)  # equal scores; topk picks ties but P is uniform
    # with P_i = 1/E and sum f_i = E: L = sum f_i / E = 1 regardless of tie-breaking
    assert expert_balance_loss((uniform,), top_k=2).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[10.0, 9.0, -10.0, -10.0]]).repeat(8, 1)
    # all tokens pick experts 0,1: f = [2, 2, 0, 0]; P ~ [0.731, 0.269, 0, 0] -> L ~ 2.0
    assert expert_balance_loss((collapsed,), top_k=2).item() == pytest.approx(2.0, abs=1e-3)


def test_balance_loss_hand_worked_and_masked():
    # E=2, K=1, 2 tokens: token A scores [0.75, 0.25] -> expert 0; token B [0.25, 0.75] -> expert 1
    a = torch.log(torch.tensor([0.75, 0.25]))
    b = torch.log(torch.tensor([0.25, 0.75]))
    logits = torch.stack([a, b])
    # f = [1, 1]; P = [0.5, 0.5] -> L = 1.0
    assert expert_balance_loss((logits,), top_k=1).item() == pytest.approx(1.0)
    # mask out token B: f = [2, 0], P = [0.75, 0.25] -> L = 1.5
    assert expert_balance_loss((logits,), top_k=1, token_mask=torch.tensor([1, 0])).item() == pytest.approx(1.5)
    load = expert_load((logits,), top_k=1)
    assert load.tolist() == [[0.5, 0.5]]


def test_lr_schedule_values():
    assert lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(10, 100, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_at(55, 100, 1.0, 10, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)  # cosine midpoint
    assert lr_at(100, 100, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_at(55, 100, 1.0, 10, 0.0, "linear") == pytest.approx(0.5)
    assert lr_at(99, 100, 2.0, 0, 0.0, "constant") == 2.0
