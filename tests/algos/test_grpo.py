"""Hand-worked checks of align.algos.grpo and align.algos.kl (the TRL comparison is in test_grpo_vs_trl.py)."""
import math
import statistics

import pytest
import torch

from align.algos.grpo import (ADV_SCALES, AGGREGATIONS, aggregate, group_advantages, logprobs_from_logits,
                              policy_loss, register_adv_scale, register_aggregation, token_entropy)
from align.algos.kl import KL_ESTIMATORS, kl_in_reward, kl_penalty, register_kl_estimator

F64 = torch.float64


# ---------------------------------------------------------------------------------------------- advantages
def test_group_scale_hand_worked():
    # [1, 0, 0, 1]: mean 0.5; unbiased var = 4 * 0.25 / 3 = 1/3, std = 0.577350
    # eps 1e-4: A = +-0.5 / 0.577450 = +-0.865876; eps 0: +-0.866025
    r = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=F64)
    adv, stats = group_advantages(r, 4)
    assert adv.tolist() == pytest.approx([0.865876, -0.865876, -0.865876, 0.865876], abs=1e-6)
    adv0, _ = group_advantages(r, 4, eps=0.0)
    assert adv0.tolist() == pytest.approx([0.866025, -0.866025, -0.866025, 0.866025], abs=1e-6)
    assert stats == {"groups": 1, "zero_variance_groups": 0, "zero_variance_frac": 0.0, "valid_frac": 1.0}
    # [B, G] input gives the same flat [N] result
    adv2, _ = group_advantages(r.reshape(1, 4), 4)
    assert torch.equal(adv2, adv)


