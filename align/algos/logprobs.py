"""Per-token log-probs (and entropy) from final hidden states, in bounded memory.

The plain way to score completion tokens is `log_softmax(lm_head(hidden).float() / T)` over the
whole [B, T, V] batch, then a gather. With a 100 k vocabulary that is several fp32 [B, T, V]
tensors (logits, log-probs, and in backward their gradients), almost all of them for prompt and
padding positions whose log-probs nobody uses.

`chunked_logprobs` instead takes the hidden states and the lm_head (its weight, or the module itself:
calling the module lets ZeRO-3 gather a partitioned weight as in a normal forward), selects the positions
to score (`mask`, e.g. the completion tokens), and scores them `chunk_tokens` rows at a time:

    logits = hidden_rows @ weight.T (+ bias)        [chunk, V], in the input dtype
    logits = softcap * tanh(logits / softcap)       (optional, as Gemma-2)
    z = logits.float() / temperature                [chunk, V], fp32
    logp = z[label] - logsumexp(z)                  [chunk]

When autograd is recording, each chunk runs under non-reentrant activation checkpointing, so
only the chunk's hidden rows are kept for backward; the chunk's [chunk, V] logits are rebuilt
(one chunk at a time) during backward. The largest vocabulary-sized tensor alive at any moment,
in forward or backward, is therefore one chunk's, whatever the number of scored positions. The
cost is one extra lm_head matmul per scored row in backward (the forward one is redone).

Gradients flow to `hidden`, `weight` and `bias` and equal those of the plain full-logits path.
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

Head = Union[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]  # a [V, H] weight or the head module

__all__ = ["chunked_logprobs"]


def _chunk_logprobs(h: torch.Tensor, weight: Head, bias: torch.Tensor | None, labels: torch.Tensor,
                    temperature: float, softcap: float | None, entropy_sink: list | None) -> torch.Tensor:
    """Log-probs of one chunk of rows.

    h: [C, H] hidden rows; weight: [V, H] or a head module / callable [C, H] -> [C, V]; bias: [V] or None;
    labels: [C] int64.
    Returns logp [C] float32. When `entropy_sink` is an empty list, the chunk's entropy [C] float32
    (no grad) is appended to it; a non-empty sink is left alone, so the checkpoint's recomputation
    in backward does not compute the entropy a second time.
    """
    logits = F.linear(h, weight, bias) if isinstance(weight, torch.Tensor) else weight(h)  # [C, V], input dtype
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)  # in the input dtype, as HF models apply it
    z = logits.float()  # [C, V] fp32 (a no-op for fp32 inputs)
    if temperature != 1.0:
        z = z / temperature
    lse = torch.logsumexp(z, dim=-1)  # [C]
    logp = z.gather(-1, labels[:, None]).squeeze(-1) - lse  # [C]
    if entropy_sink is not None and not entropy_sink:
        with torch.no_grad():
            # H = logsumexp(z) - sum_v softmax(z)_v z_v
            entropy_sink.append(lse - (torch.softmax(z, dim=-1) * z).sum(-1))  # [C]
    return logp


def _params(head: Head) -> list[torch.Tensor]:
    """The tensors a head computes with: the weight itself, or a module's parameters."""
    if isinstance(head, torch.Tensor):
        return [head]
    return list(head.parameters()) if isinstance(head, torch.nn.Module) else []


def chunked_logprobs(hidden: torch.Tensor, weight: Head, labels: torch.Tensor, mask: torch.Tensor,
                     temperature: float = 1.0, chunk_tokens: int = 1024, bias: torch.Tensor | None = None,
                     softcap: float | None = None, with_entropy: bool = False,
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log softmax(lm_head(hidden) / temperature)[labels] at the masked positions, in row chunks.

    hidden: [B, T, H] final hidden states (after the model's final norm) at the positions whose
        NEXT token is scored (for causal LM inputs `ids`: hidden[:, :-1] with labels ids[:, 1:]).
    weight: [V, H] lm_head (output embedding) weight, or the head itself (an nn.Module or callable
        [C, H] -> [C, V]; called once per chunk in forward and again in backward). bias: [V] or None.
    labels: [B, T] int token ids scored at each position (any value where mask is 0).
    mask: [B, T] bool or 0/1; only these positions are computed.
    temperature: logits are divided by it (after the fp32 upcast), as a sampler does.
    chunk_tokens: rows of [chunk_tokens, V] logits built at a time (the memory bound).
    softcap: if set, logits = softcap * tanh(logits / softcap) before the temperature.
    with_entropy: also return the entropy of softmax(logits / temperature) (no grad).

    Returns (logp [B, T] float32, 0 at unmasked positions, differentiable w.r.t. hidden, weight
    and bias; entropy [B, T] float32 detached, 0 at unmasked positions, or None).
    The matmul runs in the input dtype (bf16/fp16 stay half precision there); each chunk's
    logits are upcast to fp32 before the softmax.
    """
    if hidden.dim() != 3:
        raise ValueError(f"hidden must be [B, T, H], got {tuple(hidden.shape)}")
    B, T, H = hidden.shape
    if isinstance(weight, torch.Tensor) and (weight.dim() != 2 or weight.shape[1] != H):
        raise ValueError(f"weight must be [V, {H}], got {tuple(weight.shape)}")
    if labels.shape != (B, T) or mask.shape != (B, T):
        raise ValueError(f"labels and mask must be [{B}, {T}], got {tuple(labels.shape)} and {tuple(mask.shape)}")
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    idx = mask.reshape(-1).bool().nonzero().squeeze(-1)  # [N] flat positions to score
    rows = hidden.reshape(B * T, H).index_select(0, idx)  # [N, H]
    ids = labels.reshape(B * T).index_select(0, idx).long()  # [N]
    n = idx.numel()

    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (hidden, bias, *_params(weight)))
    parts: list[torch.Tensor] = []  # logp per chunk, [C] each
    ents: list[torch.Tensor] = []  # entropy per chunk, [C] each
    for start in range(0, n, chunk_tokens):
        h, y = rows[start:start + chunk_tokens], ids[start:start + chunk_tokens]  # [C, H], [C]
        sink: list | None = [] if with_entropy else None
        if needs_grad:
            lp = checkpoint(_chunk_logprobs, h, weight, bias, y, temperature, softcap, sink,
                            use_reentrant=False, preserve_rng_state=False)
        else:
            lp = _chunk_logprobs(h, weight, bias, y, temperature, softcap, sink)
        parts.append(lp)
        if sink is not None:
            ents.append(sink[0])

    if n:
        logp_rows = torch.cat(parts)  # [N] fp32
    else:
        # Nothing to score: a zero that stays connected to `hidden`, so loss.backward() still works.
        logp_rows = hidden.reshape(-1)[:0].sum().float().reshape(1)[:0]  # [0]
    logp = torch.zeros(B * T, dtype=torch.float32, device=hidden.device).index_copy(0, idx, logp_rows)
    entropy = None
    if with_entropy:
        ent_rows = torch.cat(ents) if ents else torch.zeros(0, dtype=torch.float32, device=hidden.device)
        entropy = torch.zeros(B * T, dtype=torch.float32, device=hidden.device).index_copy(0, idx, ent_rows)
        entropy = entropy.reshape(B, T)
    return logp.reshape(B, T), entropy
