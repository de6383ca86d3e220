"""The pieces of one GRPO step: prompts, generation, rewards, tensors, updates, sync.

Each function takes the live actors and plain data and returns plain data, so the
driver loop in `grpo.py` reads as the algorithm: generate a group per prompt, score
it, normalise within the group, then several clipped policy updates against fixed
old log-probs with a KL penalty to the frozen reference.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

import torch

from align.config import ConfigError
from align.errors import RunFailure


class RewardFailure(RunFailure):
    """A reward function failed on more of a batch than the recipe allows."""


@dataclass
class Sample:
    prompt_ids: list[int]
    completion_ids: list[int]
    rollout_logp: list[float]
    row: dict
    text: str = ""
    finish_reason: str = ""  # vLLM's: "stop" (EOS / stop token) or "length" (cut at max_new_tokens)
    routes: torch.Tensor | None = None  # R3: the rollout engine's experts per token, [len(prompt + completion), L, k]
    reward: float = 0.0
    advantage: float = 0.0
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- prompts
def load_prompt_rows(sources) -> list[dict]:
    return load_prompt_pool(sources)[0]


def load_prompt_pool(sources) -> tuple[list[dict], list[float]]:
    """Prompt rows of every source and each row's sampling weight: a source's rows share its
    `weight`, so sources are drawn at the ratios of their weights, whatever their sizes."""
    from align.data.loaders import load_rows

    rows, weights = [], []
    for src in sources:
        got = [prompt_row(r, f"{src.source} row {i}") for i, r in enumerate(load_rows(src.source, src.split, src.max_rows))]
        if not got:
            raise ConfigError(f"prompt source `{src.source}` (split {src.split}) has no rows.")
        rows += got
        weights += [src.weight / len(got)] * len(got)
    return _one_shape(rows), weights


def _one_shape(rows: list[dict]) -> list[dict]:
    # one schema for every row: a batch that happens to hold only math rows still passes
    # `tests=[None, ...]` to the code reward (None: "not mine to judge"), not no column at all;
    # and one prompt shape: where any prompt is a conversation, plain prompts become user turns,
    # so every reward sees one completion shape per stage (TRL's datasets are all one or the other)
    if any(isinstance(r["prompt"], list) for r in rows):
        rows = [r | {"prompt": [{"role": "user", "content": r["prompt"]}]} if isinstance(r["prompt"], str) else r
                for r in rows]
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in sorted(keys)} for r in rows]


def prompt_row(row, where: str) -> dict:
    """A `prompt` row as is; a `messages` conversation becomes its turns before the last
    assistant reply (TRL's implicit prompt), the reply itself is dropped."""
    if isinstance(row, dict) and "prompt" not in row and isinstance(row.get("messages"), list):
        turns = row["messages"]
        cut = len(turns) - 1 if turns and isinstance(turns[-1], dict) and turns[-1].get("role") == "assistant" else len(turns)
        row = {k: v for k, v in row.items() if k != "messages"} | {"prompt": turns[:cut]}
        if not cut:
            raise ConfigError(f"{where}: the conversation has no turn before the assistant's reply to use as a prompt.")
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), (str, list)):
        raise ConfigError(f"{where}: a GRPO prompt row needs a `prompt` field (string or conversation) "
                          "or a `messages` conversation.")
    return row


def prompt_ids(tok, row: dict) -> list[int]:
    from align.data.chat import encode_prompt

    p = row["prompt"]
    messages = [{"role": "user", "content": p}] if isinstance(p, str) else p
    return encode_prompt(tok, messages)


def pick_prompts(rows: list[dict], weights: list[float] | None = None, *, n: int, seed: int, step: int,
                 draw: int = 0) -> list[dict]:
    """`n` rows drawn without replacement (while there are enough) with probability
    proportional to `weights` (Efraimidis-Spirakis keys u^(1/w)); deterministic per
    (seed, step, draw), so a resumed run draws the same prompts (`draw` > 0: dynamic sampling's extra draws)."""
    rng = random.Random(f"{seed}:{step}" if draw == 0 else f"{seed}:{step}:{draw}")
    if n > len(rows):
        return rng.choices(rows, weights, k=n)
    weights = weights or [1.0] * len(rows)
    keys = [rng.random() ** (1.0 / w) if w > 0 else -1.0 for w in weights]
    return [rows[i] for i in sorted(range(len(rows)), key=lambda i: -keys[i])[:n]]


