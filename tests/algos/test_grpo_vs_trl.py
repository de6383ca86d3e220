"""align.algos.grpo against TRL 1.16's GRPOTrainer, running TRL's own methods on the same tensors.

What runs TRL's code (nothing transcribed):
- advantages: the whole `GRPOTrainer._generate_and_score_completions` on a bare instance
  (`object.__new__(GRPOTrainer)` plus only the attributes that method reads); generation
  (`_generate`) and reward functions (`_calculate_rewards`) are replaced by stubs that return fixed
  token ids and a fixed [N, F] reward matrix (NaN rows = unscorable), `accelerator` by a single-process
  stub, and the module-level `gather_object` by the identity. So TRL's `sum_then_normalize` branch
  (nanmean / nanstd / `scale_rewards` / + 1e-4 / nan_to_num) produces the advantages compared here.
- loss: `GRPOTrainer._compute_loss` on a bare instance whose `_get_per_token_logps_and_entropies` returns
  our log-prob tensor (a leaf with grad), so TRL's ratio, clipping, k3 KL and `loss_type` aggregation
  produce the loss; the loss, the gradient w.r.t. the log-probs and TRL's logged clip ratios / KL are compared.
- `trl.trainer.utils.selective_log_softmax` and `entropy_from_logits` (the torch path: Triton has no CPU
  backend here). Note that TRL 1.16's GRPO path takes log-probs from the model's fused head
  (`outputs.log_probs`), not from `selective_log_softmax`.
Not compared: TRL's importance_sampling_level="sequence", vLLM IS correction, delta (two-sided clip),
entropy masking/bonus, and loss types we do not implement (cispo, sapo, vespo, luspo).
"""
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from align.algos.grpo import TRL_LOSS_TYPES, group_advantages, logprobs_from_logits, policy_loss, token_entropy

grpo_mod = pytest.importorskip("trl.trainer.grpo_trainer")
from trl.trainer.utils import entropy_from_logits, selective_log_softmax  # noqa: E402

GRPOTrainer = grpo_mod.GRPOTrainer
ACC = SimpleNamespace(device=torch.device("cpu"), process_index=0, num_processes=1, is_main_process=True,
                      gather=lambda x: x, gather_for_metrics=lambda x: x, reduce=lambda x, reduction="sum": x)


def _bare_trainer(**attrs) -> GRPOTrainer:
    t = object.__new__(GRPOTrainer)
    t.accelerator = ACC
    t.model = SimpleNamespace(training=True, is_gradient_checkpointing=False)
    t._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    for k, v in attrs.items():
        setattr(t, k, v)
    return t


