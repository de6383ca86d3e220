"""Weight sync into a live vLLM engine: layout conversion, and log-probs after a sync.

Random-initialised MoE models give near-uniform outputs that hide errors, so the
models here are perturbed (noise with the weights' own scale, a sharper router and
output head) before any comparison.
"""
import pytest
import torch
from safetensors.torch import load_file

from engine.weight_sync import checkpoint_items, fused_moe_tensors


def perturb(model, seed: int, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            std = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 0.02
            p.add_(torch.randn(p.shape, generator=g) * std * scale)
            if name.endswith("mlp.gate.weight") or name == "lm_head.weight":
                p.mul_(4.0)
    return model


@pytest.fixture(scope="module")
def model_a(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models.builtin import init_path

    folder = tmp_path_factory.mktemp("model_a")
    model = perturb(AutoModelForCausalLM.from_pretrained(init_path()), seed=1)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(init_path()).save_pretrained(folder)
    return folder


def hf_logprobs(model, seqs, plens):
    out = []
    with torch.no_grad():
        for s, p in zip(seqs, plens):
            ids = torch.tensor([s])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            out.append(logp.gather(-1, ids[0, 1:, None])[p - 1 :, 0])
    return out


def test_checkpoint_format_reproduces_saved_checkpoint(model_a):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_a)
    saved = {}
    for f in model_a.glob("*.safetensors"):
        saved.update(load_file(str(f)))
    converted = dict(checkpoint_items(model.state_dict().items()))
    assert converted.keys() == saved.keys()
    assert all(converted[k].equal(saved[k]) for k in saved)
    fused = fused_moe_tensors(model.state_dict().items())
    assert sorted(fused) == [f"model.layers.{i}.mlp.experts" for i in range(1, 5)]
    assert fused["model.layers.1.mlp.experts"]["w13_weight"].shape == (16, 256, 256)


def test_sync_makes_vllm_follow_the_trainer(model_a):
    from transformers import AutoModelForCausalLM

    from engine.rollout import RolloutEngine

    engine = RolloutEngine(str(model_a), kv_cache_gib=1, max_model_len=256)
    g = torch.Generator().manual_seed(0)
    seqs = [[1, 4] + torch.randint(6, 4000, (30,), generator=g).tolist() for _ in range(3)]
    plens = [5, 8, 12]
    model_a_hf = AutoModelForCausalLM.from_pretrained(model_a)
    before = engine.score(seqs, plens)
    ref_a = hf_logprobs(model_a_hf, seqs, plens)
    assert max(float((torch.tensor(v) - r).abs().max()) for v, r in zip(before, ref_a)) < 1e-3  # RoPE workaround on

    model_b = perturb(model_a_hf, seed=2, scale=0.5)  # the "trained" policy, fused in memory
    ref_b = hf_logprobs(model_b, seqs, plens)
    gap = max(float((torch.tensor(v) - r).abs().max()) for v, r in zip(before, ref_b))
    assert gap > 0.05, "the two policies must be distinguishable for this test to mean anything"

    stats = engine.update_weights(list(model_b.state_dict().items()))
    assert stats["moe_layers_repacked"] == 4 and stats["bytes"] > 40e6
    after = engine.score(seqs, plens)
    err = max(float((torch.tensor(v) - r).abs().max()) for v, r in zip(after, ref_b))
    assert err < 1e-3, f"vLLM does not follow the synced weights (max |dlogp| = {err})"
    outs = engine.generate([seqs[0][:5]], n=2, temperature=1.0, max_tokens=6, seed=0)
    assert len(outs[0]) == 2 and all(len(o["token_ids"]) == len(o["logprobs"]) > 0 for o in outs[0])
