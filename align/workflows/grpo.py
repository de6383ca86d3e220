"""`align grpo [RECIPE]`: GRPO on the hybrid engine (stage 1: verifiable rewards).

One driver process controls Ray actors: N vLLM rollout engines, M DeepSpeed training
workers (the SFT worker, objective "grpo"), a frozen reference model and the reward
functions (guarded, in the driver's reward thread pool; the code reward runs every
completion in its own sandboxed process tree). Each step:

  prompts -> G completions each (vLLM) -> rewards -> group-normalised advantages
  -> reference and old log-probs -> `updates_per_batch` clipped policy updates
  -> weight sync to every rollout engine (every `rollout.sync_every` steps)

Departures from DeepSeek-V2 / DeepSeekMath: the paper's stage-1 reward for code is
compiler feedback + unit tests from a reward model trained on them; here the unit
tests run directly in a sandbox (the verifiable signal itself). Old log-probs are
recomputed by the trainer (not taken from vLLM) so the ratio is exact even where
vLLM and the trainer differ slightly; that difference is logged every step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from align.algos.grpo import group_advantages
from align.algos.schedule import lr_at
from align.config import ConfigError
from align.workflows import common
from align.workflows import grpo_parts as parts
from align.workflows.models import resolve_model
from align.workflows.outputs import MetricsLog, plot_curves, prepare_output, read_metrics, write_summary

EVAL_NAMES = {"math_answer": "math_accuracy", "code_tests": "code_pass_rate"}


@dataclass
class Actors:
    trainers: object
    engines: list
    reference: object
    scheduler: object


def run(cfg) -> dict:
    policy_path = _policy_path(cfg)
    out = prepare_output(cfg)
    t_start = time.time()
    tok = common.load_tokenizer(policy_path)
    summary: dict = {"command": "grpo"}
    for stage in cfg.stages:
        stage_cfg = getattr(cfg, f"stage{stage}")
        summary[f"stage{stage}"] = run_stage(cfg, stage, stage_cfg, policy_path, out / f"stage{stage}", tok)
        policy_path = str(out / f"stage{stage}" / "final")
    summary["wall_seconds"] = round(time.time() - t_start, 1)
    write_summary(out, summary)
    print(f"[align] grpo done in {summary['wall_seconds']:.0f}s; outputs in {out}/", flush=True)
    return summary


def _policy_path(cfg) -> str:
    path = cfg.model.path
    if not path.startswith("builtin:") and not (__import__("pathlib").Path(path) / "config.json").exists():
        raise ConfigError(f"`model.path` is `{path}`, which holds no model. GRPO starts from an SFT policy: run "
                          "`align sft recipes/v2_chat.yaml` first, or point `model.path` at an HF model folder.")
    return resolve_model(path)


def run_stage(cfg, stage: int, sc, policy_path: str, out, tok) -> dict:
    from rewards import RewardSpec, load_reward

    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    t0 = time.time()
    rows = parts.load_prompt_rows(sc.prompts)
    eval_rows = parts.load_prompt_rows(sc.eval_prompts)[: sc.eval_max_prompts]
    reward_fns = [load_reward(RewardSpec(e.fn, weight=e.weight, timeout_s=e.timeout_s, kwargs=dict(e.kwargs)))
                  for e in sc.rewards]
    if not reward_fns:
        raise ConfigError(f"`stage{stage}.rewards` is empty; name at least one reward function (e.g. math_answer).")
    actors = start_actors(cfg, sc, policy_path, tok)
    log = MetricsLog(out, cfg.run.tensorboard)
    try:
        sync = parts.sync_weights(actors.trainers, actors.engines, cfg.rollout.sync_timeout_s)
        diff = parts.check_sync(actors.trainers, actors.engines[0], tok, rows, cfg.rollout.sync_check_tol)
        print(f"[align] stage {stage}: weight-sync check passed (max |dlogp| = {diff:.2e}, "
              f"{sync['sync_bytes'] / 1e6:.1f} MB in {sync['sync_seconds']:.2f}s)", flush=True)
        before = evaluate(actors, tok, eval_rows, reward_fns, cfg.run.seed)
        log.log(0, **{f"eval/{k}": v for k, v in before.items()}, sync_check_max_abs_diff=diff)
        train_loop(cfg, sc, actors, tok, rows, reward_fns, log)
        if sc.grpo.steps % cfg.rollout.sync_every:
            actors.scheduler.before_weight_sync()
            parts.sync_weights(actors.trainers, actors.engines, cfg.rollout.sync_timeout_s)
        final_diff = parts.check_sync(actors.trainers, actors.engines[0], tok, rows, cfg.rollout.sync_check_tol)
        after = evaluate(actors, tok, eval_rows, reward_fns, cfg.run.seed)
        log.log(sc.grpo.steps, **{f"eval/{k}": v for k, v in after.items()})
        common.save_final(actors.trainers, out, policy_path)
    finally:
        log.close()
        stop_actors(actors)
    result = {f"{k}_before": v for k, v in before.items()} | {f"{k}_after": v for k, v in after.items()}
    result["wall_seconds"] = round(time.time() - t0, 1)
    result["sync_check_max_abs_diff"] = diff
    result["sync_check_final_max_abs_diff"] = final_diff
    result["swap_events"] = actors.scheduler.events[-8:]
    write_summary(out, result)
    plot_curves(out, ["reward_mean", "kl", "clip_frac", "loss", "logprob_mismatch", "zero_variance_frac"],
                "curves.png", f"align grpo stage {stage}")
    return result


def start_actors(cfg, sc, policy_path: str, tok) -> Actors:
    import ray

    from engine.reference import ReferenceWorker
    from engine.rollout import RolloutEngine
    from engine.scheduler import Sides, SwapScheduler

    g = sc.grpo
    batch = g.prompts_per_step * g.group_size
    trainers = common.start_trainers(_as_sft_like(cfg, sc), policy_path, batch, micro=g.micro_batch_size)
    r = cfg.rollout
    engine_cls = ray.remote(RolloutEngine).options(num_cpus=r.cpus_per_engine, num_gpus=r.gpus_per_engine)
    engines = [engine_cls.remote(policy_path, dtype=cfg.model.dtype, seed=cfg.run.seed + i, kv_cache_gib=r.kv_cache_gib,
                                 max_model_len=cfg.max_length + g.max_new_tokens,
                                 enable_sleep=r.placement == "colocated" and r.gpus_per_engine > 0)
               for i in range(r.num_engines)]
    ref_path = cfg.reference or policy_path
    # num_cpus=0: the reference only runs while the trainers wait, so it must not hold a CPU slot
    reference = ray.remote(ReferenceWorker).options(num_cpus=0, num_gpus=cfg.trainer.gpus_per_worker and 0.01).remote(
        resolve_model(ref_path), cfg.model.dtype, threads=cfg.trainer.threads_per_worker)
    scheduler = SwapScheduler(r.placement, _sides(trainers, engines, reference))
    scheduler.start()
    return Actors(trainers, engines, reference, scheduler)


def _sides(trainers, engines, reference):
    import ray

    from engine.scheduler import Sides

    def every(method, *a, **kw):
        return lambda: ray.get([getattr(e, method).remote(*a, **kw) for e in engines])

    return Sides(offload_trainer=lambda: trainers.call("offload"), reload_trainer=lambda: trainers.call("reload"),
                 sleep_rollout=every("sleep", level=1), wake_rollout_weights=every("wake_up", tags=["weights"]),
                 wake_rollout_kv=every("wake_up", tags=["kv_cache"]),
                 offload_reference=lambda: ray.get(reference.offload.remote()),
                 reload_reference=lambda: ray.get(reference.reload.remote()))


def _as_sft_like(cfg, sc):
    """The trainer setup reads `optim`, `trainer`, `model`, `run`, `cluster` sections."""
    from types import SimpleNamespace

    return SimpleNamespace(optim=sc.optim, trainer=cfg.trainer, model=cfg.model, run=cfg.run, cluster=cfg.cluster,
                           sft=SimpleNamespace(micro_batch_size=sc.grpo.micro_batch_size))


def stop_actors(actors: Actors) -> None:
    import ray

    actors.trainers.kill()
    for a in actors.engines + [actors.reference]:
        ray.kill(a)


# ---------------------------------------------------------------------- the loop
def train_loop(cfg, sc, actors: Actors, tok, rows, reward_fns, log: MetricsLog) -> None:
    g = sc.grpo
    bar = common.progress(g.steps, 0, "grpo")
    try:
        for step in range(g.steps):
            lr = lr_at(step, g.steps, sc.optim.lr, int(sc.optim.warmup_ratio * g.steps), sc.optim.min_lr_ratio,
                       sc.optim.schedule)
            metrics = grpo_step(cfg, sc, actors, tok, rows, reward_fns, step, lr)
            if (step + 1) % cfg.rollout.sync_every == 0:
                actors.scheduler.before_weight_sync()
                metrics.update(parts.sync_weights(actors.trainers, actors.engines, cfg.rollout.sync_timeout_s))
            metrics["swap_events"] = len(actors.scheduler.events)
            log.log(step + 1, lr=lr, **metrics)
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", kl=f"{metrics.get('kl', 0):.3f}")
    finally:
        bar.close()


def grpo_step(cfg, sc, actors: Actors, tok, rows, reward_fns, step: int, lr: float) -> dict:
    g = sc.grpo
    actors.scheduler.before_generate()
    batch_rows = parts.pick_prompts(rows, g.prompts_per_step, cfg.run.seed, step)
    samples, gen_s = parts.generate(actors.engines, tok, batch_rows, g.group_size, g, cfg.run.seed * 100003 + step)
    values, metrics = parts.score(samples, reward_fns, g.max_reward_failure_frac)
    per_rank = parts.micro_batches(samples, len(actors.trainers), g.micro_batch_size, tok.pad_token_id)
    t0 = time.perf_counter()
    _reference_and_old_logprobs(cfg, g, actors, per_rank)
    rewards, adv, adv_stats = _advantages(g, reward_fns, values, per_rank, len(samples))
    parts.set_advantages(per_rank, adv)
    n_tokens = sum(len(s.completion_ids) for s in samples)
    slots = len(per_rank) * len(per_rank[0])
    train = {}
    for _ in range(g.updates_per_batch):
        results = actors.trainers.call(
            "train_step", per_rank=[(m, lr, "grpo") for m in per_rank], token_scale=slots / max(1, n_tokens),
            seq_scale=slots / len(samples), aux_coef=0.0,
            loss_kwargs={"eps_low": g.eps_low, "eps_high": g.eps_high, "beta": g.beta if not g.kl_in_reward else 0.0,
                         "kl": g.kl_estimator, "aggregation": g.loss_aggregation})
        train = _reduce(results, n_tokens, slots)
    lengths = torch.tensor([len(s.completion_ids) for s in samples], dtype=torch.float32)
    return {**metrics, **train, **{k: float(v) for k, v in adv_stats.items()},
            "reward_mean": float(rewards.mean()), "reward_std": float(rewards.std()),
            "completion_len": float(lengths.mean()),
            "generation_seconds": gen_s, "train_seconds": time.perf_counter() - t0,
            "tokens_per_second": float(lengths.sum()) / max(gen_s, 1e-9)}


def _advantages(g, reward_fns, values, per_rank, n: int):
    """Combined reward (minus beta * KL when folded into the reward) -> group advantages.
    Completions no reward function could judge are left out of their group's statistics."""
    from align.algos.combine import combine, reward_matrix

    matrix = reward_matrix(values)
    valid = ~torch.isnan(matrix).all(-1)
    rewards = combine(matrix, [f.weight for f in reward_fns]).float()
    if g.kl_in_reward:
        rewards = rewards - g.beta * parts.sequence_kl(per_rank, n, g.kl_estimator)
    adv, stats = group_advantages(rewards, g.group_size, scale=g.advantage_scale, valid=valid)
    return rewards, adv, stats