# ---------------------------------------------------------------------- generation
def generate(engines: list, tok, rows: list[dict], n: int, g, seed: int) -> tuple[list[Sample], float]:
    """Sample `n` completions per prompt, spread over the rollout engines."""
    import ray

    ids = [prompt_ids(tok, r) for r in rows]
    t0 = time.perf_counter()
    chunks = [list(range(i, len(rows), len(engines))) for i in range(len(engines))]
    refs = [e.generate.remote([ids[j] for j in idx], n=n, temperature=g.temperature, top_p=g.top_p,
                              max_tokens=g.max_new_tokens, seed=seed, stop_token_ids=[tok.eos_token_id])
            for e, idx in zip(engines, chunks) if idx]
    by_prompt: dict[int, list] = {}
    for idx, outs in zip([c for c in chunks if c], ray.get(refs)):
        by_prompt.update(zip(idx, outs))
    samples = []
    for j, row in enumerate(rows):
        for o in by_prompt[j]:
            samples.append(Sample(ids[j], list(o["token_ids"]), list(o["logprobs"]), row,
                                  tok.decode(o["token_ids"], skip_special_tokens=True), o.get("finish_reason") or ""))
    return samples, time.perf_counter() - t0


# ---------------------------------------------------------------------- rewards
def score(samples: list[Sample], reward_fns: list, max_fail_frac: float) -> tuple[list[list], dict]:
    """Run every guarded reward function on the batch; stop on too many failures."""
    prompts = [s.row["prompt"] for s in samples]
    completions = [completion_for(s) for s in samples]
    keys = sorted({k for s in samples for k in s.row} - {"prompt"})
    columns = {k: [s.row.get(k) for s in samples] for k in keys} | {"completion_ids": [s.completion_ids for s in samples]}
    results, metrics = [], {}
    for fn in reward_fns:
        before = fn.stats().failed_samples
        t0 = time.perf_counter()
        values = fn(prompts, completions, **columns)
        failed = fn.stats().failed_samples - before
        frac = failed / max(1, len(samples))
        if frac > max_fail_frac:
            raise RewardFailure(
                f"reward function `{fn.name}` failed on {failed} of {len(samples)} samples ({frac:.0%}), more than "
                f"`max_reward_failure_frac` = {max_fail_frac:.0%}. Last error: {_last_error(fn)}. Fix the function "
                "(run it on a few rows by hand) or raise the limit in the recipe.")
        got = [v for v in values if v is not None]
        metrics[f"reward/{fn.name}/mean"] = sum(got) / len(got) if got else float("nan")
        metrics[f"reward/{fn.name}/failures"] = failed
        metrics[f"reward/{fn.name}/seconds"] = time.perf_counter() - t0
        results.append(values)
    return results, metrics


def completion_for(s: Sample):
    """TRL's shapes: a string after a string prompt, an assistant turn after a conversation."""
    return s.text if isinstance(s.row["prompt"], str) else [{"role": "assistant", "content": s.text}]


def _last_error(fn) -> str:
    return ": ".join(fn.last_errors[-1]) if fn.last_errors else "see the log above"


# ---------------------------------------------------------------------- tensors
def to_encoded(samples: list[Sample], mask_truncated: bool = False) -> list:
    """Prompt + completion with the loss on the completion; with `mask_truncated` (DAPO's overlong
    masking, TRL's mask_truncated_completions) a completion cut at max_new_tokens has no loss tokens."""
    from align.data.chat import Encoded

    def on(s: Sample) -> int:
        return 0 if mask_truncated and s.finish_reason == "length" else 1

    return [Encoded(tuple(s.prompt_ids + s.completion_ids), (0,) * len(s.prompt_ids) + (on(s),) * len(s.completion_ids))
            for s in samples]


