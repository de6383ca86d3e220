"""align.algos.rollout_correction (and policy_loss with IS weights / GSPO) against TRL 1.16's GRPOTrainer.

What runs TRL's code (nothing transcribed):
- IS weights and their logged figures: the whole `GRPOTrainer._generate_and_score_completions` on a bare
  instance (`object.__new__(GRPOTrainer)` plus only the attributes that method reads) with use_vllm=True and
  vllm_importance_sampling_correction=True. `_generate` is stubbed to return fixed completion ids and fixed
  per-token sampling log-probs (what vLLM would return: ragged lists, `None` where vLLM had no log-prob), and
  `_get_per_token_logps_and_entropies` to return a fixed old_logp tensor; `_calculate_rewards` returns a fixed
  reward matrix, `accelerator` is a single-process stub and `gather_object` the identity. So TRL pads the
  sampling log-probs itself (with 0.0) and computes output["importance_sampling_ratio"] and the
  sampling/importance_sampling_ratio/* and sampling/sampling_logp_difference/* metrics.
- loss with IS weights and GSPO: `GRPOTrainer._compute_loss` on a bare instance whose
  `_get_per_token_logps_and_entropies` returns our log-prob tensor (a leaf with grad).

Metric definitions, ours (finish_stats) vs TRL's (single process):
- is/weight_{min,mean,max} == sampling/importance_sampling_ratio/{min,mean,max}: over the completion tokens for
  token modes, over all sequences (rows) for sequence modes, after truncation / masking (masked units count as 0).
  Across ranks TRL averages the per-rank means (mean of means); ours divides global sums, so they agree only on
  one process (or equal unit counts per rank) -- only the single-process case is compared.
- mismatch/{mean,max} == sampling/sampling_logp_difference/{mean,max}: |old_logp - rollout_logp| over the
  completion tokens. Both leave tokens whose sampling log-prob is NaN (vLLM `None`) out of these figures.
- No TRL counterpart: is/truncated_frac, is/masked_frac, mismatch/seq_kl_k1, mismatch/seq_kl_k3.
- GSPO clip fractions: TRL logs clip_ratio/* per sequence ([B, 1] ratio: mean over sequences); ours are token
  means over the mask (the sequence's ratio broadcast to its tokens). Only the loss and gradient are compared
  with TRL; our clip_frac is checked against the token-weighted count by hand.
"""
import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from align.algos.grpo import LOSS_TYPES, logprobs_from_logits, policy_loss
from align.algos.rollout_correction import finish_stats, is_weights, merge_stats, mismatch_stats

grpo_mod = pytest.importorskip("trl.trainer.grpo_trainer")
from test_grpo_vs_trl import _bare_trainer  # noqa: E402  (TRL's trainer on a bare instance)


L = math.log


def _stats(old, rollout, mask, mode, c_min, c_max):
    w, s = is_weights(old, rollout, mask, mode, c_min=c_min, c_max=c_max)
    return w, finish_stats(merge_stats([s, mismatch_stats(old, rollout, mask)]))


# ---------------------------------------------------------------------------------------------- hand-worked
# Two sequences, T = 3. diff = old_logp - rollout_logp:
#   row 0: [ln 2, ln 0.25, ln 5]        (all completion tokens)
#   row 1: [ln 0.8, ln 1.5, (pad)]      (mask [1, 1, 0]; the pad's rollout value is garbage and must not count)
# Token ratios: row 0 [2, 0.25, 5], row 1 [0.8, 1.5, 1 (pad: diff*mask = 0 -> exp 0)].
# Sequence ratios: exp(sum of masked diffs): row 0 2*0.25*5 = 2.5, row 1 0.8*1.5 = 1.2.
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def _hand_case(pad_rollout=-123.0):
    old = torch.tensor([[-1.0, -2.0, -0.5], [-0.7, -1.3, -4.0]])
    diff = torch.tensor([[L(2), L(0.25), L(5)], [L(0.8), L(1.5), 0.0]])
    rollout = old - diff
    rollout[1, 2] = pad_rollout
    return old, rollout


