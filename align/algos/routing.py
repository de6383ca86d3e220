"""MoE routing statistics: agreement between two routings of the same tokens, router entropy, expert load.

A routing is the top-k expert indices chosen for each token at each MoE layer: [L, N, k] integer (N tokens,
L MoE layers, k = experts per token). Two routings of the same tokens (the rollout engine's and the trainer's,
or the trainer's before and after an update) agree on a token when their top-k *sets* are equal; their overlap
is |A ∩ B| / k. Imports only torch.
"""
from __future__ import annotations

import torch


def topk_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|A ∩ B| per token. a, b: [..., k] expert indices (each row a set: no repeats) -> [...] long."""
    return (a.unsqueeze(-1) == b.unsqueeze(-2)).any(-1).sum(-1)


def routing_agreement(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-layer agreement of two routings of the same tokens.

    a, b: [L, N, k] expert indices; mask: optional [N] bool (tokens to count, e.g. completion tokens).
    Returns {"same_set": [L] fraction of tokens whose top-k sets are equal, "overlap": [L] mean |A ∩ B| / k}.
    """
    if a.shape != b.shape:
        raise ValueError(f"routings differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    k = a.shape[-1]
    inter = topk_overlap(a, b).float()  # [L, N]
    m = torch.ones(a.shape[1], dtype=torch.bool, device=a.device) if mask is None else mask.bool()
    n = m.sum().clamp(min=1)
    same = ((inter == k) & m).sum(-1) / n  # [L]
    overlap = (inter / k * m).sum(-1) / n  # [L]
    return {"same_set": same, "overlap": overlap}


def router_entropy(router_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean entropy (nats) of softmax(router logits) per layer. router_logits: [L, N, E]; mask [N] -> [L]."""
    logp = torch.log_softmax(router_logits.float(), -1)
    ent = -(logp.exp() * logp).sum(-1)  # [L, N]
    m = torch.ones(ent.shape[1], dtype=torch.bool, device=ent.device) if mask is None else mask.bool()
    return (ent * m).sum(-1) / m.sum().clamp(min=1)


def expert_load(indices: torch.Tensor, num_experts: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Share of routed slots per expert and layer. indices: [L, N, k]; mask [N] -> [L, E] (rows sum to 1)."""
    L, N, k = indices.shape
    m = torch.ones(N, dtype=torch.bool, device=indices.device) if mask is None else mask.bool()
    onehot = torch.zeros(L, N, num_experts, device=indices.device).scatter_(-1, indices.long(), 1.0)  # [L, N, E]
    counts = (onehot * m[None, :, None]).sum(1)  # [L, E]
    return counts / counts.sum(-1, keepdim=True).clamp(min=1)
