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


def completion_logprobs(model, batch: dict, temperature: float = 1.0, chunk_tokens: int = 1024,
                        with_entropy: bool = False):
    """Log-probs of the tokens under `loss_mask`, from logits / temperature, without a [B, T, V] tensor.

    The decoder runs once; the vocabulary projection runs only at the positions whose next token is scored,
    `chunk_tokens` rows at a time (align.algos.logprobs: recomputed in backward, so the extra memory is one
    chunk). The head is called as a module, so ZeRO-3 gathers its weight as in a normal forward.
    batch: input_ids, attention_mask, loss_mask [B, T]. Returns (logp [B, T-1] float32, 0 off the mask,
    position t scoring token t+1; entropy [B, T-1] or None; router logits tuple, empty for dense models).
    """
    from align.algos.logprobs import chunked_logprobs

    module = getattr(model, "module", model)  # a DeepSpeed engine wraps the HF model
    if hasattr(module, "get_base_model"):  # a peft model (LoRA): the transformers model, adapters injected in place
        module = module.get_base_model()
    out = module.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False,
                            **_router_kwargs(module))
    head = module.get_output_embeddings()  # called as a module, per chunk
    scored = batch.get("loss_mask", batch["attention_mask"])[:, 1:].bool()  # no loss_mask: every real token
    logp, ent = chunked_logprobs(out.last_hidden_state[:, :-1], head, batch["input_ids"][:, 1:], scored, temperature=temperature, chunk_tokens=chunk_tokens,
                                 softcap=getattr(module.config, "final_logit_softcapping", None),
                                 with_entropy=with_entropy)
    return logp, ent, tuple(getattr(out, "router_logits", None) or ())


def _router_kwargs(module) -> dict:
    """Ask MoE models (those that record router logits) for them; dense models get nothing extra."""
    return {"output_router_logits": True} if "router_logits" in getattr(module, "_can_record_outputs", {}) else {}


def routing_metrics(router: tuple, seen, loss_mask, replayed: bool) -> dict:
    """Per MoE layer j, as sums over the completion tokens (the driver divides by their count):
    routing/entropy/l<j> (router entropy, nats) and, under replay, routing/same_set/l<j> and
    routing/overlap/l<j>: agreement of the router's own top-k with the replayed routes; and
    `routing_counts` [L, E]: how often each expert is the router's own choice (summed by the driver)."""
    import torch

    from align.algos.routing import expert_load, router_entropy, routing_agreement

    if not router:
        return {}
    tokens = loss_mask.reshape(-1).bool()  # [B*T]: completion tokens as inputs
    n = float(tokens.sum())
    logits = torch.stack([r.detach() for r in router])  # [L, B*T, E]
    out = {f"routing/entropy/l{j}_sum": float(e) * n for j, e in enumerate(router_entropy(logits, tokens))}
    if not seen.complete:
        return out
    natural = seen.natural()  # [L, B*T, k]
    out["routing_counts"] = expert_load(natural, logits.shape[-1], tokens) * n * natural.shape[-1]  # [L, E]
    if replayed:
        agree = routing_agreement(natural, seen.tensor(), tokens)
        for name, per_layer in agree.items():
            out |= {f"routing/{name}/l{j}_sum": float(v) * n for j, v in enumerate(per_layer)}
    return out


def sequence_logprobs(model, batch: dict, temperature: float = 1.0, chunk_tokens: int = 1024):
    """Log-prob of each token under `loss_mask` given its prefix: [B, T-1] (position t scores token t+1; 0 off
    the mask), from logits / temperature: the sampling policy of a run at that temperature."""
    return completion_logprobs(model, batch, temperature, chunk_tokens)[0]


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
                   temperature: float = 1.0, correction: dict | None = None, chunk_tokens: int = 1024,
                   aux_coef: float = 0.0, top_k: int = 1):
    """Clipped GRPO loss on one micro-batch, under the sampling temperature.

    batch: input_ids/attention_mask/loss_mask [B, T], old_logp/ref_logp/rollout_logp [B, T-1], advantages [B].
    token_scale / seq_scale: (micro-batch slots across ranks) / (global tokens or sequences), so
    that DeepSpeed's averaging over slots gives exactly the global aggregate.
    correction: {"mode", "c_min", "c_max"} (align.algos.rollout_correction) or None / mode "off".
    Metrics are sums (or _min / _max), merged over micro-batches and ranks by `merge_stats`.
    """
    from align.algos.grpo import AGGREGATIONS, policy_loss
    from align.algos.rollout_correction import is_weights, mismatch_stats

    from engine.routing import routing

    replay = batch.get("routes")
    with routing(model, replay=replay) as seen:
        logp, ent, router = completion_logprobs(model, batch, temperature, chunk_tokens, with_entropy=True)
    mask = batch["loss_mask"][:, 1:].float()
    unit = AGGREGATIONS[loss_kwargs.get("aggregation", "token_mean")].unit
    norm = {"token_sum_norm": 1.0 / token_scale} if unit == "tokens" else {"seq_sum_norm": 1.0 / seq_scale}
    # without stored old log-probs (one update per batch) the old policy is the current one (ratio 1, as TRL)
    old_logp = batch["old_logp"] if "old_logp" in batch else logp.detach()
    stats, weights = {}, None
    if "rollout_logp" in batch:
        stats = mismatch_stats(old_logp, batch["rollout_logp"], mask)
        if correction and correction.get("mode", "off") != "off":
            weights, is_stats = is_weights(old_logp, batch["rollout_logp"], mask, correction["mode"],
                                           correction.get("c_min"), correction.get("c_max"))
            stats |= is_stats
    loss, m = policy_loss(logp, old_logp, batch["advantages"], mask, ref_logp=batch.get("ref_logp"),
                          is_weights=weights, **norm, **loss_kwargs)
    if aux_coef and router:
        loss = loss + aux_coef * expert_balance_loss(router, top_k, batch["attention_mask"])
    n_tok = float(mask.sum())
    out = {"n_tokens": n_tok, "entropy_sum": float((ent * mask).sum()), "loss_slot": float(loss.detach()),
           **stats, **load_metrics(router, top_k, batch["attention_mask"]),
           **routing_metrics(router, seen, batch["loss_mask"], replayed=replay is not None)}
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
