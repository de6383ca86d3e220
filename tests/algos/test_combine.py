import math

import pytest
import torch

from align.algos.combine import combine, group_normalise, reward_matrix


def test_reward_matrix_and_weighted_combination():
    m = reward_matrix([[1.0, None, 0.0], [0.5, 0.5, None]])
    assert m.shape == (3, 2) and math.isnan(m[1, 0].item()) and math.isnan(m[2, 1].item())
    # sample 0: 2*1 + 1*0.5 = 2.5; sample 1: only fn 2 -> 0.5; sample 2: 2*0 = 0
    assert combine(m, [2.0, 1.0]).tolist() == [2.5, 0.5, 0.0]


def test_group_normalise_hand_worked():
    # one group of 4, rewards [1, 0, 0, 1]: mean 0.5, unbiased std 0.57735 -> +-0.8660
    m = torch.tensor([[1.0], [0.0], [0.0], [1.0]], dtype=torch.float64)
    out = group_normalise(m, 4, eps=0.0)
    assert out[:, 0].tolist() == pytest.approx([0.866025, -0.866025, -0.866025, 0.866025], abs=1e-6)
    # NaN entries are skipped: [2, nan, 4] -> mean 3, std sqrt(2) -> [-0.7071, nan, 0.7071]
    m2 = torch.tensor([[2.0], [float("nan")], [4.0]], dtype=torch.float64)
    out2 = group_normalise(m2, 3, eps=0.0)[:, 0]
    assert out2[0].item() == pytest.approx(-0.707107, abs=1e-6) and math.isnan(out2[1].item())
