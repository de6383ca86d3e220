"""Training objectives the DeepSpeed worker can run, by name (a registry, no if-chains).

An objective takes the model and one micro-batch and returns (loss to backpropagate,
metrics dict of plain floats). Sums, not means, are reported so the driver can
average exactly over micro-batches and ranks.
"""
from __future__ import annotations

from typing import Callable

from align.algos.sft import expert_balance_loss, expert_load, shifted_token_nll

OBJECTIVES: dict[str, Callable] = {}


def register_objective(name: str):
    def deco(fn):
        if name in OBJECTIVES and OBJECTIVES[name] is not fn:
            raise ValueError(f"objective `{name}` is already registered")
        OBJECTIVES[name] = fn
        return fn

    return deco


def get_objective(name: str) -> Callable:
    if name not in OBJECTIVES:
        raise KeyError(f"unknown objective `{name}`; known: {sorted(OBJECTIVES)}")
    return OBJECTIVES[name]


def forward_with_router(model, batch: dict):
    """Forward pass that also returns the MoE router logits (empty for dense models)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_router_logits=True)
    return out.logits, tuple(getattr(out, "router_logits", None) or ())


def load_metrics(router: tuple, top_k: int, mask) -> dict:
    """Router expert load: max and min share of routed slots, times E (1.0 = balanced)."""
    if not router:
        return {}
    load = expert_load(tuple(r.detach() for r in router), top_k, mask)  # [L, E]
    e = load.shape[-1]
    return {"expert_load_max": float(load.max()) * e, "expert_load_min": float(load.min()) * e}


def sequence_logprobs(model, batch: dict):
    """Log-prob of each token given its prefix: [B, T-1] (position t scores token t+1)."""
    import torch

    logits, _ = forward_with_router(model, batch)
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)


@register_objective("sft")
def sft_objective(model, batch: dict, *, token_scale: float, aux_coef: float, top_k: int):
    """Masked NLL (scaled by `token_scale` = 1 / global target tokens, times the
    number of micro-batch slots so DeepSpeed's averaging gives the global token mean)
    plus aux_coef * expert balance loss."""
    logits, router = forward_with_router(model, batch)
    nll_sum, n_tok = shifted_token_nll(logits, batch["input_ids"], batch["loss_mask"])
    aux = expert_balance_loss(router, top_k, batch["attention_mask"]) if router else logits.new_zeros(())
    loss = nll_sum * token_scale + aux_coef * aux
    return loss, {"nll_sum": float(nll_sum.detach()), "n_tokens": float(n_tok), "aux_loss": float(aux.detach()),
                  **load_metrics(router, top_k, batch["attention_mask"])}


@register_objective("sft_eval")
def sft_eval(model, batch: dict, **_):
    logits, _router = forward_with_router(model, batch)
    nll_sum, n_tok = shifted_token_nll(logits, batch["input_ids"], batch["loss_mask"])
    return nll_sum, {"nll_sum": float(nll_sum), "n_tokens": float(n_tok)}


@register_objective("grpo")
def grpo_objective(model, batch: dict, *, token_scale: float, seq_scale: float, loss_kwargs: dict,
                   aux_coef: float = 0.0, top_k: int = 1):
    """Clipped GRPO loss on one micro-batch.

    batch: input_ids/attention_mask/loss_mask [B, T], old_logp/ref_logp [B, T-1], advantages [B].
    token_scale / seq_scale: (micro-batch slots across ranks) / (global tokens or sequences), so
    that DeepSpeed's averaging over slots gives exactly the global aggregate.
    """
    import torch

    from align.algos.grpo import AGGREGATIONS, policy_loss, token_entropy

    logits, router = forward_with_router(model, batch)
    logits = logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    mask = batch["loss_mask"][:, 1:].float()
    unit = AGGREGATIONS[loss_kwargs.get("aggregation", "token_mean")].unit
    norm = {"token_sum_norm": 1.0 / token_scale} if unit == "tokens" else {"seq_sum_norm": 1.0 / seq_scale}
    # One update per rollout batch: the old policy is the current one (ratio 1, as TRL does).
    old_logp = batch["old_logp"] if "old_logp" in batch else logp.detach()
    loss, m = policy_loss(logp, old_logp, batch["advantages"], mask, ref_logp=batch.get("ref_logp"),
                          **norm, **loss_kwargs)
    if aux_coef and router:
        loss = loss + aux_coef * expert_balance_loss(router, top_k, batch["attention_mask"])
    with torch.no_grad():
        ent = token_entropy(logits)
    n_tok = float(mask.sum())
    mismatch = ((batch["rollout_logp"] - old_logp).abs() * mask).sum() if "rollout_logp" in batch else 0.0
    out = {"n_tokens": n_tok, "entropy_sum": float((ent * mask).sum()), "loss_slot": float(loss.detach()),
           "logprob_mismatch_sum": float(mismatch),
           **load_metrics(router, top_k, batch["attention_mask"])}
    out.update({f"{k}_sum": float(v) * n_tok for k, v in m.items()})
    return loss, out


# ---------------------------------------------------------------------- reward models
def reward_scores(model, batch: dict):
    """Scalar reward per sequence: [B]. The sequence-classification head reads the last
    non-padding token (HF's pooling, so a saved folder scores the same when reloaded)."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]


@register_objective("rm_pairwise")
def rm_pairwise(model, batch: dict, *, pair_scale: float, center_coef: float | None = None, **_):
    """Bradley-Terry on one micro-batch. batch: input_ids [2N, T] with chosen at even rows and
    rejected at odd rows, margin [N]. `pair_scale` = (micro-batch slots) / (global pairs), so
    DeepSpeed's averaging over slots gives the global mean."""
    from align.algos.rm import pairwise_accuracy, pairwise_loss

    r = reward_scores(model, batch).float()
    rc, rr = r[0::2], r[1::2]
    n = rc.shape[0]
    loss = pairwise_loss(rc, rr, batch["margin"], center_coef) * n * pair_scale
    return loss, {"loss_sum": float(loss.detach()) / pair_scale, "n": float(n),
                  "correct": pairwise_accuracy(rc.detach(), rr.detach()) * n,
                  "margin_sum": float((rc - rr).detach().sum())}


@register_objective("rm_pointwise")
def rm_pointwise(model, batch: dict, *, point_scale: float, loss_name: str = "bce", **_):
    """Pointwise regression/classification: batch input_ids [N, T], target [N]."""
    from align.algos.rm import POINTWISE_LOSSES

    r = reward_scores(model, batch).float()
    n = r.shape[0]
    loss = POINTWISE_LOSSES[loss_name](r, batch["target"]) * n * point_scale
    return loss, {"loss_sum": float(loss.detach()) / point_scale, "n": float(n)}