HAND = [
    # mode, c_min, c_max, weights of the 5 valid tokens / 2 sequences, changed count, mean, min, max
    # token_truncate, c_max 3: 5 -> 3.            sum 2+.25+3+.8+1.5 = 7.55, /5 = 1.51; 1 of 5 truncated
    ("token_truncate", None, 3.0, [2, 0.25, 3, 0.8, 1.5], 1, 1.51, 0.25, 3.0),
    # token_truncate, [0.5, 3]: .25 -> .5, 5 -> 3. sum 2+.5+3+.8+1.5 = 7.8, /5 = 1.56; 2 truncated
    ("token_truncate", 0.5, 3.0, [2, 0.5, 3, 0.8, 1.5], 2, 1.56, 0.5, 3.0),
    # token_mask, [0.5, 3]: .25 -> 0, 5 -> 0.       sum 2+0+0+.8+1.5 = 4.3, /5 = 0.86; 2 masked
    ("token_mask", 0.5, 3.0, [2, 0, 0, 0.8, 1.5], 2, 0.86, 0.0, 2.0),
    # token_mask, c_min None, c_max 3: 5 -> 0.      sum 2+.25+0+.8+1.5 = 4.55, /5 = 0.91; 1 masked
    ("token_mask", None, 3.0, [2, 0.25, 0, 0.8, 1.5], 1, 0.91, 0.0, 2.0),
    # sequence_truncate, c_max 2: [2.5, 1.2] -> [2, 1.2]; mean 1.6; 1 of 2 sequences truncated
    ("sequence_truncate", None, 2.0, [2, 1.2], 1, 1.6, 1.2, 2.0),
    # sequence_truncate, [1.5, 3]: 1.2 -> 1.5; mean (2.5+1.5)/2 = 2
    ("sequence_truncate", 1.5, 3.0, [2.5, 1.5], 1, 2.0, 1.5, 2.5),
    # sequence_mask, c_max 2: 2.5 -> 0; mean 0.6
    ("sequence_mask", None, 2.0, [0, 1.2], 1, 0.6, 0.0, 1.2),
    # sequence_mask, [1.5, 3]: 1.2 -> 0; mean 1.25
    ("sequence_mask", 1.5, 3.0, [2.5, 0], 1, 1.25, 0.0, 2.5),
    # sequence_mask, [0.5, 3]: nothing masked; mean (2.5+1.2)/2 = 1.85
    ("sequence_mask", 0.5, 3.0, [2.5, 1.2], 0, 1.85, 1.2, 2.5),
]


@pytest.mark.parametrize("mode,c_min,c_max,expected,changed,mean,wmin,wmax", HAND)
def test_is_weights_hand_worked(mode, c_min, c_max, expected, changed, mean, wmin, wmax):
    old, rollout = _hand_case()
    w, s = is_weights(old, rollout, MASK, mode, c_min=c_min, c_max=c_max)
    kind = "truncated" if mode.endswith("truncate") else "masked"
    if mode.startswith("token"):
        assert w.shape == (2, 3)
        assert torch.allclose(w[MASK.bool()], torch.tensor(expected), atol=1e-6, rtol=0)
        assert w[1, 2].item() == 1.0  # padding: diff zeroed -> exp(0); the loss masks it anyway
        units = 5
    else:
        assert w.shape == (2, 1)
        assert torch.allclose(w.squeeze(1), torch.tensor(expected), atol=1e-6, rtol=0)
        units = 2
    assert not w.requires_grad
    assert s["is_units"] == units and s[f"is_{kind}"] == changed
    f = finish_stats(s)
    assert f["is/weight_mean"] == pytest.approx(mean, abs=1e-6)
    assert f["is/weight_min"] == pytest.approx(wmin, abs=1e-6)
    assert f["is/weight_max"] == pytest.approx(wmax, abs=1e-6)
    assert f[f"is/{kind}_frac"] == pytest.approx(changed / units, abs=1e-12)
    # the padding's rollout value is ignored (weights and stats); also with a non-finite pad value
    for pad in (0.0, 55.0, -math.inf):
        w2, s2 = is_weights(*_hand_case(pad), MASK, mode, c_min=c_min, c_max=c_max)
        assert torch.equal(w2, w) and s2 == s


