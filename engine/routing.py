"""Routing replay on the trainer's transformers MoE blocks: record the top-k experts of every token, or force them.

A forward hook on each router module (the class the model itself records `router_logits` from, so no
class-name guessing) sees the router's output (router_logits [N, E], top-k weights [N, k], top-k indices
[N, k]; N = B*T tokens of the micro-batch, padding included). Recording keeps the indices; replaying
replaces them with given ones and recomputes the gate weights from the *current* router logits at those
indices, so the router still gets gradients (verl and slime's routing replay do the same).

Modes (`grpo.routing_replay`, after verl / slime): R2 replays the trainer's own routes of the old-policy
forward in the updates (the updates then train the sub-networks that produced the old log-probs); R3 replays
the rollout engine's routes. Supported routers: DeepSeek-V2's softmax top-k router and DeepSeek-V3's sigmoid one
(also GLM-4-MoE's, the `builtin:smollm2-moe` upcycle's) in `WEIGHTS_FROM_LOGITS`; another
MoE family needs its gate-weight rule registered there. A dense model has no routers: asking for replay is an
error, not a silent no-op.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch


def router_class(model_or_class) -> type | None:
    """The class an HF model (or model class) records `router_logits` from (`_can_record_outputs`), or None."""
    recorder = getattr(model_or_class, "_can_record_outputs", None) or {}
    cls = getattr(recorder.get("router_logits"), "target_class", recorder.get("router_logits"))
    return cls if isinstance(cls, type) else None


def router_modules(model) -> list:
    """The MoE router modules of an HF model, in forward order; [] for dense models."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):  # peft (LoRA): the transformers model inside
        model = model.get_base_model()
    cls = router_class(model)
    return [m for m in model.modules() if cls is not None and isinstance(m, cls)]


def _deepseek_v2_weights(router, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """DeepSeek-V2 (`DeepseekV2TopkRouter`): softmax scores at the chosen experts times the routed scaling
    factor, no renormalisation (greedy and group-limited greedy alike). logits [N, E], idx [N, k] -> [N, k]."""
    scores = logits.float().softmax(dim=-1)
    return scores.gather(-1, idx.long()) * router.routed_scaling_factor


def _deepseek_v3_weights(router, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """DeepSeek-V3 (`Glm4MoeTopkRouter`, `DeepseekV3TopkRouter`): sigmoid scores at the chosen experts (the
    score-correction bias only chooses, it does not weigh), renormalised to sum 1 when `norm_topk_prob`, times
    the routed scaling factor. logits [N, E], idx [N, k] -> [N, k]."""
    weights = logits.float().sigmoid().gather(-1, idx.long())
    if router.norm_topk_prob:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return weights * router.routed_scaling_factor


# router class name -> gate weights from router logits at given indices; exact names, one entry per family
WEIGHTS_FROM_LOGITS: dict[str, Callable] = {
    "DeepseekV2TopkRouter": _deepseek_v2_weights,
    "DeepseekV3TopkRouter": _deepseek_v3_weights,
    "Glm4MoeTopkRouter": _deepseek_v3_weights,
}


class ReplayUnsupported(ValueError):
    """Routing replay was asked for a model without (supported) MoE routers."""


def check_replay_supported(model) -> None:
    routers = router_modules(model)
    if not routers:
        raise ReplayUnsupported("routing replay was requested (`grpo.routing_replay`), but this model is dense: it has "
                                "no MoE router to replay. Set `routing_replay: off`.")
    name = type(routers[0]).__name__
    if name not in WEIGHTS_FROM_LOGITS:
        raise ReplayUnsupported(f"routing replay supports the routers {sorted(WEIGHTS_FROM_LOGITS)}; this model's "
                                f"router is {name}. Register its gate-weight rule in engine.routing.WEIGHTS_FROM_LOGITS "
                                "or set `routing_replay: off`.")


class Routes:
    """What a `routing` context saw in one forward: `tensor()` -> [L, N, k] int64, the indices each router
    used; `natural()` -> the indices the routers chose themselves (equal to `tensor()` without replay)."""

    def __init__(self, layers: int) -> None:
        self.layers, self.used, self.chosen = layers, [], []

    @property
    def complete(self) -> bool:
        """One forward's routes of every layer were seen (False for routers of another output shape)."""
        return self.layers > 0 and len(self.chosen) == self.layers

    def tensor(self) -> torch.Tensor:
        return self._stack(self.used)

    def natural(self) -> torch.Tensor:
        return self._stack(self.chosen)

    def _stack(self, parts: list) -> torch.Tensor:
        if len(parts) != self.layers:
            raise RuntimeError(f"expected one forward through {self.layers} routers, saw {len(parts)} router calls")
        return torch.stack(parts)


@contextlib.contextmanager
def routing(model, replay: torch.Tensor | None = None):
    """Record (and with `replay`, force) the top-k experts of every token at every MoE layer, for one forward.

    replay: [L, N, k] indices (L routers in forward order, N = B*T tokens of the batch), or None to only record.
    Yields a `Routes`; after the forward its `tensor()` is [L, N, k] (equal to `replay` when given).
    """
    routers = router_modules(model)
    if replay is not None:
        check_replay_supported(model)
        if replay.shape[0] != len(routers):
            raise ValueError(f"replay routes cover {replay.shape[0]} MoE layers, the model has {len(routers)}")
    seen = Routes(len(routers))

    def hook_for(layer: int):
        def hook(module, args, output):
            if replay is None and not (isinstance(output, tuple) and len(output) == 3):
                return None  # a router family that does not return (logits, weights, indices): nothing to record
            logits, weights, idx = output
            seen.chosen.append(idx.detach())
            if replay is not None:
                idx = replay[layer].to(idx.device, torch.long)
                if idx.shape != output[2].shape:
                    raise ValueError(f"replay routes for layer {layer} have shape {tuple(idx.shape)}, the router "
                                     f"chose {tuple(output[2].shape)}")
                weights = WEIGHTS_FROM_LOGITS[type(module).__name__](module, logits, idx).to(output[1].dtype)
            seen.used.append(idx.detach())
            return logits, weights, idx
        return hook

    handles = [r.register_forward_hook(hook_for(i)) for i, r in enumerate(routers)]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def replay_problem(model_path: str) -> str | None:
    """Why routing replay cannot run on the model in `model_path` (None: it can), read from its config and
    model class without loading weights."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(model_path)
    router = router_class(transformers.AutoModelForCausalLM._model_mapping.get(type(config), None))
    if router is None:
        return f"the model ({config.model_type}) is dense: it has no MoE router to replay"
    if router.__name__ not in WEIGHTS_FROM_LOGITS:
        return (f"its router {router.__name__} has no gate-weight rule in engine.routing.WEIGHTS_FROM_LOGITS "
                f"(supported: {sorted(WEIGHTS_FROM_LOGITS)})")
    return None