# ---------------------------------------------------------------------------------------------- advantages
def _trl_advantages(rewards_per_func, weights, group_size, scale, monkeypatch):
    n = rewards_per_func.shape[0]
    t = _bare_trainer(
        environment_factories=None, tools=None, environments=[], _tokenizer=SimpleNamespace(pad_token_id=0),
        pad_to_multiple_of=None, mask_truncated_completions=False, use_vllm=False, beta=0.0, num_iterations=1,
        args=SimpleNamespace(per_device_train_batch_size=n, steps_per_generation=1, gradient_accumulation_steps=1,
                             gradient_checkpointing_kwargs=None),
        num_generations=group_size, num_generations_eval=group_size, scale_rewards=scale,
        multi_objective_aggregation="sum_then_normalize", reward_weights=torch.tensor(weights),
        reward_func_names=[f"f{i}" for i in range(len(weights))], log_multimodal=False,
        _logs={"prompt": [], "completion": [], "rewards": defaultdict(list), "advantages": [],
               "extra": defaultdict(list), "images": []},
        _pending_extra_logs={}, _pending_metrics={},
    )
    t._generate = lambda prompts: ([[1, 2]] * n, [[3, 4, 5]] * n, None, ["c"] * n, None, {}, None, None)
    t._calculate_rewards = lambda *a: rewards_per_func
    monkeypatch.setattr(grpo_mod, "gather_object", lambda x: x)
    out = t._generate_and_score_completions([{"prompt": "p"}] * n)
    return out["advantages"], t._metrics["train"]["frac_reward_zero_std"][-1]


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_advantages_equal_trl(scale, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    b, g, weights = 6, 4, [1.0, 0.5]
    rpf = torch.randint(0, 3, (b * g, 2), generator=gen).float()  # ties -> some zero-variance groups
    rpf[0:4] = torch.tensor([1.0, 0.0])  # group 0 all equal
    rpf[5, :] = float("nan")  # unscorable (all reward functions None)
    rpf[9, 1] = float("nan")  # one function had no opinion: nansum over functions, still valid
    rpf[12:15, :] = float("nan")  # group 3: a single scorable completion
    trl_adv, trl_zero_frac = _trl_advantages(rpf, weights, g, scale, monkeypatch)

    rewards = torch.nansum(rpf * torch.tensor(weights), dim=1)
    valid = ~torch.isnan(rpf).all(1)
    ours, stats = group_advantages(rewards, g, scale=scale, valid=valid)
    assert torch.allclose(ours, trl_adv, atol=1e-6, rtol=0)
    assert (trl_adv != 0).any()
    if scale != "batch":  # TRL counts its zero-std samples; a single-scorable group has NaN std there, not zero
        flat_multi = stats["zero_variance_groups"] - 1  # minus group 3
        assert trl_zero_frac == pytest.approx(flat_multi / b)


# ---------------------------------------------------------------------------------------------- loss
def _case(seed=0, b=4, t=6):
    gen = torch.Generator().manual_seed(seed)
    logp = -torch.rand(b, t, generator=gen) * 3
    old = logp + 0.3 * torch.randn(b, t, generator=gen)  # ratios well outside [0.8, 1.2] for some tokens
    ref = logp + 0.3 * torch.randn(b, t, generator=gen)
    adv = torch.randn(b, generator=gen)
    lengths = torch.randint(1, t + 1, (b,), generator=gen)
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    logits = torch.randn(b, t, 5, generator=gen)
    return logp, old, ref, adv, mask, logits


def _trl_loss(loss_type, beta, eps_high, logp, old, ref, adv, mask, ent, num_items, max_len, gas=1, spg=1):
    t = _bare_trainer(
        loss_type=loss_type, beta=beta, epsilon_low=0.2, epsilon_high=eps_high, top_entropy_quantile=1.0,
        off_policy_mask_threshold=None, importance_sampling_level="token", use_vllm=False,
        vllm_importance_sampling_correction=False, current_gradient_accumulation_steps=gas,
        max_completion_length=max_len, _entropy_bonus_enabled=False, aux_loss_enabled=False,
        args=SimpleNamespace(delta=None, use_bias_correction_kl=False, steps_per_generation=spg),
    )
    t._get_per_token_logps_and_entropies = lambda *a, **k: (logp, ent, None)
    b, tt = mask.shape
    inputs = {"prompt_ids": torch.ones(b, 2, dtype=torch.long), "prompt_mask": torch.ones(b, 2, dtype=torch.long),
              "completion_ids": torch.ones(b, tt, dtype=torch.long), "completion_mask": mask, "advantages": adv,
              "old_per_token_logps": old, "num_items_in_batch": torch.tensor(float(num_items))}
    if beta:
        inputs["ref_per_token_logps"] = ref
    return t._compute_loss(None, inputs), t._metrics["train"]


def _ours_kwargs(loss_type, num_items, max_len):
    kw = {"aggregation": TRL_LOSS_TYPES[loss_type]}
    if loss_type == "dapo":
        kw["token_sum_norm"] = float(num_items)
    if loss_type == "dr_grpo":
        kw["max_len"] = max_len
    return kw


@pytest.mark.parametrize("loss_type", sorted(TRL_LOSS_TYPES))
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("eps_high", [0.2, 0.28])
def test_loss_equals_trl(loss_type, beta, eps_high):
    logp0, old, ref, adv, mask, logits = _case()
    ent = token_entropy(logits)
    num_items, max_len = int(mask.sum()) + 5, 9  # dapo: a larger generation batch; dr_grpo: max_completion_length
    logp_trl = logp0.clone().requires_grad_(True)
    trl_loss, trl_m = _trl_loss(loss_type, beta, eps_high, logp_trl, old, ref, adv, mask, ent, num_items, max_len)
    trl_loss.backward()

    logp = logp0.clone().requires_grad_(True)
    ours, m = policy_loss(logp, old, adv, mask, eps_low=0.2, eps_high=eps_high, beta=beta,
                          ref_logp=ref if beta else None, **_ours_kwargs(loss_type, num_items, max_len))
    ours.backward()
    assert ours.item() == pytest.approx(trl_loss.item(), abs=1e-6)
    assert torch.allclose(logp.grad, logp_trl.grad, atol=1e-6, rtol=0)
    assert m["clip_frac"].item() == pytest.approx(trl_m["clip_ratio/region_mean"][-1], abs=1e-6)
    assert m["clip_frac_low"].item() == pytest.approx(trl_m["clip_ratio/low_mean"][-1], abs=1e-6)
    assert m["clip_frac_high"].item() == pytest.approx(trl_m["clip_ratio/high_mean"][-1], abs=1e-6)
    assert trl_m["clip_ratio/region_mean"][-1] > 0  # the case exercises clipping
    if beta:
        assert m["kl"].item() == pytest.approx(trl_m["kl"][-1], abs=1e-6)


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_micro_batches_equal_trl_gradient_accumulation(loss_type):
    """Two equal micro-batches, TRL with gradient_accumulation_steps = steps_per_generation = 2, vs ours with the
    global count (sequences for grpo/dr_grpo, tokens for dapo). TRL's "bnpo" divides each micro-batch's own
    token mean by the accumulation steps, which no global count reproduces; it is left out."""
    logp0, old, ref, adv, mask, logits = _case(seed=1, b=6)
    ent = token_entropy(logits)
    total_tokens, max_len = int(mask.sum()), 8
    norm = {"grpo": {"seq_sum_norm": 6.0}, "dr_grpo": {"seq_sum_norm": 6.0, "max_len": max_len},
            "dapo": {"token_sum_norm": float(total_tokens)}}[loss_type]
    for idx in (slice(0, 3), slice(3, 6)):
        trl_loss, _ = _trl_loss(loss_type, 0.04, 0.28, logp0[idx], old[idx], ref[idx], adv[idx], mask[idx], ent[idx],
                                total_tokens, max_len, gas=2, spg=2)
        ours, _ = policy_loss(logp0[idx], old[idx], adv[idx], mask[idx], eps_high=0.28, beta=0.04, ref_logp=ref[idx],
                              aggregation=TRL_LOSS_TYPES[loss_type], **norm)
        assert ours.item() == pytest.approx(trl_loss.item(), abs=1e-6)


# ---------------------------------------------------------------------------------------------- from logits
def test_logprobs_and_entropy_equal_trl_utils():
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 5, 17, generator=gen)
    labels = torch.randint(0, 17, (3, 5), generator=gen)
    for temp in (1.0, 0.6):
        assert torch.allclose(logprobs_from_logits(logits, labels, temp), selective_log_softmax(logits, labels, temp),
                              atol=1e-6, rtol=0)
    assert torch.allclose(token_entropy(logits), entropy_from_logits(logits), atol=1e-6, rtol=0)
