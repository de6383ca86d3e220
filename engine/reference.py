"""The frozen reference model for the KL term: forward passes only, offloaded when idle."""
from __future__ import annotations

from engine import device
from engine.offload import FrozenModelSwap


class ReferenceWorker(FrozenModelSwap):
    def __init__(self, model_path: str, dtype: str = "float32", threads: int = 1) -> None:
        import torch
        import transformers

        device.set_threads(threads)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).eval()
        self.model.requires_grad_(False)
        self.model.to(device.torch_device())

    def logprobs(self, micro_batches: list[dict], temperature: float = 1.0, chunk_tokens: int = 1024) -> list:
        """[B, T-1] log-probs under each micro-batch's loss_mask, from logits / temperature
        (see engine.objectives.sequence_logprobs)."""
        self._resident("logprobs")
        import torch

        from engine.objectives import sequence_logprobs
        from engine.routing import routing

        dev = device.torch_device()
        out = []
        with torch.no_grad():
            for mb in micro_batches:  # `routes` (R3): the rollout engine's experts, replayed here too
                with routing(self.model, replay=mb.get("routes")):
                    out.append(sequence_logprobs(self.model, {k: v.to(dev) for k, v in mb.items()}, temperature,
                                                 chunk_tokens).cpu())
        return out
