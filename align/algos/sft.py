"""Supervised losses: masked next-token cross-entropy and DeepSeekMoE's balance loss.

Departures from DeepSeek-V2: only the expert-level balance loss (alpha_1) is used;
the device- and communication-level balance losses (alpha_2, alpha_3) matter only
when experts are sharded over devices, which the built-in model is not.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def shifted_token_nll(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token negative log-likelihood over the tokens the mask selects.

    logits: [B, T, V] model outputs; position t predicts token t+1.
    input_ids: [B, T] token ids.
    loss_mask: [B, T] 1 where token t is a target (its prediction comes from t-1).
    Returns (nll_sum: [], n_tokens: []): divide outside, so that a global batch split
    into micro-batches and ranks can be averaged exactly per token.
    """
    logits = logits[:, :-1].float()  # [B, T-1, V]
    targets = input_ids[:, 1:]  # [B, T-1]
    mask = loss_mask[:, 1:].to(logits.dtype)  # [B, T-1]
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [B, T-1]
    return (nll * mask).sum(), mask.sum()


def expert_balance_loss(router_logits: tuple[torch.Tensor, ...], top_k: int, token_mask: torch.Tensor | None = None) -> torch.Tensor:
    """DeepSeek-V2 expert-level balance loss, averaged over MoE layers.

    L = sum_i f_i * P_i, with f_i = E / (K * T) * #(tokens routed to expert i) and
    P_i = mean_t s_{i,t}, where s = softmax(router logits) (DeepSeek-V2 eq. 12-14).
    Uniform routing gives L = 1; the recipe multiplies it by alpha_1.

    router_logits: per MoE layer a tensor [N, E] with N = B*T tokens.
    top_k: experts per token (K).
    token_mask: [N] or [B, T], 1 for real tokens (padding excluded).
    Returns a scalar tensor.
    """
    if not router_logits:
        return torch.zeros(())
    losses = []
    for logits in router_logits:
        scores = logits.float().softmax(dim=-1)  # [N, E]
        n_exp = scores.shape[-1]
        w = torch.ones(scores.shape[0], device=scores.device) if token_mask is None else token_mask.reshape(-1).float()
        n_tok = w.sum().clamp(min=1.0)
        chosen = torch.zeros_like(scores).scatter_(1, scores.topk(top_k, dim=-1).indices, 1.0)  # [N, E]
        f = (chosen * w[:, None]).sum(0) * n_exp / (top_k * n_tok)  # [E]
        p = (scores * w[:, None]).sum(0) / n_tok  # [E]
        losses.append((f * p).sum())
    return torch.stack(losses).mean()


def expert_load(router_logits: tuple[torch.Tensor, ...], top_k: int, token_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Fraction of routed token slots per expert, per layer: [L, E], rows sum to 1."""
    rows = []
    for logits in router_logits:
        idx = logits.topk(top_k, dim=-1).indices  # [N, K]
        w = torch.ones(idx.shape[0]) if token_mask is None else token_mask.reshape(-1).float().cpu()
        counts = torch.zeros(logits.shape[-1]).index_add_(0, idx.reshape(-1).cpu(), w.repeat_interleave(top_k))
        rows.append(counts / counts.sum().clamp(min=1.0))
    return torch.stack(rows) if rows else torch.zeros(0, 0)