def test_batch_and_none_scale_and_zero_variance_hand_worked():
    # groups [1, 0, 0, 1] (mean 0.5) and [2, 2, 2, 2] (mean 2, zero variance).
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]], dtype=F64)
    # batch: all 8 values, mean 10/8 = 1.25; squared deviations .0625 + 1.5625 + 1.5625 + .0625 + 4 * .5625 = 5.5
    # unbiased var 5.5 / 7 = 0.785714, std 0.886405 -> A = +-0.5 / 0.886405 = +-0.564076 (eps 0), zeros for group 2
    adv, stats = group_advantages(r, 4, scale="batch", eps=0.0)
    assert adv.tolist() == pytest.approx([0.564076, -0.564076, -0.564076, 0.564076, 0, 0, 0, 0], abs=1e-6)
    assert stats["zero_variance_groups"] == 1 and stats["zero_variance_frac"] == 0.5
    # none: A = r - group mean
    adv, _ = group_advantages(r, 4, scale="none")
    assert adv.tolist() == [0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    # group: the zero-variance group gives exact zeros, not NaN or 0/eps noise
    adv, stats = group_advantages(r.reshape(-1), 4)
    assert adv[4:].tolist() == [0.0] * 4 and stats["zero_variance_groups"] == 1


def test_zero_variance_with_rounding_is_exactly_zero():
    # seven copies of 0.7 in float32: sum / 7 != 0.7 by 6e-8, and the naive (r - mean) / (std + 1e-4) is ~6e-4,
    # not 0 (TRL's result); we return exact zeros for groups whose rewards are all equal.
    r = torch.full((14,), 0.7)
    naive = (r[:7] - r[:7].sum() / 7) / (r[:7].std() + 1e-4)
    assert naive.abs().max().item() > 1e-4
    adv, stats = group_advantages(r, 7)
    assert adv.tolist() == [0.0] * 14 and stats["zero_variance_groups"] == 2 and stats["zero_variance_frac"] == 1.0


def test_valid_mask_hand_worked():
    # group [1, 0, x, 1] with x invalid (NaN): valid 1, 0, 1 -> mean 2/3; deviations 1/3, -2/3, 1/3
    # unbiased var (1/9 + 4/9 + 1/9) / 2 = 1/3, std 0.577350 -> A = 0.577350, -1.154701, 0 (invalid), 0.577350
    r = torch.tensor([1.0, 0.0, float("nan"), 1.0, 5.0, float("nan"), float("nan"), float("nan")], dtype=F64)
    valid = torch.tensor([1, 1, 0, 1, 1, 0, 0, 0], dtype=torch.bool)
    adv, stats = group_advantages(r, 4, eps=0.0, valid=valid)
    assert adv[:4].tolist() == pytest.approx([0.577350, -1.154701, 0.0, 0.577350], abs=1e-6)
    # second group: one valid sample -> zero variance, A = 0 (no NaN anywhere)
    assert adv[4:].tolist() == [0.0] * 4
    assert stats["zero_variance_groups"] == 1 and stats["valid_frac"] == pytest.approx(4 / 8)
    # an invalid sample's value does not matter
    r2 = r.clone()
    r2[2] = 1e9
    assert torch.equal(group_advantages(r2, 4, eps=0.0, valid=valid)[0], adv)
    # a fully invalid group: zeros, not counted as zero-variance
    adv3, stats3 = group_advantages(torch.tensor([1.0, 2.0]), 2, valid=torch.tensor([False, False]))
    assert adv3.tolist() == [0.0, 0.0] and stats3["zero_variance_groups"] == 0


def _loop_advantages(rewards, valid, g, scale, eps):
    """Plain Python reference: per group, statistics.mean / statistics.stdev (unbiased)."""
    vals = [r for r, v in zip(rewards, valid) if v]
    batch_std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    out = []
    for s in range(0, len(rewards), g):
        grp = [r for r, v in zip(rewards[s:s + g], valid[s:s + g]) if v]
        mean = statistics.mean(grp) if grp else 0.0
        std = {"group": statistics.stdev(grp) if len(grp) > 1 else 0.0, "batch": batch_std, "none": None}[scale]
        flat = len(set(grp)) <= 1
        for r, v in zip(rewards[s:s + g], valid[s:s + g]):
            a = 0.0 if (not v or flat) else (r - mean if std is None else (r - mean) / (std + eps))
            out.append(a)
    return out


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_loop_vs_vectorised(scale):
    gen = torch.Generator().manual_seed(0)
    b, g = 7, 5
    r = torch.randint(0, 3, (b * g,), generator=gen).to(F64)  # small integer rewards: ties, some flat groups
    r[:g] = 1.0  # force one zero-variance group
    valid = torch.rand(b * g, generator=gen) > 0.2
    adv, stats = group_advantages(r, g, scale=scale, valid=valid)
    ref = _loop_advantages(r.tolist(), valid.tolist(), g, scale, 1e-4)
    assert adv.tolist() == pytest.approx(ref, abs=1e-12)
    rl, vl = r.tolist(), valid.tolist()
    flat = [len({x for x, v in zip(rl[s:s + g], vl[s:s + g]) if v}) == 1 for s in range(0, b * g, g)]
    assert stats["zero_variance_groups"] == sum(flat) >= 1


def test_advantage_input_errors():
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(torch.zeros(4), 3)
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="unknown advantage scale"):
        group_advantages(torch.zeros(4), 2, scale="rloo")


# ---------------------------------------------------------------------------------------------- KL
def test_kl_estimators_hand_worked():
    logp = torch.tensor([[-1.0, -2.0, -1.5]], dtype=F64)
    ref = torch.tensor([[-2.0, -1.0, -1.5]], dtype=F64)
    # token 0: d = ref - logp = -1 -> k1 = 1, k2 = 0.5, k3 = e^-1 + 1 - 1 = 0.367879
    # token 1: d = +1 -> k1 = -1, k2 = 0.5, k3 = e - 1 - 1 = 0.718282; token 2: d = 0 -> all 0
    assert kl_penalty(logp, ref, "k1").tolist() == [[1.0, -1.0, 0.0]]
    assert kl_penalty(logp, ref, "k2").tolist() == [[0.5, 0.5, 0.0]]
    assert kl_penalty(logp, ref, "k3")[0].tolist() == pytest.approx([0.367879, 0.718282, 0.0], abs=1e-6)
    assert set(KL_ESTIMATORS) >= {"k1", "k2", "k3"}
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_penalty(logp, ref, "k4")


