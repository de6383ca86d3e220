"""GRPO math: group-relative advantages, the clipped policy loss, log-probs and entropy from logits.

Conventions follow TRL 1.16 (`trl/trainer/grpo_trainer.py`); `tests/algos/test_grpo_vs_trl.py` runs TRL's
own `_generate_and_score_completions` and `_compute_loss` on the same tensors and checks equality:
- rewards are group-major: the G completions of prompt b are entries b*G .. b*G + G - 1;
- standard deviations are unbiased (Bessel's correction: torch's default, and TRL's `nanstd`);
- A = (r - group mean) / (std + eps), eps = 1e-4 (TRL's constant);
- per-token loss = -min(ratio * A, clip(ratio, 1 - eps_low, 1 + eps_high) * A) + beta * KL,
  ratio = exp(logp - old_logp).

Options are name registries (`ADV_SCALES`, `AGGREGATIONS`; KL estimators in `align.algos.kl`) whose
`register_*` decorators refuse a name twice, as verl's `register_adv_est` / `register_policy_loss` do.

Departures from TRL: groups whose valid rewards are all equal get advantage exactly 0 (TRL gets
(r - mean) / eps, which is 0 up to rounding); half-precision logits are upcast to float32 chunk by chunk in
`logprobs_from_logits` and `token_entropy` (TRL computes in bf16 and returns bf16).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from align.algos.kl import kl_penalty

# ---------------------------------------------------------------------------------------------- registries
AdvScale = Callable[[torch.Tensor, torch.Tensor], "torch.Tensor | None"]
ADV_SCALES: dict[str, AdvScale] = {}


@dataclass(frozen=True)
class Aggregation:
    """How per-token losses [B, T] become a scalar: numerator(x, mask, max_len) -> [] divided by a count of
    `unit` ("tokens": valid tokens; "seqs": sequences). Either count can be replaced by its global value."""

    numerator: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
    unit: str


AGGREGATIONS: dict[str, Aggregation] = {}



@dataclass(frozen=True)
class LossType:
    """A named policy-loss variant: how per-token losses are aggregated and at which level the ratio is taken
    ("token": per token, as PPO/GRPO; "sequence": one length-normalised ratio per sequence, as GSPO)."""

    aggregation: str
    ratio_level: str = "token"


LOSS_TYPES: dict[str, LossType] = {}


def register_loss_type(name: str, aggregation: str, ratio_level: str = "token") -> None:
    """Add a loss variant (the recipe's `grpo.loss_type`); a taken name is refused."""
    if name in LOSS_TYPES:
        raise ValueError(f"loss type {name!r} is already registered")
    if ratio_level not in ("token", "sequence"):
        raise ValueError(f"ratio_level must be 'token' or 'sequence', got {ratio_level!r}")
    LOSS_TYPES[name] = LossType(aggregation, ratio_level)

_UNIT_COUNT: dict[str, Callable[[torch.Tensor], torch.Tensor | float]] = {
    "tokens": lambda mask: mask.sum().clamp(min=1.0),
    "seqs": lambda mask: float(mask.shape[0]),
}


def _lookup(registry: dict, kind: str, name: str):
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; known: {sorted(registry)}")
    return registry[name]


def register_adv_scale(name: str) -> Callable[[AdvScale], AdvScale]:
    """Decorator adding fn(r [B, G], valid [B, G] bool) -> std broadcastable to [B, G], or None for no scaling."""
    def deco(fn: AdvScale) -> AdvScale:
        if name in ADV_SCALES:
            raise ValueError(f"advantage scale {name!r} is already registered")
        ADV_SCALES[name] = fn
        return fn
    return deco


def register_aggregation(name: str, unit: str):
    """Decorator adding numerator(x [B, T], mask [B, T], max_len) -> [] under `name`, divided by a count of `unit`."""
    if unit not in _UNIT_COUNT:
        raise ValueError(f"unit must be one of {sorted(_UNIT_COUNT)}, got {unit!r}")

    def deco(fn):
        if name in AGGREGATIONS:
            raise ValueError(f"aggregation {name!r} is already registered")
        AGGREGATIONS[name] = Aggregation(fn, unit)
        return fn
    return deco


# ---------------------------------------------------------------------------------------------- advantages
def masked_std(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Unbiased std of the valid entries of each row: x, valid [R, C] -> [R, 1]; 0 with fewer than 2 valid.

    Equals TRL's `nanstd(x_with_nan_for_invalid, dim=1)` where that is finite.
    """
    v = valid.to(x.dtype)
    n = v.sum(1, keepdim=True)
    mean = (x * v).sum(1, keepdim=True) / n.clamp(min=1)
    var = (((x - mean) * v) ** 2).sum(1, keepdim=True) / (n - 1).clamp(min=1)
    return var.sqrt()


@register_adv_scale("group")
def _scale_group(r: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-group std: [B, G] -> [B, 1]."""
    return masked_std(r, valid)


@register_adv_scale("batch")
def _scale_batch(r: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """One std over every valid reward of the batch (TRL `scale_rewards="batch"`): [B, G] -> [1, 1]."""
    return masked_std(r.reshape(1, -1), valid.reshape(1, -1))


@register_adv_scale("none")
def _scale_none(r: torch.Tensor, valid: torch.Tensor) -> None:
    """No scaling (Dr. GRPO): A = r - group mean."""
    return None


def _grouped(rewards: torch.Tensor, group_size: int, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """[B*G] or [B, G] rewards (and valid) -> float [B, G] with invalid entries zeroed, bool [B, G]."""
    if rewards.dim() == 2 and rewards.shape[1] != group_size:
        raise ValueError(f"rewards [B, G] has G={rewards.shape[1]} but group_size={group_size}")
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.reshape(-1, group_size).to(torch.promote_types(rewards.dtype, torch.float32))
    v = torch.ones_like(r, dtype=torch.bool) if valid is None else valid.reshape(r.shape).bool()
    return torch.where(v, r, torch.zeros_like(r)), v


def _flat_groups(r: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, G] -> [B] bool: the group has a valid reward and all its valid rewards are equal."""
    inf = torch.tensor(float("inf"), dtype=r.dtype, device=r.device)
    hi = torch.where(valid, r, -inf).amax(1)
    lo = torch.where(valid, r, inf).amin(1)
    return (hi == lo) & valid.any(1)


def informative_groups(rewards: torch.Tensor, group_size: int, valid: torch.Tensor | None = None) -> torch.Tensor:
    """DAPO's dynamic-sampling filter: which groups carry a learning signal. rewards: [B*G] group-major or
    [B, G]; valid: optional [B*G] bool. Returns [B] bool: True where the group's valid rewards are not all
    equal (a group of equal rewards gets advantage 0 everywhere: `group_advantages`)."""
    r, v = _grouped(rewards, group_size, valid)  # [B, G]
    return ~_flat_groups(r, v) & (v.sum(1) >= 2)


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = 1e-4,
                     valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Group-relative advantages A_i = (r_i - mean(group)) / (std + eps), as TRL 1.16 computes them.

    rewards: [N] group-major (N = B * G, the G completions of a prompt consecutive) or [B, G].
    group_size: G.
    scale: a name in ADV_SCALES: "group" (std of the group), "batch" (mean still per group, std over every
        reward of the batch: TRL `scale_rewards="batch"`), "none" (A = r - mean, no eps).
        std is unbiased (Bessel), as torch.std and TRL's `nanstd`.
    eps: added to the std (TRL: 1e-4).
    valid: optional [N] (or [B, G]) bool; invalid samples (e.g. unscorable: TRL's all-None rewards, which it
        turns into NaN) are left out of every mean and std and get advantage 0. Their reward value is ignored
        (may be NaN). Same result as TRL's nanmean/nanstd path.
    Groups whose valid rewards are all equal (zero variance, including a single valid sample) get A = 0 exactly;
    not an error.
    Returns (advantages [N] float, stats: groups, zero_variance_groups, zero_variance_frac (of groups), valid_frac).
    """
    r, v = _grouped(rewards, group_size, valid)  # [B, G]
    mean = r.sum(1, keepdim=True) / v.sum(1, keepdim=True).clamp(min=1)  # [B, 1]
    std = _lookup(ADV_SCALES, "advantage scale", scale)(r, v)
    adv = r - mean if std is None else (r - mean) / (std + eps)  # [B, G]
    flat = _flat_groups(r, v)  # [B]
    adv = torch.where(v & ~flat[:, None], adv, torch.zeros_like(adv))
    n_groups, n_flat = r.shape[0], int(flat.sum())
    stats = {"groups": n_groups, "zero_variance_groups": n_flat, "zero_variance_frac": n_flat / max(n_groups, 1),
             "valid_frac": float(v.float().mean()) if v.numel() else 0.0}
    return adv.reshape(-1), stats


# ---------------------------------------------------------------------------------------------- aggregation
@register_aggregation("token_mean", unit="tokens")
def _agg_token_mean(x: torch.Tensor, mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """Sum over all valid tokens / valid tokens (TRL "bnpo"; "dapo" with the global count; verl "token-mean")."""
    return (x * mask).sum()


@register_aggregation("seq_mean_token_mean", unit="seqs")
def _agg_seq_mean_token_mean(x: torch.Tensor, mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """Mean over sequences of per-sequence token means (GRPO paper; TRL "grpo")."""
    return ((x * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).sum()


@register_aggregation("seq_mean_token_sum", unit="seqs")
def _agg_seq_mean_token_sum(x: torch.Tensor, mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """Mean over sequences of per-sequence token sums (verl "seq-mean-token-sum")."""
    return (x * mask).sum()


@register_aggregation("seq_mean_token_sum_norm", unit="seqs")
def _agg_seq_mean_token_sum_norm(x: torch.Tensor, mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """Token sum / (sequences * max_len), max_len a constant (Dr. GRPO; TRL "dr_grpo")."""
    return (x * mask).sum() / max_len


# TRL 1.16 `GRPOConfig.loss_type` names, plus GSPO (TRL: loss_type="grpo", importance_sampling_level="sequence").
# The counts are always global (all micro-batches and ranks of the optimiser step), so the micro-batch losses sum
# to the full-batch loss. "dapo" and "bnpo" are then the same token mean over the step; TRL's "bnpo" divides each
# micro-batch's own token mean by the accumulation steps instead (equal on one micro-batch). "dr_grpo" divides by
# sequences x max_len, max_len = the recipe's max completion tokens (TRL's max_completion_length).
register_loss_type("grpo", "seq_mean_token_mean")  # DeepSeekMath: 1/G sum_i 1/|o_i| sum_t
register_loss_type("dapo", "token_mean")
register_loss_type("bnpo", "token_mean")
register_loss_type("dr_grpo", "seq_mean_token_sum_norm")
register_loss_type("gspo", "seq_mean_token_mean", ratio_level="sequence")
TRL_LOSS_TYPES: dict[str, str] = {n: LOSS_TYPES[n].aggregation for n in ("grpo", "bnpo", "dapo", "dr_grpo")}


def aggregate(x: torch.Tensor, mask: torch.Tensor, aggregation: str = "token_mean", *,
              token_sum_norm: float | None = None, seq_sum_norm: float | None = None,
              max_len: int | None = None) -> torch.Tensor:
    """Reduce per-token values to a scalar with a registered aggregation.

    x: [B, T]; mask: [B, T] (1 = counts).
    token_sum_norm: for aggregations counted in tokens, the global number of valid tokens (all micro-batches
        and ranks of the optimiser step, or of the generation batch for TRL "dapo"); default: this mask's count.
    seq_sum_norm: for aggregations counted in sequences, the global number of sequences; default: B.
        With the global count, the losses of the micro-batches sum exactly to the full-batch loss. Passing the
        count of the other unit is an error.
    max_len: the constant of "seq_mean_token_sum_norm" (default T).
    Returns a scalar.
    """
    agg = _lookup(AGGREGATIONS, "aggregation", aggregation)
    norms = {"tokens": token_sum_norm, "seqs": seq_sum_norm}
    for unit, value in norms.items():
        if unit != agg.unit and value is not None:
            raise ValueError(f"aggregation {aggregation!r} divides by a count of {agg.unit}, not {unit}")
    mask = mask.to(x.dtype)
    num = agg.numerator(x, mask, max_len or x.shape[-1])
    return num / (norms[agg.unit] if norms[agg.unit] is not None else _UNIT_COUNT[agg.unit](mask))


# ---------------------------------------------------------------------------------------------- policy loss
def clipped_objective(ratio: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float) -> torch.Tensor:
    """PPO surrogate per token: min(ratio * A, clip(ratio, 1 - eps_low, 1 + eps_high) * A).

    ratio: [B, T]; advantages: [B, 1] or [B, T]. Returns [B, T] (to be maximised).
    """
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    return torch.min(ratio * advantages, clipped * advantages)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x, mask [B, T] -> [] mean over the mask."""
    return (x.to(mask.dtype) * mask).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def _loss_metrics(ratio: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, kl: torch.Tensor | None,
                  eps_low: float, eps_high: float) -> dict[str, torch.Tensor]:
    """Token means over the mask. ratio, mask, kl: [B, T]; adv: [B, 1] or [B, T]."""
    low = (ratio < 1 - eps_low) & (adv < 0)  # TRL is_low_clipped
    high = (ratio > 1 + eps_high) & (adv > 0)  # TRL is_high_clipped
    out = {"clip_frac": _masked_mean(low | high, mask), "clip_frac_low": _masked_mean(low, mask),
           "clip_frac_high": _masked_mean(high, mask), "ratio_mean": _masked_mean(ratio, mask)}
    if kl is not None:
        out["kl"] = _masked_mean(kl, mask)
    return out


def sequence_log_ratio(logp: torch.Tensor, old_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GSPO's length-normalised sequence log-ratio: mean over the mask of (logp - old_logp). [B, T] -> [B, 1]."""
    return ((logp - old_logp) * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp(min=1.0)


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, *,
                eps_low: float = 0.2, eps_high: float = 0.2, beta: float = 0.0, ref_logp: torch.Tensor | None = None,
                kl: str = "k3", aggregation: str = "token_mean", token_sum_norm: float | None = None,
                seq_sum_norm: float | None = None, max_len: int | None = None, ratio_level: str = "token",
                is_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Clipped GRPO loss: aggregate(-w * min(ratio*A, clip(ratio, 1-eps_low, 1+eps_high)*A) + beta * KL).

    logp: [B, T] policy log-probs of the sampled tokens (with grad); old_logp: [B, T] at sampling time;
    ref_logp: [B, T] reference model (needed when beta != 0; without beta it only feeds the "kl" metric).
    old_logp and ref_logp are detached. advantages: [B] (one per sequence) or [B, T]. mask: [B, T], 1 on
    completion tokens. eps_high = 0.28 gives DAPO's clip-higher. kl: a name in KL_ESTIMATORS (k3: TRL/DeepSeekMath).
    aggregation, token_sum_norm, seq_sum_norm, max_len: see `aggregate`; LOSS_TYPES names TRL's loss types.
    ratio_level: "token" (ratio per token) or "sequence" (GSPO: one ratio per sequence, exp of the masked mean
        log-ratio, [B, 1], with the gradient flowing through every token; TRL `importance_sampling_level`).
    is_weights: optional rollout-correction weights pi_trainer / pi_rollout ([B, T] or [B, 1], detached;
        `align.algos.rollout_correction`), multiplying the policy term and not the KL term, as TRL does.
    Returns (loss [], metrics): detached 0-dim tensors, token means over the mask: clip_frac (TRL
    clip_ratio/region_mean: ratio < 1-eps_low with A < 0, or ratio > 1+eps_high with A > 0), clip_frac_low,
    clip_frac_high (TRL clip_ratio/low_mean, /high_mean), ratio_mean, and kl when ref_logp is given.
    """
    mask = mask.to(logp.dtype)
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages  # [B, 1] or [B, T]
    old = old_logp.detach()
    log_ratio = sequence_log_ratio(logp, old, mask) if ratio_level == "sequence" else logp - old  # [B, 1] | [B, T]
    if ratio_level not in ("token", "sequence"):
        raise ValueError(f"ratio_level must be 'token' or 'sequence', got {ratio_level!r}")
    ratio = torch.exp(log_ratio)
    per_token = -clipped_objective(ratio, adv, eps_low, eps_high)  # [B, T] or [B, 1]
    if is_weights is not None:
        per_token = per_token * is_weights.detach()
    per_token = per_token.expand_as(logp)  # [B, T]
    kl_tok = None if ref_logp is None else kl_penalty(logp, ref_logp.detach(), kl)  # [B, T]
    if beta != 0.0:
        if kl_tok is None:
            raise ValueError("beta != 0 needs ref_logp")
        per_token = per_token + beta * kl_tok
    loss = aggregate(per_token, mask, aggregation, token_sum_norm=token_sum_norm, seq_sum_norm=seq_sum_norm,
                     max_len=max_len)
    return loss, _loss_metrics(ratio.detach().expand_as(logp), adv, mask,
                               None if kl_tok is None else kl_tok.detach(), eps_low, eps_high)


# ---------------------------------------------------------------------------------------------- from logits
def logprobs_from_logits(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                         chunk_size: int = 1) -> torch.Tensor:
    """log softmax(logits / temperature) gathered at labels, `chunk_size` rows of B at a time.

    logits: [B, T, V]; labels: [B, T] valid token ids (mask padding afterwards). As TRL's
    `selective_log_softmax` (logit - logsumexp); the temperature division and, for fp16/bf16, an upcast to
    float32 happen per chunk, so no full-size copy of the logits is made. Returns [B, T] (float32 for half input).
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    out = []
    for lg, lb in zip(logits.split(chunk_size), labels.split(chunk_size)):
        lg = lg.float() if lg.dtype in (torch.float16, torch.bfloat16) else lg  # [b, T, V]
        lg = lg / temperature if temperature != 1.0 else lg
        out.append(lg.gather(-1, lb.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(lg, dim=-1))
    return torch.cat(out)


def token_entropy(logits: torch.Tensor, chunk_rows: int = 128) -> torch.Tensor:
    """Entropy (nats) of softmax(logits) per position, `chunk_rows` positions at a time (as TRL's
    `entropy_from_logits`; half precision upcast per chunk).

    logits: [B, T, V] (any leading shape). Returns [B, T].
    """
    flat = logits.reshape(-1, logits.shape[-1])  # [B*T, V]
    parts = []
    for chunk in flat.split(chunk_rows):
        logp = F.log_softmax(chunk.float() if chunk.dtype in (torch.float16, torch.bfloat16) else chunk, dim=-1)
        parts.append(-(logp.exp() * logp).sum(-1))
    return torch.cat(parts).reshape(logits.shape[:-1])