def test_mismatch_stats_hand_worked():
    old, rollout = _hand_case()
    f = finish_stats(mismatch_stats(old, rollout, MASK))
    # |diff| over the 5 valid tokens: ln 2 + ln 4 + ln 5 + ln 1.25 + ln 1.5 = ln 75; mean ln(75)/5, max ln 5
    assert f["mismatch/mean"] == pytest.approx(L(75) / 5, abs=1e-6)
    assert f["mismatch/max"] == pytest.approx(L(5), abs=1e-6)
    # k1 per sequence = sum_t (rollout - old) = -(ln 2.5 + ln 1.2) over 2 sequences = -ln(3) / 2
    assert f["mismatch/seq_kl_k1"] == pytest.approx(-L(3) / 2, abs=1e-6)
    # k3 = sum_t (r - ln r - 1), r = token ratio: row 0: (1 - ln 2) + (-.75 + ln 4) + (4 - ln 5) = 4.25 + ln .4;
    # row 1: (-.2 - ln .8) + (.5 - ln 1.5) = .3 - ln 1.2; mean over 2 sequences = (4.55 + ln(1/3)) / 2
    assert f["mismatch/seq_kl_k3"] == pytest.approx((4.55 + L(1 / 3)) / 2, abs=1e-6)
    for pad in (0.0, 55.0):
        assert finish_stats(mismatch_stats(*_hand_case(pad), MASK)) == f


def _random_case(seed=0, b=6, t=5, noise=0.8):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(b, t, generator=gen) * 3
    rollout = old + noise * torch.randn(b, t, generator=gen)
    lengths = torch.randint(1, t + 1, (b,), generator=gen)
    lengths[0] = t
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    rollout = torch.where(mask.bool(), rollout, torch.full_like(rollout, 9.0))  # garbage on padding
    return old, rollout, mask