def test_kl_in_reward_hand_worked():
    logp = torch.tensor([[-1.0, -2.0], [-1.0, -2.0]], dtype=F64)
    ref = torch.tensor([[-2.0, -1.0], [-2.0, -1.0]], dtype=F64)
    mask = torch.tensor([[1, 1], [1, 0]])
    # row 0: 1 - 0.1 * (0.367879 + 0.718282) = 0.891384; row 1 (second token masked): 2 - 0.1 * 0.367879 = 1.963212
    out = kl_in_reward(torch.tensor([1.0, 2.0], dtype=F64), logp, ref, mask, beta=0.1)
    assert out.tolist() == pytest.approx([0.891384, 1.963212], abs=1e-6)
    # k1: row 0 sums 1 - 1 = 0 -> unchanged; row 1: 2 - 0.1 * 1 = 1.9
    out_k1 = kl_in_reward(torch.tensor([1.0, 2.0], dtype=F64), logp, ref, mask, 0.1, "k1")
    assert out_k1.tolist() == pytest.approx([1.0, 1.9])


# ---------------------------------------------------------------------------------------------- policy loss
def _ratios_case():
    # ratios [1.5, 0.5, 1.0] for both sequences; A = +1 for sequence 0, -1 for sequence 1
    old = torch.zeros(2, 3, dtype=F64)
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.0]] * 2, dtype=F64)).requires_grad_(True)
    return logp, old, torch.tensor([1.0, -1.0], dtype=F64), torch.ones(2, 3, dtype=F64)


def test_clipped_loss_hand_worked():
    logp, old, adv, mask = _ratios_case()
    # eps 0.2, clip range [0.8, 1.2]
    # A=+1: min(1.5, 1.2)=1.2 (high clip), min(0.5, 0.8)=0.5, 1.0 -> objective sum 2.7, seq mean 0.9
    # A=-1: min(-1.5, -1.2)=-1.5, min(-0.5, -0.8)=-0.8 (low clip), -1.0 -> sum -3.3, seq mean -1.1
    loss, m = policy_loss(logp[:1], old[:1], adv[:1], mask[:1])
    assert loss.item() == pytest.approx(-0.9)
    loss, m = policy_loss(logp[1:], old[1:], adv[1:], mask[1:])
    assert loss.item() == pytest.approx(1.1)
    # both: token_mean = -(2.7 - 3.3) / 6 = 0.1
    loss, m = policy_loss(logp, old, adv, mask)
    assert loss.item() == pytest.approx(0.1)
    # one high-clipped token (seq 0, t 0) and one low-clipped (seq 1, t 1) out of 6
    assert m["clip_frac"].item() == pytest.approx(2 / 6)
    assert m["clip_frac_high"].item() == pytest.approx(1 / 6) and m["clip_frac_low"].item() == pytest.approx(1 / 6)
    assert m["ratio_mean"].item() == pytest.approx(1.0) and "kl" not in m
    # gradient: clipped tokens get 0; others d(-ratio*A/6)/dlogp = -A * ratio / 6
    loss.backward()
    assert logp.grad.flatten().tolist() == pytest.approx([0.0, -0.5 / 6, -1 / 6, 1.5 / 6, 0.0, 1 / 6])


def test_clip_higher_dapo():
    logp, old, adv, mask = _ratios_case()
    # eps_high 0.28: A=+1 token 0 -> min(1.5, 1.28) = 1.28; sum 2.78 -> seq 0 loss -2.78 / 3
    loss, _ = policy_loss(logp[:1], old[:1], adv[:1], mask[:1], eps_high=0.28)
    assert loss.item() == pytest.approx(-2.78 / 3)