def micro_batches(samples: list[Sample], n_ranks: int, micro: int, pad_id: int,
                  mask_truncated: bool = False) -> list[list[dict]]:
    """Per-rank lists of collated micro-batches; `index` [B] maps rows back to `samples`.

    Samples are sorted by length before they are dealt to ranks and cut into micro-batches,
    so each micro-batch pads little; the losses are global sums, so the order changes nothing.
    """
    from engine.trainer import collate

    enc = to_encoded(samples, mask_truncated)
    order = sorted(range(len(samples)), key=lambda j: -len(enc[j].input_ids))
    per_rank = []
    for r in range(n_ranks):
        idx = order[r::n_ranks]
        mbs = []
        for i in range(0, len(idx), micro):
            part = idx[i : i + micro]
            mb = collate([enc[j] for j in part], pad_id)
            mb["index"] = torch.tensor(part, dtype=torch.long)
            mb["rollout_logp"] = _pad([samples[j] for j in part], mb["input_ids"].shape[1] - 1)
            if samples[part[0]].routes is not None:
                mb["routes"] = _routes([samples[j] for j in part], mb["input_ids"].shape[1])
            mbs.append(mb)
        per_rank.append(mbs)
    return per_rank


def _pad(samples: list[Sample], width: int) -> torch.Tensor:
    """vLLM's sampled-token log-probs aligned to [B, T-1] shifted positions (0 elsewhere)."""
    out = torch.zeros(len(samples), width)
    for i, s in enumerate(samples):
        start = len(s.prompt_ids) - 1
        out[i, start : start + len(s.rollout_logp)] = torch.tensor(s.rollout_logp[: width - start])
    return out


def _routes(samples: list[Sample], width: int) -> torch.Tensor:
    """Per-sample rollout routes [len, L, k] -> the micro-batch's [L, B*width, k] (row-major, as the trainer's
    MoE blocks flatten [B, T]); padding positions get experts 0..k-1 (they carry no loss)."""
    _, layers, k = samples[0].routes.shape
    out = torch.arange(k, dtype=torch.int16).expand(len(samples), width, layers, k).clone()  # [B, T, L, k]
    for i, s in enumerate(samples):
        out[i, : s.routes.shape[0]] = s.routes
    return out.permute(2, 0, 1, 3).reshape(layers, len(samples) * width, k).contiguous()


def attach_routes(engines: list, samples: list[Sample]) -> float:
    """R3: ask the rollout engines which experts they route every token of each sample to (spread over the
    engines, which hold the same synced weights); returns the seconds it took."""
    import ray

    t0 = time.perf_counter()
    chunks = [samples[i::len(engines)] for i in range(len(engines))]
    refs = [e.routes.remote([s.prompt_ids + s.completion_ids for s in c]) for e, c in zip(engines, chunks) if c]
    for c, got in zip([c for c in chunks if c], ray.get(refs)):
        for s, r in zip(c, got):
            s.routes = r
    return time.perf_counter() - t0


def sequence_kl(per_rank: list[list[dict]], n: int, estimator: str) -> torch.Tensor:
    """Per-sample summed KL(policy || reference) over completion tokens: [N]."""
    from align.algos.kl import kl_penalty

    out = torch.zeros(n)
    for mbs in per_rank:
        for mb in mbs:
            kl = kl_penalty(mb["old_logp"], mb["ref_logp"], estimator) * mb["loss_mask"][:, 1:]
            out[mb["index"]] = kl.sum(-1)
    return out


def loss_tokens(per_rank: list[list[dict]]) -> int:
    """Tokens that carry loss in the whole batch (the global count of token-mean losses)."""
    return int(sum(int(mb["loss_mask"][:, 1:].sum()) for mbs in per_rank for mb in mbs))


def set_advantages(per_rank: list[list[dict]], adv: torch.Tensor) -> None:
    for mbs in per_rank:
        for mb in mbs:
            mb["advantages"] = adv[mb["index"]].float()


