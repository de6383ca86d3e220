"""Rollout correction: importance weights between the trainer's policy and the rollout engine's.

vLLM samples a completion from pi_rollout (its kernels, its precision, its copy of the weights); the
gradient is taken under pi_trainer. Even with the same weights the two differ a little (and much more in
bf16, or for MoE models whose routes differ), so the policy-gradient term is reweighted by

    w = pi_trainer(token) / pi_rollout(token) = exp(old_logp - rollout_logp)

per token, or per sequence as exp(sum_t (old_logp - rollout_logp)) (one weight for all its tokens), and the
weight is bounded (Yao et al. 2025, "Your efficient RL framework secretly brings you off-policy RL training";
verl `docs/algo/rollout_corr.md`; TRL 1.16 `vllm_importance_sampling_mode`):
  *_truncate (TIS): w <- clamp(w, c_min, c_max);
  *_mask (MIS):     w <- 0 where w < c_min or w > c_max, else w (the unit leaves the loss).
`old_logp` is the trainer's log-prob at sampling time (the old policy), temperature-scaled as vLLM's
processed log-probs are. The modes are a name registry (`IS_MODES`, `register_is_mode` refuses a name twice).

Shapes: old_logp, rollout_logp, mask [B, T] (mask 1 on completion tokens); weights [B, T] (token modes) or
[B, 1] (sequence modes). Same formulas as TRL 1.16 `GRPOTrainer._generate_and_score_completions`
(`tests/algos/test_rollout_correction_vs_trl.py` runs TRL's code on the same tensors).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class ISMode:
    level: str  # "token" | "sequence"
    bound: Callable[[torch.Tensor, float | None, float | None], tuple[torch.Tensor, torch.Tensor]]


IS_MODES: dict[str, ISMode] = {}


def register_is_mode(name: str, level: str):
    """Decorator adding bound(w, c_min, c_max) -> (bounded w, bool tensor of changed units) under `name`."""
    if level not in ("token", "sequence"):
        raise ValueError(f"level must be 'token' or 'sequence', got {level!r}")

    def deco(fn):
        if name in IS_MODES:
            raise ValueError(f"importance-sampling mode {name!r} is already registered")
        IS_MODES[name] = ISMode(level, fn)
        return fn
    return deco


def _truncate(w: torch.Tensor, c_min: float | None, c_max: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """TIS: clamp to [c_min, c_max]; returns (w', changed)."""
    out = torch.clamp(w, min=c_min, max=c_max)
    return out, out != w


def _mask(w: torch.Tensor, c_min: float | None, c_max: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """MIS: zero outside [c_min, c_max]; returns (w', masked)."""
    lo = -math.inf if c_min is None else c_min
    hi = math.inf if c_max is None else c_max
    bad = (w < lo) | (w > hi)
    return w.masked_fill(bad, 0.0), bad


for _level in ("token", "sequence"):
    register_is_mode(f"{_level}_truncate", _level)(_truncate)
    register_is_mode(f"{_level}_mask", _level)(_mask)


def is_weights(old_logp: torch.Tensor, rollout_logp: torch.Tensor, mask: torch.Tensor, mode: str,
               c_min: float | None = None, c_max: float | None = 3.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Bounded importance weights pi_trainer / pi_rollout and their statistics as sums (see `finish_stats`).

    old_logp, rollout_logp, mask: [B, T]. mode: a name in IS_MODES. Returns (weights [B, T] or [B, 1], detached;
    stats: is_weight_sum / is_units (mean), is_weight_min, is_weight_max, is_truncated / is_masked (units
    changed), over tokens for token modes and over sequences for sequence modes).
    """
    if mode not in IS_MODES:
        raise ValueError(f"unknown importance-sampling mode {mode!r}; known: {sorted(IS_MODES)}")
    m = IS_MODES[mode]
    mask = mask.to(old_logp.dtype)
    diff = torch.nan_to_num((old_logp.detach() - rollout_logp) * mask, nan=0.0)  # [B, T]
    log_w = diff.sum(-1, keepdim=True) if m.level == "sequence" else diff  # [B, 1] | [B, T]
    raw = torch.exp(log_w)
    w, changed = m.bound(raw, c_min, c_max)
    units = torch.ones_like(raw, dtype=torch.bool) if m.level == "sequence" else mask.bool()
    kind = "is_truncated" if mode.endswith("truncate") else "is_masked"
    seen = w[units]
    stats = {"is_weight_sum": float(seen.sum()), "is_units": float(units.sum()),
             "is_weight_min": float(seen.min()) if seen.numel() else math.inf,
             "is_weight_max": float(seen.max()) if seen.numel() else -math.inf,
             kind: float((changed & units).sum())}
    return w.detach(), stats


def mismatch_stats(old_logp: torch.Tensor, rollout_logp: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """How far the rollout engine's log-probs are from the trainer's, as sums (see `finish_stats`).

    old_logp, rollout_logp, mask: [B, T]. mismatch = |old - rollout| per token (mean and max); per sequence,
    KL(pi_rollout || pi_trainer) estimated on the rollout's own samples: k1 = sum_t (rollout - old) and
    k3 = sum_t (exp(old - rollout) - (old - rollout) - 1) (>= 0, lower variance).
    """
    raw = old_logp.detach().double() - rollout_logp.double()  # [B, T]; float64: k3 ~ d^2/2 underflows in fp32
    mask_b = mask.bool() & ~torch.isnan(raw)  # a token vLLM gave no log-prob for is left out (as TRL)
    d = raw.masked_fill(~mask_b, 0.0)  # [B, T]
    tok = d.abs()[mask_b]
    k3 = (torch.exp(d) - d - 1).masked_fill(~mask_b, 0.0)
    return {"mismatch_abs_sum": float(tok.sum()), "mismatch_tokens": float(mask_b.sum()),
            "mismatch_max": float(tok.max()) if tok.numel() else 0.0,
            "mismatch_seq_k1_sum": float((-d).sum()), "mismatch_seq_k3_sum": float(k3.sum()),
            "mismatch_seqs": float(mask.shape[0])}


_MERGE = {"_min": lambda a, b: b if math.isnan(a) else a if math.isnan(b) else min(a, b),
          "_max": lambda a, b: b if math.isnan(a) else a if math.isnan(b) else max(a, b)}  # NaN-ignoring


def merge_stats(parts: list[dict[str, float]]) -> dict[str, float]:
    """Combine per-micro-batch stats: keys ending in _min / _max take the min / max, the rest are summed."""
    out: dict[str, float] = {}
    for part in parts:
        for k, v in part.items():
            op = next((f for suffix, f in _MERGE.items() if k.endswith(suffix)), None)
            out[k] = v if k not in out else (op(out[k], v) if op else out[k] + v)
    return out


def finish_stats(s: dict[str, float]) -> dict[str, float]:
    """Merged sums -> the logged figures: is/weight_{mean,min,max}, is/truncated_frac, is/masked_frac,
    mismatch/{mean,max,seq_kl_k1,seq_kl_k3}. Keys whose inputs are absent are left out."""
    out: dict[str, float] = {}
    if s.get("mismatch_tokens"):
        out["mismatch/mean"] = s["mismatch_abs_sum"] / s["mismatch_tokens"]
        out["mismatch/max"] = s["mismatch_max"]
        out["mismatch/seq_kl_k1"] = s["mismatch_seq_k1_sum"] / s["mismatch_seqs"]
        out["mismatch/seq_kl_k3"] = s["mismatch_seq_k3_sum"] / s["mismatch_seqs"]
    if s.get("is_units"):
        out["is/weight_mean"] = s["is_weight_sum"] / s["is_units"]
        out["is/weight_min"], out["is/weight_max"] = s["is_weight_min"], s["is_weight_max"]
        for kind in ("is_truncated", "is_masked"):
            if kind in s:
                out[f"is/{kind[3:]}_frac"] = s[kind] / s["is_units"]
    return out