def test_kl_term_in_loss_hand_worked():
    # ratio 1 everywhere (logp = old), A = 0 -> surrogate 0; loss = beta * mean k3
    logp = torch.tensor([[-1.0, -2.0]], dtype=F64)
    ref = torch.tensor([[-2.0, -1.0]], dtype=F64)
    loss, m = policy_loss(logp, logp, torch.zeros(1, dtype=F64), torch.ones(1, 2), beta=0.1, ref_logp=ref)
    # 0.1 * (0.367879 + 0.718282) / 2 = 0.054308
    assert loss.item() == pytest.approx(0.054308, abs=1e-6)
    assert m["kl"].item() == pytest.approx(0.543081, abs=1e-6)
    loss_k1, _ = policy_loss(logp, logp, torch.zeros(1, dtype=F64), torch.ones(1, 2), beta=0.1, ref_logp=ref, kl="k1")
    assert loss_k1.item() == pytest.approx(0.0)  # k1 = +1 and -1
    # beta 0 with ref_logp: KL only reported
    loss0, m0 = policy_loss(logp, logp, torch.zeros(1, dtype=F64), torch.ones(1, 2), ref_logp=ref)
    assert loss0.item() == 0.0 and m0["kl"].item() == pytest.approx(0.543081, abs=1e-6)
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), beta=0.1)


def test_aggregations_hand_worked():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]], dtype=F64)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert aggregate(x, mask, "token_mean").item() == pytest.approx(10 / 4)  # (1+2+3+4) / 4 tokens
    assert aggregate(x, mask, "seq_mean_token_mean").item() == pytest.approx(3.0)  # (6/3 + 4/1) / 2
    assert aggregate(x, mask, "seq_mean_token_sum").item() == pytest.approx(5.0)  # (6 + 4) / 2
    assert aggregate(x, mask, "seq_mean_token_sum_norm").item() == pytest.approx(10 / 6)  # 10 / (2 * T=3)
    assert aggregate(x, mask, "seq_mean_token_sum_norm", max_len=4).item() == pytest.approx(10 / 8)
    assert aggregate(x, mask, "token_mean", token_sum_norm=8.0).item() == pytest.approx(10 / 8)
    assert aggregate(x, mask, "seq_mean_token_mean", seq_sum_norm=4.0).item() == pytest.approx(6 / 4)
    with pytest.raises(ValueError, match="count of seqs"):
        aggregate(x, mask, "seq_mean_token_mean", token_sum_norm=8.0)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(x, mask, "sum")
    # through policy_loss: per-token loss -A at ratio 1, A = [-1, -2] -> x = [[1, 1, 1], [2, 2, 2]]
    z = torch.zeros(2, 3, dtype=F64)
    adv = torch.tensor([-1.0, -2.0], dtype=F64)
    assert policy_loss(z, z, adv, mask, aggregation="token_mean")[0].item() == pytest.approx(5 / 4)
    assert policy_loss(z, z, adv, mask, aggregation="seq_mean_token_mean")[0].item() == pytest.approx(1.5)


