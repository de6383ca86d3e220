"""Training objectives the DeepSpeed worker can run, by name (a registry, no if-chains).

An objective takes the model and one micro-batch and returns (loss to backpropagate,
metrics dict of plain floats). Sums, not means, are reported so the driver can
average exactly over micro-batches and ranks.
"""
from __future__ import annotations

from typing import Callable

from align.algos.sft import expert_balance_loss, shifted_token_nll

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


@register_objective("sft")
def sft_objective(model, batch: dict, *, token_scale: float, aux_coef: float, top_k: int):
    """Masked NLL (scaled by `token_scale` = 1 / global target tokens, times the
    number of micro-batch slots so DeepSpeed's averaging gives the global token mean)
    plus aux_coef * expert balance loss."""
    logits, router = forward_with_router(model, batch)
    nll_sum, n_tok = shifted_token_nll(logits, batch["input_ids"], batch["loss_mask"])
    aux = expert_balance_loss(router, top_k, batch["attention_mask"]) if router else logits.new_zeros(())
    loss = nll_sum * token_scale + aux_coef * aux
    return loss, {"nll_sum": float(nll_sum.detach()), "n_tokens": float(n_tok), "aux_loss": float(aux.detach())}


@register_objective("sft_eval")
def sft_eval(model, batch: dict, **_):
    logits, _router = forward_with_router(model, batch)
    nll_sum, n_tok = shifted_token_nll(logits, batch["input_ids"], batch["loss_mask"])
    return nll_sum, {"nll_sum": float(nll_sum), "n_tokens": float(n_tok)}