def _reference_and_old_logprobs(cfg, g, actors: Actors, per_rank) -> None:
    """Reference log-probs always; old log-probs only when several updates reuse the batch
    (with one update the old policy is the current one). In split placement both run at once."""
    import ray

    flat = [{k: mb[k] for k in ("input_ids", "attention_mask")} for mbs in per_rank for mb in mbs]
    need_old = g.updates_per_batch > 1 or g.kl_in_reward
    if cfg.rollout.placement == "colocated":
        actors.scheduler.before_reference()
        ref = ray.get(actors.reference.logprobs.remote(flat))
        actors.scheduler.before_train()
        old = actors.trainers.call("logprobs", per_rank=[(m,) for m in per_rank]) if need_old else None
    else:
        ref_ref = actors.reference.logprobs.remote(flat)
        old = actors.trainers.call("logprobs", per_rank=[(m,) for m in per_rank]) if need_old else None
        ref = ray.get(ref_ref)
    it = iter(ref)
    _attach(per_rank, "ref_logp", [[next(it) for _ in mbs] for mbs in per_rank])
    if old is not None:
        _attach(per_rank, "old_logp", old)


def _attach(per_rank, key: str, values) -> None:
    for mbs, vals in zip(per_rank, values):
        for mb, v in zip(mbs, vals):
            mb[key] = v