def test_registries_refuse_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register_adv_scale("group")(lambda r, v: None)
    with pytest.raises(ValueError, match="already registered"):
        register_aggregation("token_mean", unit="tokens")(lambda x, m, n: x.sum())
    with pytest.raises(ValueError, match="already registered"):
        register_kl_estimator("k3")(lambda a, b: a - b)
    with pytest.raises(ValueError, match="unit"):
        register_aggregation("new_one", unit="bytes")
    assert set(ADV_SCALES) == {"group", "batch", "none"} and "new_one" not in AGGREGATIONS


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
def test_micro_batches_with_global_norm_sum_to_full_batch(aggregation):
    gen = torch.Generator().manual_seed(1)
    b, t = 6, 7
    logp0 = -torch.rand(b, t, generator=gen, dtype=F64) * 3
    old = logp0 + 0.3 * torch.randn(b, t, generator=gen, dtype=F64)
    ref = logp0 + 0.3 * torch.randn(b, t, generator=gen, dtype=F64)
    adv = torch.randn(b, generator=gen, dtype=F64)
    lengths = torch.tensor([7, 3, 5, 1, 6, 2])
    mask = (torch.arange(t)[None] < lengths[:, None]).to(F64)  # ragged: micro-batches have unequal token counts
    kw = dict(beta=0.04, ref_logp=ref, aggregation=aggregation, eps_high=0.28)
    unit = AGGREGATIONS[aggregation].unit
    norm = {"tokens": {"token_sum_norm": float(mask.sum())}, "seqs": {"seq_sum_norm": float(b)}}[unit]

    full_logp = logp0.clone().requires_grad_(True)
    full, _ = policy_loss(full_logp, old, adv, mask, **kw)
    full.backward()
    mb_logp = logp0.clone().requires_grad_(True)
    total = 0.0
    for idx in (slice(0, 2), slice(2, 5), slice(5, 6)):
        part, _ = policy_loss(mb_logp[idx], old[idx], adv[idx], mask[idx], ref_logp=ref[idx], beta=0.04,
                              aggregation=aggregation, eps_high=0.28, **norm)
        part.backward()
        total = total + part.item()
    assert total == pytest.approx(full.item(), abs=1e-12)
    assert torch.allclose(mb_logp.grad, full_logp.grad, atol=1e-12)
    # without the global count, token_mean over micro-batches is NOT the full-batch loss (ragged lengths)
    if unit == "tokens":
        naive = sum(policy_loss(logp0[i], old[i], adv[i], mask[i], **{**kw, "ref_logp": ref[i]})[0].item()
                    for i in (slice(0, 2), slice(2, 5), slice(5, 6)))
        assert abs(naive - full.item()) > 1e-3


def test_advantages_2d_per_token():
    # advantages [B, T] broadcast as TRL allows: same as [B] when constant over T
    logp, old, adv, mask = _ratios_case()
    a1, _ = policy_loss(logp, old, adv, mask)
    a2, _ = policy_loss(logp, old, adv[:, None].expand(2, 3), mask)
    assert a1.item() == pytest.approx(a2.item())


# ---------------------------------------------------------------------------------------------- from logits
def test_logprobs_from_logits():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 4, 11, generator=gen)
    labels = torch.randint(0, 11, (3, 4), generator=gen)
    for temp in (1.0, 0.7):
        ref = torch.log_softmax(logits / temp, -1).gather(-1, labels[..., None]).squeeze(-1)
        for chunk in (1, 2, 5):
            assert torch.allclose(logprobs_from_logits(logits, labels, temp, chunk_size=chunk), ref, atol=1e-6)
    # hand: uniform over 4 -> log(1/4)
    assert logprobs_from_logits(torch.zeros(1, 1, 4), torch.tensor([[2]])).item() == pytest.approx(-math.log(4))
    # bf16 logits are upcast per chunk; result float32
    out = logprobs_from_logits(logits.bfloat16(), labels)
    assert out.dtype == torch.float32
    ref_bf = torch.log_softmax(logits.bfloat16().float(), -1).gather(-1, labels[..., None]).squeeze(-1)
    assert torch.allclose(out, ref_bf, atol=1e-6)
    with pytest.raises(ValueError):
        logprobs_from_logits(logits, labels, temperature=0.0)


def test_token_entropy():
    # uniform over V -> log V; one-hot-ish -> ~0
    logits = torch.zeros(2, 3, 8)
    logits[1, 2] = torch.tensor([50.0] + [0.0] * 7)
    h = token_entropy(logits, chunk_rows=4)
    assert h.shape == (2, 3)
    assert h[0].tolist() == pytest.approx([math.log(8)] * 3, abs=1e-6)
    assert h[1, 2].item() == pytest.approx(0.0, abs=1e-6)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 5, 9, generator=gen)
    p = x.softmax(-1)
    assert torch.allclose(token_entropy(x, chunk_rows=3), -(p * p.log()).sum(-1), atol=1e-6)
