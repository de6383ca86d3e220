"""Shared by the engine tests: a perturbed model, transformers log-probs, their gap to vLLM's."""
import torch


def perturb(model, seed: int, scale: float = 1.0, sharpen: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            std = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 0.02
            p.add_(torch.randn(p.shape, generator=g) * std * scale)
            if name.endswith("mlp.gate.weight") or name == "lm_head.weight":
                p.mul_(sharpen)
    return model


def hf_logprobs(model, seqs, plens) -> list[torch.Tensor]:
    """transformers fp32 forward, log_softmax, gather: log p(s[t] | s[:t]) for t >= plen."""
    out = []
    with torch.no_grad():
        for s, p in zip(seqs, plens):
            ids = torch.tensor([s])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            out.append(logp.gather(-1, ids[0, 1:, None])[p - 1 :, 0])
    return out


def max_gap(vllm_lps, refs) -> float:
    assert [len(v) for v in vllm_lps] == [len(r) for r in refs]
    return max(float((torch.tensor(v) - r).abs().max()) for v, r in zip(vllm_lps, refs))