def _reduce(results: list[dict], n_tokens: int, slots: int) -> dict:
    """Per-rank sums -> global metrics: token-weighted means, the loss, the slowest rank's time."""
    out = {k.removesuffix("_sum"): sum(r[k] for r in results) / max(1, n_tokens) for k in results[0] if k.endswith("_sum")}
    out["loss"] = sum(r["loss_slot"] for r in results) / slots
    out["grad_norm"] = results[0]["grad_norm"]
    out["update_seconds"] = max(r["step_seconds"] for r in results)
    for k in ("expert_load_max", "expert_load_min"):
        if k in results[0]:
            out[k] = sum(r[k] for r in results) / slots
    return out


# ---------------------------------------------------------------------- evaluation
def evaluate(actors: Actors, tok, rows: list[dict], reward_fns, seed: int) -> dict:
    """Greedy accuracy per reward function on held-out prompts (rows a function can judge)."""
    from types import SimpleNamespace

    if not rows:
        return {}
    actors.scheduler.before_generate()
    g = SimpleNamespace(temperature=0.0, top_p=1.0, max_new_tokens=128)
    samples, _ = parts.generate(actors.engines, tok, rows, 1, g, seed)
    values, _ = parts.score(samples, reward_fns, 1.0)
    result = {}
    for fn, vals in zip(reward_fns, values):
        got = [v for v in vals if v is not None]
        if got:
            result[EVAL_NAMES.get(fn.name, f"{fn.name}_mean")] = sum(got) / len(got)
    actors.scheduler.before_train()
    return result
