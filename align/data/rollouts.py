"""Rollouts as data: a `Sample` per completion, and the per-rank micro-batches the trainers score and train on
(prompt + completion with the loss on the completion, vLLM's log-probs aligned to the shifted positions, R3
routes in the trainer's layout), with the batch-global counts the losses need."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Sample:
    prompt_ids: list[int]
    completion_ids: list[int]
    rollout_logp: list[float]
    row: dict
    text: str = ""
    finish_reason: str = ""  # vLLM's: "stop" (EOS / stop token) or "length" (cut at max_new_tokens)
    routes: torch.Tensor | None = None  # R3: the rollout engine's experts per token, [len(prompt + completion), L, k]
    reward: float = 0.0
    advantage: float = 0.0
    extra: dict = field(default_factory=dict)


def to_samples(tok, rows: list[dict], prompt_ids: list[list[int]], outs: list[list[dict]]) -> list[Sample]:
    """The rollout engines' outputs (per prompt, n completions each) -> Samples, in prompt order."""
    return [Sample(ids, list(o["token_ids"]), list(o["logprobs"]), row,
                   tok.decode(o["token_ids"], skip_special_tokens=True), o.get("finish_reason") or "")
            for row, ids, group in zip(rows, prompt_ids, outs) for o in group]


def to_encoded(samples: list[Sample], mask_truncated: bool = False) -> list:
    """Prompt + completion with the loss on the completion; with `mask_truncated` (DAPO's overlong
    masking, TRL's mask_truncated_completions) a completion cut at max_new_tokens has no loss tokens."""
    from align.data.chat import Encoded

    def on(s: Sample) -> int:
        return 0 if mask_truncated and s.finish_reason == "length" else 1

    return [Encoded(tuple(s.prompt_ids + s.completion_ids), (0,) * len(s.prompt_ids) + (on(s),) * len(s.completion_ids))
            for s in samples]


def micro_batches(samples: list[Sample], n_ranks: int, micro: int, pad_id: int,
                  mask_truncated: bool = False) -> list[list[dict]]:
    """Per-rank lists of collated micro-batches; `index` [B] maps rows back to `samples`.

    Samples are sorted by length before they are dealt to ranks and cut into micro-batches,
    so each micro-batch pads little; the losses are global sums, so the order changes nothing.
    """
    from engine.trainer import collate

    enc = to_encoded(samples, mask_truncated)
    order = sorted(range(len(samples)), key=lambda j: -len(enc[j].input_ids))
    per_rank = []
    for r in range(n_ranks):
        idx = order[r::n_ranks]
        mbs = []
        for i in range(0, len(idx), micro):
            part = idx[i : i + micro]
            mb = collate([enc[j] for j in part], pad_id)
            mb["index"] = torch.tensor(part, dtype=torch.long)
            mb["rollout_logp"] = _pad([samples[j] for j in part], mb["input_ids"].shape[1] - 1)
            if samples[part[0]].routes is not None:
                mb["routes"] = _routes([samples[j] for j in part], mb["input_ids"].shape[1])
            mbs.append(mb)
        per_rank.append(mbs)
    return per_rank


def _pad(samples: list[Sample], width: int) -> torch.Tensor:
    """vLLM's sampled-token log-probs aligned to [B, T-1] shifted positions (0 elsewhere)."""
    out = torch.zeros(len(samples), width)
    for i, s in enumerate(samples):
        start = len(s.prompt_ids) - 1
        out[i, start : start + len(s.rollout_logp)] = torch.tensor(s.rollout_logp[: width - start])
    return out


def _routes(samples: list[Sample], width: int) -> torch.Tensor:
    """Per-sample rollout routes [len, L, k] -> the micro-batch's [L, B*width, k] (row-major, as the trainer's
    MoE blocks flatten [B, T]); padding positions get experts 0..k-1 (they carry no loss)."""
    _, layers, k = samples[0].routes.shape
    out = torch.arange(k, dtype=torch.int16).expand(len(samples), width, layers, k).clone()  # [B, T, L, k]
    for i, s in enumerate(samples):
        out[i, : s.routes.shape[0]] = s.routes
    return out.permute(2, 0, 1, 3).reshape(layers, len(samples) * width, k).contiguous()


def sequence_kl(per_rank: list[list[dict]], n: int, estimator: str) -> torch.Tensor:
    """Per-sample summed KL(policy || reference) over completion tokens: [N]."""
    from align.algos.kl import kl_penalty

    out = torch.zeros(n)
    for mbs in per_rank:
        for mb in mbs:
            kl = kl_penalty(mb["old_logp"], mb["ref_logp"], estimator) * mb["loss_mask"][:, 1:]
            out[mb["index"]] = kl.sum(-1)
    return out


def loss_tokens(per_rank: list[list[dict]]) -> int:
    """Tokens that carry loss in the whole batch (the global count of token-mean losses)."""
    return int(sum(int(mb["loss_mask"][:, 1:].sum()) for mbs in per_rank for mb in mbs))


def set_advantages(per_rank: list[list[dict]], adv: torch.Tensor) -> None:
    for mbs in per_rank:
        for mb in mbs:
            mb["advantages"] = adv[mb["index"]].float()
