"""Per-token KL estimators between the policy and the reference model, and KL folded into the reward.

Schulman, "Approximating KL Divergence" (2020). For a token sampled from the policy pi, with
d = ref_logp - logp = log(pi_ref / pi):
  k1 = -d = logp - ref_logp      unbiased for KL(pi || pi_ref), high variance, can be negative;
  k2 = d^2 / 2                   biased, low variance, >= 0;
  k3 = exp(d) - d - 1            unbiased, low variance, >= 0: DeepSeekMath eq. 4 (GRPO) and TRL's
                                 `per_token_kl` in `GRPOTrainer._compute_loss`. Not clamped (verl's
                                 "low_var_kl" clamps to [-10, 10]; TRL does not).
Estimators are a name registry (`KL_ESTIMATORS`); `register_kl_estimator` refuses a name twice.
"""
from __future__ import annotations

from typing import Callable

import torch

KLEstimator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
KL_ESTIMATORS: dict[str, KLEstimator] = {}


def register_kl_estimator(name: str) -> Callable[[KLEstimator], KLEstimator]:
    """Decorator adding fn(logp [B, T], ref_logp [B, T]) -> kl [B, T] under `name`; a taken name is refused."""
    def deco(fn: KLEstimator) -> KLEstimator:
        if name in KL_ESTIMATORS:
            raise ValueError(f"KL estimator {name!r} is already registered")
        KL_ESTIMATORS[name] = fn
        return fn
    return deco


@register_kl_estimator("k1")
def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k1 = logp - ref_logp. logp, ref_logp: [B, T] -> [B, T]."""
    return logp - ref_logp


@register_kl_estimator("k2")
def kl_k2(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k2 = (logp - ref_logp)^2 / 2. logp, ref_logp: [B, T] -> [B, T]."""
    return 0.5 * (logp - ref_logp) ** 2


@register_kl_estimator("k3")
def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1, written as TRL writes it. [B, T] -> [B, T]."""
    return torch.exp(ref_logp - logp) - (ref_logp - logp) - 1


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token KL estimate by registry name. logp, ref_logp: [B, T] -> [B, T] (unmasked)."""
    if estimator not in KL_ESTIMATORS:
        raise ValueError(f"unknown KL estimator {estimator!r}; known: {sorted(KL_ESTIMATORS)}")
    return KL_ESTIMATORS[estimator](logp, ref_logp)


def kl_in_reward(rewards: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                 beta: float, estimator: str = "k3") -> torch.Tensor:
    """"KL folded into the reward": r_i - beta * sum_t mask_it * kl_it, per sequence.

    rewards: [N] one scalar per completion; logp, ref_logp, mask: [N, T] (mask 1 on completion tokens).
    Meant for rollout-time tensors (no gradient); advantages are then computed from the result and the loss
    is run with beta = 0. Returns [N].
    """
    kl = kl_penalty(logp, ref_logp, estimator) * mask.to(logp.dtype)  # [N, T]
    return rewards - beta * kl.sum(-1)
