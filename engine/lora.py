"""LoRA through peft: adapters on a trainer's model, merged weights for vLLM and for `final/`.

`model.lora: {r, alpha, dropout, targets, experts}` wraps the model the trainer loads:
- `targets`: the last name part of the `nn.Linear` layers to adapt (attention projections, the dense
  FFN, DeepSeekMoE's shared experts); the output head is never adapted.
- `experts: true` (the default; dense models have none) also adapts the routed experts, which transformers 5 keeps fused as 3-D parameters
  (`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj` [E, H, I]), through peft's
  `target_parameters` (peft's ParamWrapper: a rank-r LoRA per expert and parameter).
Only the adapters train; the router and everything else stay as loaded.

Weights leave the trainer merged: `merged_tensors` yields every base tensor under its plain name, W + scale B A
where an adapter sits, computed beside the base (the base itself is never modified, so merging does not drift
it and "adapters disabled" stays exactly the starting model). The weight sync and `final/` are therefore the
same format as with full fine-tuning: vLLM and transformers load them without peft.

Departure from plain peft: for MoE models peft (0.21) rewrites LoRA targets named `gate_proj` / `up_proj` /
`down_proj` into the fused expert parameters, to load adapters trained on transformers 4 layouts; that drops the
dense FFN and shared-expert layers of the same names. The adapters here are created, not loaded from v4, so
the rewrite is skipped while they are created (`_no_v4_target_rewrite`).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from engine.weight_sync import persistent_buffers

EXPERT_PARAMETERS = ("experts.gate_up_proj", "experts.down_proj")


def linear_targets(model, suffixes) -> list[str]:
    """Full names of the nn.Linear modules whose last name part is in `suffixes` (the output head excluded)."""
    head = model.get_output_embeddings()
    return [n for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and m is not head and n.rsplit(".", 1)[-1] in set(suffixes)]


@contextlib.contextmanager
def _no_v4_target_rewrite():
    from unittest import mock

    with mock.patch("peft.utils.transformers_weight_conversion.convert_peft_config_for_transformers",
                    lambda *a, **k: None):
        yield


def apply_lora(model, spec, task: str = "CAUSAL_LM"):
    """Wrap `model` with fresh LoRA adapters per `spec` (align.config.LoraConfig); returns the peft model.

    task "SEQ_CLS" (reward models) also trains the new scalar head (`score`) in full."""
    import peft

    targets = linear_targets(model, spec.targets)
    experts = [p for p in EXPERT_PARAMETERS if any(n.endswith(p) for n, _ in model.named_parameters())]
    if not targets and not (spec.experts and experts):
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"`model.lora.targets` {list(spec.targets)} name no linear layer of this model; "
                         f"its linear layers are named {names}")
    config = peft.LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets,
                             target_parameters=experts if spec.experts else None, task_type=task,
                             modules_to_save=["score"] if task == "SEQ_CLS" else None)
    with _no_v4_target_rewrite():
        return peft.get_peft_model(model, config)


def is_lora(model) -> bool:
    import peft

    return isinstance(getattr(model, "module", model), peft.PeftModel)


def _plain(name: str) -> str:
    """A peft parameter name -> the base model's name (`base_model.model.` and `.base_layer` dropped)."""
    return name.removeprefix("base_model.model.").replace(".base_layer", "").replace(".modules_to_save.default", "")


def _deltas(peft_model) -> dict[str, torch.Tensor]:
    """{plain name of an adapted tensor: its LoRA delta (scale * B @ A, in the tensor's shape)}."""
    from peft.tuners.lora import LoraLayer, ParamWrapper

    out = {}
    for name, module in peft_model.named_modules():
        if not isinstance(module, LoraLayer) or not module.active_adapters:
            continue
        key = f"{_plain(name)}.{module.parameter_name if isinstance(module, ParamWrapper) else 'weight'}"
        for adapter in module.active_adapters:
            if adapter in module.lora_A:
                delta = module.get_delta_weight(adapter).detach()
                out[key] = out[key] + delta if key in out else delta
    return out


@torch.no_grad()
def merged_tensors(peft_model) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of the merged model under the base model's names: (name, W + delta) where adapted, else
    (name, W); persistent buffers included. The base is not modified."""
    peft_model = getattr(peft_model, "module", peft_model)
    deltas = _deltas(peft_model)
    saved = {n for n, _ in peft_model.named_parameters() if ".modules_to_save." in n}
    for name, tensor in [*peft_model.named_parameters(), *persistent_buffers(peft_model)]:
        if ".lora_" in name or (".original_module." in name and name.replace("original_module", "modules_to_save.default") in saved):
            continue
        plain = _plain(name)
        yield plain, (tensor + deltas[plain].to(tensor.dtype)) if plain in deltas else tensor


def base_model(peft_model):
    """The wrapped transformers model (its config and `save_pretrained`)."""
    return getattr(peft_model, "module", peft_model).get_base_model()


def adapter_counts(peft_model) -> dict:
    """{'trainable': adapter (and head) parameters, 'total': all parameters}."""
    model = getattr(peft_model, "module", peft_model)
    return {"trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "total": sum(p.numel() for p in model.parameters())}