# ---------------------------------------------------------------------- weight sync
def open_sync_group(trainers, engines: list, timeout_s: float, on_gpu: bool) -> None:
    """Trainer rank 0 and every vLLM worker form the weight-sync group (engine.sync_group), at rank 0's node."""
    import ray

    host, port = trainers.group.call_rank0("free_address")
    workers = [info["workers"] for info in ray.get([e.info.remote() for e in engines])]
    first = [1 + sum(workers[:i]) for i in range(len(engines))]
    world, backend = 1 + sum(workers), "nccl" if on_gpu else "gloo"
    refs = [trainers.group.actors[0].join_sync_group.remote(host, port, world, timeout_s, backend)]
    refs += [e.join_sync_group.remote(host, port, world, f, timeout_s, backend) for e, f in zip(engines, first)]
    ray.get(refs, timeout=timeout_s + 30)


def sync_weights(trainers, engines: list, rollout) -> dict:
    """Rank 0's full weights (in-memory layout) to every rollout engine, over the sync group in buckets of
    `rollout.sync_bucket_mb` (or, `sync_transport: ray`, as one list through the driver)."""
    import ray

    t0 = time.perf_counter()
    if rollout.sync_transport == "ray":
        named = trainers.call("named_tensors")[0]  # every rank joins (ZeRO-3 gathers collectively); rank 0's list
        stats = ray.get([e.update_weights.remote(named) for e in engines], timeout=rollout.sync_timeout_s)
        sent = {"bytes": sum(t.numel() * t.element_size() for _, t in named), "rss_extra_mb": 0.0}
    else:  # the engines wait for the broadcast while every trainer rank gathers and rank 0 sends
        refs = [e.receive_weights.remote(rollout.sync_timeout_s) for e in engines]
        sent = trainers.call("send_weights", rollout.sync_bucket_mb, timeout=rollout.sync_timeout_s + 30)[0]
        stats = ray.get(refs, timeout=rollout.sync_timeout_s + 30)
    return {"sync_seconds": time.perf_counter() - t0, "sync_bytes": sent["bytes"],
            "sync_engine_seconds": max(float(s.get("seconds", 0.0)) for s in stats),
            "memory/sync_trainer_extra_mb": sent["rss_extra_mb"],
            "memory/sync_rollout_extra_mb": max(float(s.get("rss_extra_mb", 0.0)) for s in stats),
            "memory/rollout_peak_mb": max(float(s.get("rss_peak_mb", 0.0)) for s in stats)}


def check_sync(trainers, engines: list, scheduler, tok, rows: list[dict], tol: float) -> float:
    """Every engine's log-probs of fixed sequences must equal the trainer's; returns the max |diff| over them.
    The engines score in the generate phase, the trainers in the train phase (colocated: one at a time)."""
    import ray

    from engine.trainer import collate

    seqs = [prompt_ids(tok, r) + tok.encode(" The answer is 42.", add_special_tokens=False) for r in rows[:4]]
    plens = [len(prompt_ids(tok, r)) for r in rows[:4]]
    scheduler.before_generate()
    scored = ray.get([e.score.remote(seqs, plens) for e in engines])
    scheduler.before_train()
    from align.data.chat import Encoded

    enc = [Encoded(tuple(s), (0,) * p + (1,) * (len(s) - p)) for s, p in zip(seqs, plens)]
    mb = collate(enc, tok.pad_token_id)
    # every rank runs the batch (a ZeRO-3 forward is collective); temperature 1: vLLM's prompt log-probs are raw
    train_lp = trainers.call("logprobs", per_rank=[([mb],)] * len(trainers))[0][0]
    worst = 0.0
    for k, vllm_lp in enumerate(scored):
        diff = 0.0
        for i, (s, p) in enumerate(zip(seqs, plens)):
            ours = train_lp[i, p - 1 : len(s) - 1]
            diff = max(diff, float((ours - torch.tensor(vllm_lp[i][: len(ours)])).abs().max()))
        if not math.isfinite(diff) or diff > tol:
            raise RunFailure(f"weight-sync check failed: rollout engine {k} of {len(engines)} and the trainer disagree "
                             f"on fixed sequences by {diff:.3g} nats (tolerance {tol}). That engine is not running the "
                             f"trained policy.")
        worst = max(worst, diff)
    return worst
