"""LoRA through peft (engine.lora) on the built-in DeepSeek-V2 (MLA projections, dense FFN, shared and routed
experts as targets): the merged weights equal peft's own merge, the base is never touched, only adapters train,
the synced vLLM engine follows the trained adapters, and "adapters disabled" is exactly the starting model.
"""
import copy

import pytest
import torch

from align.config import LoraConfig

SPEC = LoraConfig(r=4, alpha=8.0)


def _model():
    from transformers import AutoModelForCausalLM

    from align.models.builtin import init_path

    return AutoModelForCausalLM.from_pretrained(str(init_path()), dtype=torch.float32).eval()


def _randomise_b(peft_model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def test_merged_tensors_are_peft_merge_and_leave_the_base_alone():
    from engine.lora import apply_lora, merged_tensors

    base = _model()
    pm = apply_lora(copy.deepcopy(base), SPEC)
    adapted = {n.split(".lora_")[0] for n, p in pm.named_parameters() if p.requires_grad}
    kinds = {n.rsplit(".", 1)[-1] for n in adapted}
    assert {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "experts"} <= kinds, kinds
    assert any("layers.0.mlp.gate_proj" in n for n in adapted) and any("shared_experts.down_proj" in n for n in adapted)
    assert all(".lora_" in n for n, p in pm.named_parameters() if p.requires_grad)  # the router and the rest stay
    _randomise_b(pm)
    merged = dict(merged_tensors(pm))
    reference = copy.deepcopy(pm).merge_and_unload().state_dict()
    assert set(merged) == set(base.state_dict()) == set(reference)
    gap = max(float((merged[k] - reference[k]).abs().max()) for k in merged)
    changed = [k for k in merged if not torch.equal(merged[k], base.state_dict()[k])]
    assert gap < 1e-6 and len(changed) >= 40, (gap, len(changed))
    assert any("experts.gate_up_proj" in k for k in changed) and any("experts.down_proj" in k for k in changed)
    ids = torch.randint(10, 4000, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lora_logits, plain = pm(ids).logits, base(ids).logits
        with pm.disable_adapter():
            off = pm(ids).logits
    assert torch.equal(off, plain), "adapters disabled must be exactly the starting model"
    assert float((lora_logits - plain).abs().max()) > 1e-2
    for n, p in pm.get_base_model().named_parameters():  # merging computed beside the base, not into it
        if ".lora_" not in n:
            assert torch.equal(p, base.state_dict()[n.replace(".base_layer", "")]), n


def test_bad_targets_say_which_layers_exist():
    from engine.lora import apply_lora

    with pytest.raises(ValueError, match="kv_b_proj"):
        apply_lora(_model(), LoraConfig(targets=("c_attn",), experts=False))


@pytest.fixture(scope="module")
def lora_trainer():
    import ray

    from align.config import load_recipe
    from align.models.builtin import init_path
    from align.workflows import common

    cfg = load_recipe("recipes/v2_grpo.yaml", ["model.path=builtin:tiny-v2@init", "trainer.num_workers=1",
                                               "trainer.threads_per_worker=1", "stage1.grpo.micro_batch_size=4",
                                               "model.lora={r: 4, alpha: 8.0}"])
    trainers = common.start_trainers(cfg, str(init_path()), 4, micro=4, freeze_router=True, optim=cfg.stage1.optim)
    yield trainers
    trainers.kill()
    ray.shutdown()


def _batch(n=4, seed=0):
    from align.data.chat import Encoded
    from engine.trainer import collate

    g = torch.Generator().manual_seed(seed)
    enc = [Encoded(tuple(torch.randint(10, 4000, (14,), generator=g).tolist()), (0,) * 6 + (1,) * 8) for _ in range(n)]
    mb = collate(enc, 0)
    mb["advantages"] = torch.randn(n, generator=g)
    return mb


def test_only_adapters_train_and_vllm_follows_the_merged_weights(lora_trainer):
    """A GRPO step moves adapter parameters only; the merged weights synced into vLLM score like the trainer
    (and unlike the starting model: the negative control); with adapters disabled the trainer is the start."""
    from align.models.builtin import init_path
    from engine.objectives import sequence_logprobs
    from engine.rollout import RolloutEngine

    trainers = lora_trainer
    before = trainers.group.call_rank0("parameter_fingerprint")
    mb = _batch()
    kw = {"eps_low": 0.2, "eps_high": 0.2, "beta": 0.0, "aggregation": "token_mean", "ratio_level": "token"}
    for _ in range(3):
        trainers.call("train_step", per_rank=[([mb], 5e-2, "grpo")], token_scale=1 / 32, seq_scale=1 / 4, loss_kwargs=kw)
    after = trainers.group.call_rank0("parameter_fingerprint")
    moved = [n for n in before if before[n] != after[n]]
    assert moved and all(".lora_" in n for n in moved), moved[:5]
    assert any(".lora_B." in n for n in moved)

    seqs, plens = mb["input_ids"].tolist(), [6] * 4
    trained = [lp[0][5:].tolist() for lp in (trainers.call("logprobs", per_rank=[([{**_one(mb, i)}],)])[0][0] for i in range(4))]
    start = [lp[0][5:].tolist() for lp in (trainers.call("logprobs", per_rank=[([{**_one(mb, i)}],)], adapters=False)[0][0] for i in range(4))]
    base = _model()
    with torch.no_grad():
        plain = [sequence_logprobs(base, _one(mb, i))[0][5:].tolist() for i in range(4)]
    assert max(abs(a - b) for x, y in zip(start, plain) for a, b in zip(x, y)) < 1e-6

    engine = RolloutEngine(str(init_path()), kv_cache_gib=1, max_model_len=128)
    try:
        gap = lambda got, want: max(abs(a - b) for x, y in zip(got, want) for a, b in zip(x, y))  # noqa: E731
        assert gap(engine.score(seqs, plens), trained) > 1e-3  # negative control: the engine holds the start
        stats = engine.update_weights(trainers.group.call_rank0("named_tensors"))
        assert stats["moe_layers_repacked"] > 0
        assert gap(engine.score(seqs, plens), trained) < 1e-4
    finally:
        engine.close()


def _one(mb, i):
    return {k: v[i:i + 1] for k, v in mb.items() if k in ("input_ids", "attention_mask", "loss_mask")}


def test_the_default_spec_fits_a_dense_model():
    """`experts: true` is the default; a dense Llama (SmolLM2's layout) has none, and gets its linear layers only."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.lora import apply_lora

    dense = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    pm = apply_lora(dense, LoraConfig())
    kinds = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, p in pm.named_parameters() if p.requires_grad}
    assert kinds == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
