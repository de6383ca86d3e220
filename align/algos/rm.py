"""Reward-model losses: pairwise (Bradley-Terry) and pointwise (regression / classification).

DeepSeek-V2 trains its reward models "with a pointwise or a pairwise loss" without
giving the formulas; these are the standard ones. The pairwise loss with margin and
the reward-centering term follow TRL's RewardTrainer exactly (a test compares them).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

POINTWISE_LOSSES: dict[str, Callable] = {}


def pairwise_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, margin: torch.Tensor | float = 0.0,
                  center_coef: float | None = None) -> torch.Tensor:
    """Bradley-Terry: mean of -log sigmoid(r_c - r_r - margin) [+ c * mean((r_c + r_r)^2)].

    r_chosen, r_rejected: [N] scalar rewards; margin: [N] or a float.
    Returns a scalar.
    """
    loss = -F.logsigmoid(r_chosen - r_rejected - margin).mean()
    if center_coef:
        loss = loss + center_coef * ((r_chosen + r_rejected) ** 2).mean()
    return loss


def _register(name: str):
    def deco(fn):
        if name in POINTWISE_LOSSES:
            raise ValueError(f"pointwise loss `{name}` already registered")
        POINTWISE_LOSSES[name] = fn
        return fn
    return deco


@_register("mse")
def mse_loss(r: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Regression of a score: mean (r - score)^2. r, target: [N]."""
    return F.mse_loss(r.float(), target.float())


@_register("bce")
def bce_loss(r: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Classification of a 0/1 label with r as the logit. r, target: [N]."""
    return F.binary_cross_entropy_with_logits(r.float(), target.float())


def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """Fraction of pairs ranked correctly (ties count half). [N], [N] -> float."""
    diff = r_chosen - r_rejected
    return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve via the rank-sum statistic (ties averaged). [N], [N] -> float."""
    pos, neg = scores[labels > 0.5], scores[labels <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return pairwise_accuracy(pos[:, None].expand(-1, len(neg)).reshape(-1), neg[None, :].expand(len(pos), -1).reshape(-1))