@pytest.mark.parametrize("mode", ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"])
@pytest.mark.parametrize("c_min", [None, 0.5])
def test_merge_of_halves_equals_whole(mode, c_min):
    old, rollout, mask = _random_case(seed=3)
    c_max = 2.0
    _, whole = _stats(old, rollout, mask, mode, c_min, c_max)
    parts = []
    for idx in (slice(0, 2), slice(2, 6)):  # unequal halves: a mean of means would differ
        _, s = is_weights(old[idx], rollout[idx], mask[idx], mode, c_min=c_min, c_max=c_max)
        parts += [s, mismatch_stats(old[idx], rollout[idx], mask[idx])]
    merged = finish_stats(merge_stats(parts))
    kind = "truncated" if mode.endswith("truncate") else "masked"
    keys = {"is/weight_mean", "is/weight_min", "is/weight_max", f"is/{kind}_frac", "mismatch/mean", "mismatch/max",
            "mismatch/seq_kl_k1", "mismatch/seq_kl_k3"}
    assert set(whole) == set(merged) == keys
    for k in keys:
        assert merged[k] == pytest.approx(whole[k], abs=1e-6), k
    assert whole[f"is/{kind}_frac"] > 0  # the bounds act in this case


# ---------------------------------------------------------------------------------------------- vs TRL: weights
def _trl_is(old, sampling_lists, completion_lists, mode, c_min, c_max, monkeypatch):
    """Run TRL's _generate_and_score_completions with vLLM IS correction; returns (IS ratio, metrics)."""
    n, g = len(completion_lists), 2
    t = _bare_trainer(
        environment_factories=None, tools=None, environments=[], _tokenizer=SimpleNamespace(pad_token_id=0),
        pad_to_multiple_of=None, mask_truncated_completions=False, use_vllm=True, beta=0.0, num_iterations=1,
        vllm_importance_sampling_correction=True, vllm_importance_sampling_mode=mode,
        vllm_importance_sampling_clip_min=c_min, vllm_importance_sampling_clip_max=c_max,
        args=SimpleNamespace(per_device_train_batch_size=n, steps_per_generation=1, gradient_accumulation_steps=1,
                             gradient_checkpointing_kwargs=None),
        num_generations=g, num_generations_eval=g, scale_rewards="group",
        multi_objective_aggregation="sum_then_normalize", reward_weights=torch.tensor([1.0]),
        reward_func_names=["f0"], log_multimodal=False,
        _logs={"prompt": [], "completion": [], "rewards": defaultdict(list), "advantages": [],
               "extra": defaultdict(list), "images": []},
        _pending_extra_logs={}, _pending_metrics={},
    )
    # _generate -> (prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images)
    t._generate = lambda prompts: ([[1, 2]] * n, completion_lists, None, ["c"] * n, sampling_lists, {}, None, None)
    t._get_per_token_logps_and_entropies = lambda *a, **k: (old, None, None)
    t._calculate_rewards = lambda *a: torch.arange(n, dtype=torch.float32)[:, None]
    monkeypatch.setattr(grpo_mod, "gather_object", lambda x: x)
    out = t._generate_and_score_completions([{"prompt": "p"}] * n)
    assert torch.equal(out["completion_mask"], _mask_of(completion_lists, old.shape[1]))
    return out["importance_sampling_ratio"], t._metrics["train"]


def _mask_of(completion_lists, t):
    lengths = torch.tensor([len(c) for c in completion_lists])
    return (torch.arange(t)[None] < lengths[:, None]).long()


def _as_vllm(old, rollout, mask):
    """Our padded tensors -> what vLLM hands TRL: ragged token ids and ragged sampling log-prob lists."""
    lengths = mask.sum(1).tolist()
    completions = [[3 + (j % 4) for j in range(n)] for n in lengths]
    sampling = [rollout[i, :n].tolist() for i, n in enumerate(lengths)]
    return completions, sampling


TRL_CASES = [(mode, c_min, c_max) for mode in ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")
             for c_min, c_max in ((None, 3.0), (0.5, 2.0), (0.6, None))]


@pytest.mark.parametrize("mode,c_min,c_max", TRL_CASES)
def test_is_weights_and_metrics_equal_trl(mode, c_min, c_max, monkeypatch):
    seq = mode.startswith("sequence")
    # token ratios span 0.27 .. 5.7, sequence ratios 0.11 .. 126: every bound pair below acts
    old, rollout, mask = _random_case(seed=10, b=6, t=5, noise=0.8)
    completions, sampling = _as_vllm(old, rollout, mask)
    trl_w, trl_m = _trl_is(old, sampling, completions, mode, c_min, c_max, monkeypatch)

    ours, f = _stats(old, rollout, mask, mode, c_min, c_max)
    assert ours.shape == trl_w.shape == ((6, 1) if seq else (6, 5))
    assert torch.allclose(ours, trl_w, atol=1e-6, rtol=0)
    for ours_key, trl_key in (("is/weight_min", "sampling/importance_sampling_ratio/min"),
                              ("is/weight_mean", "sampling/importance_sampling_ratio/mean"),
                              ("is/weight_max", "sampling/importance_sampling_ratio/max"),
                              ("mismatch/mean", "sampling/sampling_logp_difference/mean"),
                              ("mismatch/max", "sampling/sampling_logp_difference/max")):
        assert f[ours_key] == pytest.approx(trl_m[trl_key][-1], abs=1e-6), ours_key
    kind = "truncated" if mode.endswith("truncate") else "masked"
    assert f[f"is/{kind}_frac"] > 0  # every case has units outside the bounds


def _nan_case():
    """vLLM hands back None for a token it could not score (TRL maps it to NaN); ours gets NaN straight from
    vLLM's float log-prob. Returns (old, rollout with a NaN, mask, TRL's completion ids, TRL's sampling lists)."""
    old, rollout, mask = _random_case(seed=7, b=4, t=5, noise=0.5)
    rollout[0, 1] = float("nan")
    completions, sampling = _as_vllm(old, rollout, mask)
    sampling[0][1] = None
    return old, rollout, mask, completions, sampling


@pytest.mark.parametrize("mode", ["token_truncate", "sequence_mask"])
def test_nan_sampling_logprob_weights_equal_trl(mode, monkeypatch):
    """TRL gives a NaN token a zero diff: weight 1 in token modes, no contribution to its sequence's sum."""
    old, rollout, mask, completions, sampling = _nan_case()
    trl_w, trl_m = _trl_is(old, sampling, completions, mode, None, 3.0, monkeypatch)
    ours, s = is_weights(old, rollout, mask, mode, c_max=3.0)
    assert torch.allclose(ours, trl_w, atol=1e-6, rtol=0)
    if mode == "token_truncate":
        assert ours[0, 1].item() == 1.0
    f = finish_stats(s)
    for k in ("min", "mean", "max"):
        assert f[f"is/weight_{k}"] == pytest.approx(trl_m[f"sampling/importance_sampling_ratio/{k}"][-1], abs=1e-6)


def test_nan_sampling_logprob_mismatch_equals_trl(monkeypatch):
    old, rollout, mask, completions, sampling = _nan_case()
    _, trl_m = _trl_is(old, sampling, completions, "token_truncate", None, 3.0, monkeypatch)
    f = finish_stats(mismatch_stats(old, rollout, mask))
    assert all(math.isfinite(v) for v in f.values()), f
    assert f["mismatch/mean"] == pytest.approx(trl_m["sampling/sampling_logp_difference/mean"][-1], abs=1e-6)
    assert f["mismatch/max"] == pytest.approx(trl_m["sampling/sampling_logp_difference/max"][-1], abs=1e-6)


# ---------------------------------------------------------------------------------------------- vs TRL: loss
def _loss_case(seed=0, b=4, t=6):
    gen = torch.Generator().manual_seed(seed)
    logp = -torch.rand(b, t, generator=gen) * 3
    old = logp + 0.3 * torch.randn(b, t, generator=gen)  # some token ratios outside [0.8, 1.2]
    ref = logp + 0.3 * torch.randn(b, t, generator=gen)
    rollout = old + 0.4 * torch.randn(b, t, generator=gen)
    adv = torch.randn(b, generator=gen)
    lengths = torch.randint(1, t + 1, (b,), generator=gen)
    lengths[0] = t
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    return logp, old, ref, rollout, adv, mask


def _trl_loss(loss_type, beta, eps_low, eps_high, logp, old, ref, adv, mask, num_items, max_len, *,
              is_ratio=None, level="token"):
    t = _bare_trainer(
        loss_type=loss_type, beta=beta, epsilon_low=eps_low, epsilon_high=eps_high, top_entropy_quantile=1.0,
        off_policy_mask_threshold=None, importance_sampling_level=level, use_vllm=is_ratio is not None,
        vllm_importance_sampling_correction=is_ratio is not None, current_gradient_accumulation_steps=1,
        max_completion_length=max_len, _entropy_bonus_enabled=False, aux_loss_enabled=False,
        args=SimpleNamespace(delta=None, use_bias_correction_kl=False, steps_per_generation=1),
    )
    t._get_per_token_logps_and_entropies = lambda *a, **k: (logp, torch.zeros_like(old), None)
    b, tt = mask.shape
    inputs = {"prompt_ids": torch.ones(b, 2, dtype=torch.long), "prompt_mask": torch.ones(b, 2, dtype=torch.long),
              "completion_ids": torch.ones(b, tt, dtype=torch.long), "completion_mask": mask, "advantages": adv,
              "old_per_token_logps": old, "num_items_in_batch": torch.tensor(float(num_items))}
    if beta:
        inputs["ref_per_token_logps"] = ref
    if is_ratio is not None:
        inputs["importance_sampling_ratio"] = is_ratio
    return t._compute_loss(None, inputs), t._metrics["train"]


def _ours_kwargs(loss_type, num_items, max_len):
    kw = {"aggregation": LOSS_TYPES[loss_type].aggregation, "ratio_level": LOSS_TYPES[loss_type].ratio_level}
    if loss_type == "dapo":
        kw["token_sum_norm"] = float(num_items)
    if loss_type == "dr_grpo":
        kw["max_len"] = max_len
    return kw


def _both(loss_type, trl_loss_type, level, beta, eps_low, eps_high, logp0, old, ref, adv, mask, w, num_items, max_len):
    logp_trl = logp0.clone().requires_grad_(True)
    trl_loss, trl_m = _trl_loss(trl_loss_type, beta, eps_low, eps_high, logp_trl, old, ref, adv, mask, num_items,
                                max_len, is_ratio=w, level=level)
    trl_loss.backward()
    logp = logp0.clone().requires_grad_(True)
    ours, m = policy_loss(logp, old, adv, mask, eps_low=eps_low, eps_high=eps_high, beta=beta,
                          ref_logp=ref if beta else None, is_weights=w, **_ours_kwargs(loss_type, num_items, max_len))
    ours.backward()
    assert ours.item() == pytest.approx(trl_loss.item(), abs=1e-6)
    assert torch.allclose(logp.grad, logp_trl.grad, atol=1e-6, rtol=0)
    return m, trl_m, logp.grad


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo", "bnpo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("mode", ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"])
def test_loss_with_is_weights_equals_trl(loss_type, beta, mode):
    logp0, old, ref, rollout, adv, mask = _loss_case(seed=2)
    w, s = is_weights(old, rollout, mask, mode, c_min=0.5, c_max=1.5)
    assert s.get("is_truncated", 0) + s.get("is_masked", 0) > 0  # the bounds act
    num_items, max_len = int(mask.sum()) + 5, 9
    m, trl_m, grad = _both(loss_type, loss_type, "token", beta, 0.2, 0.28, logp0, old, ref, adv, mask, w, num_items,
                           max_len)
    assert m["clip_frac"].item() == pytest.approx(trl_m["clip_ratio/region_mean"][-1], abs=1e-6)
    if mode == "token_mask" and beta == 0.0:  # masked tokens leave the loss: no gradient through them
        assert (grad[(w == 0) & mask.bool()] == 0).all()


# ---------------------------------------------------------------------------------------------- vs TRL: GSPO
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("eps_low,eps_high", [(3e-4, 4e-4), (0.2, 0.2)])
@pytest.mark.parametrize("is_mode", [None, "sequence_truncate"])
def test_gspo_equals_trl(beta, eps_low, eps_high, is_mode):
    logp0, _, ref, _, _, mask = _loss_case(seed=4)
    mask = mask.clone()
    mask[3, :3] = 1  # lengths 6, 5, 5, 3: a one-token sequence would not tell sequence from token ratios
    gen = torch.Generator().manual_seed(11)
    # per-sequence shift of old_logp: sequence ratio = exp(mean(logp - old)) ~ exp(-shift) = 1.65, 0.74, 1.05, 1.02;
    # token ratios scatter around it (noise 0.05), so token-level ratios would give another loss and gradient
    shift = torch.tensor([-0.5, 0.3, -0.05, -0.02])[:, None]
    old = logp0 + shift + 0.05 * torch.randn(logp0.shape, generator=gen)
    # seq 0 high-clipped, seq 1 low-clipped (both eps); seqs 2 and 3 have ratio > 1 and A < 0: never clipped
    adv = torch.tensor([1.0, -0.7, -0.4, -1.2])
    w = None
    if is_mode:
        rollout = old + 0.1 * torch.randn(old.shape, generator=gen)
        w, _ = is_weights(old, rollout, mask, is_mode, c_max=1.1)
    m, trl_m, _ = _both("gspo", "grpo", "sequence", beta, eps_low, eps_high, logp0, old, ref, adv, mask, w, 0, 9)
    # clipping happens: TRL's per-sequence clip fraction and ours (token-weighted) are both > 0
    ratio = torch.exp(((logp0 - old) * mask).sum(-1) / mask.sum(-1))  # [B]
    clipped = ((ratio > 1 + eps_high) & (adv > 0)) | ((ratio < 1 - eps_low) & (adv < 0))
    assert clipped.any() and not clipped.all()
    assert trl_m["clip_ratio/region_mean"][-1] == pytest.approx(clipped.float().mean().item(), abs=1e-6)
    token_weighted = (mask.sum(-1) * clipped).sum() / mask.sum()
    assert m["clip_frac"].item() == pytest.approx(token_weighted.item(), abs=1e-6) and m["clip_frac"] > 0


# ---------------------------------------------------------------------------------------------- several updates
def test_clipping_acts_only_from_the_second_update():
    """A linear policy over 7 tokens, two SGD steps on the same batch with old_logp fixed before the first:
    the first update sees ratio == 1 exactly (nothing to clip), the second sees moved ratios and clips.
    So clipping (and clip_frac) matters only with updates_per_batch >= 2 (or stale rollouts)."""
    torch.manual_seed(0)
    b, t, d, vocab = 4, 5, 6, 7
    model = torch.nn.Linear(d, vocab)
    opt = torch.optim.SGD(model.parameters(), lr=3.0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(b, t, d, generator=gen)
    labels = torch.randint(0, vocab, (b, t), generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 0, 0, 0, 0]])
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    old = logprobs_from_logits(model(x), labels).detach()

    metrics, losses = [], []
    for _ in range(2):
        logp = logprobs_from_logits(model(x), labels)
        loss, m = policy_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.2, **_ours_kwargs("grpo", 0, t))
        metrics.append(m)
        losses.append((logp.detach(), loss.item()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    first, second = metrics
    assert first["clip_frac"].item() == 0.0 and first["ratio_mean"].item() == 1.0
    assert second["ratio_mean"].item() != pytest.approx(1.0, abs=1e-3)
    assert second["clip_frac"].item() > 0
    # TRL's _compute_loss on the second update's log-probs gives the same loss and clip fraction
    logp2, loss2 = losses[1]
    trl_loss, trl_m = _trl_loss("grpo", 0.0, 0.2, 0.2, logp2, old, None, adv, mask, 0, t)
    assert loss2 == pytest.approx(trl_loss.item(), abs=1e-6)
    assert second["clip_frac"].item() == pytest.approx(trl_m["clip_ratio/region_mean"][-1], abs=1e-6)


def test_per_sequence_k3_stays_non_negative_for_tiny_mismatches():
    """fp32 rollouts differ from the trainer by ~1e-6 nats: k3 = exp(d) - d - 1 ~ d^2 / 2 must not round to a
    negative number (it did in float32: -3e-8 on the built-in model)."""
    old = torch.full((2, 3), -1.0)
    rollout = old - torch.tensor([[1e-5, -2e-5, 3e-6], [1e-6, 1e-6, 0.0]])
    f = finish_stats(mismatch_stats(old, rollout, torch.ones(2, 3)))
    want = sum(x * x / 2 for x in (1e-5, 2e-5, 3e-6, 1e-6, 1e-6)) / 2
    assert f["mismatch/seq_kl_k3"] == pytest.approx(want, rel=1e-3) and f["mismatch/seq_kl_k3"] > 0
