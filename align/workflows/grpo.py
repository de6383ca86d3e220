"""`align grpo [RECIPE]`: two-stage GRPO on the hybrid engine, as DeepSeek-V2.

Stage 1 (reasoning) rewards verifiable answers: math against ground truth, code by unit
tests in a sandbox. Stage 2 (human preference) rewards the scores of reward models
trained by `align rm`, served as Ray actors, optionally mixed with rule-based rewards.
`stages` picks which run; each stage starts from the previous stage's `final/` and
writes its own `stageN/` folder (metrics, checkpoints, summary, final).

One driver process controls Ray actors through one surface, engine.hybrid.HybridEngine: N vLLM
rollout engines, M DeepSpeed training workers (the SFT worker, objective "grpo"), a frozen
reference model and the reward-model servers, each call in its swap phase; the rewards are
guarded functions in the driver's reward thread pool (the code reward runs every completion in
its own sandboxed process tree). Each step:

  prompts -> G completions each (vLLM) -> rewards -> group-normalised advantages
  -> reference and old log-probs -> `updates_per_batch` clipped policy updates
  -> weight sync to every rollout engine (every `rollout.sync_every` steps)
(`grpo.async: one_step`: the next step's generation overlaps this step's training.)

The KL reference of every stage is the SFT model (`model.path`) unless the recipe says
otherwise (`reference`, or `stageN.reference: start` for the stage's own starting
policy). One fixed anchor keeps stage 2 close to the distribution the reward models were
trained on (their samples come from the SFT model, and they are least trustworthy far
from it, where reward hacking starts), and makes KL values comparable across stages.

`run.resume=true` skips the stages whose summary.json exists and continues the
interrupted one from its latest checkpoint (`grpo.save_every`): prompts are drawn per
(seed, step) and vLLM samples with a per-step seed, so resumed steps see the same data.

Departures from DeepSeek-V2 / DeepSeekMath: the paper's stage-1 reward for code is
compiler feedback + unit tests from a reward model trained on them; here the unit
tests run directly in a sandbox (the verifiable signal itself). Old log-probs are
recomputed by the trainer (not taken from vLLM) so the ratio is exact even where
vLLM and the trainer differ slightly; that difference is logged every step and
corrected by importance weights (`grpo.rollout_correction`, off in the paper, which
predates the practice). All log-probs are of logits / temperature, the policy that sampled.
The MoE router is frozen in RL by default (`grpo.router`), which the paper does not say.
"""
from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from align.algos.grpo import group_advantages
from align.algos.schedule import lr_at
from align.config import ConfigError, sync_check_tol
from align.errors import RunFailure
from align.data.prompts import load_prompt_pool, load_prompt_rows, pick_prompts, prompt_ids
from align.data.rollouts import loss_tokens, micro_batches, sequence_kl, set_advantages, to_samples
from align.workflows import common, routing_log
from align.workflows.grpo_async import check_async as _check_async, load_pending, resolved, save_pending
from align.workflows.grpo_eval import evaluate
from align.workflows.grpo_rewards import (StageRewards, build_rewards, check_reward_functions, check_reward_models,
                                          score)
from align.workflows.models import resolve_model
from align.workflows.outputs import MetricsLog, plot_curves, plot_layer_heatmaps, prepare_output, write_summary
from engine.hybrid import HybridEngine

AFTER_ONLY = ("refusal_rate_harmful", "over_refusal_rate_benign")  # also reported without the _after suffix


def run(cfg) -> dict:
    _check_model_path(cfg)
    common.check_rollout_engine(cfg, cfg.model.path, cfg.rollout.dtype or cfg.model.dtype, cfg.rollout.attention_backend)
    policy_path = resolve_model(cfg.model.path)
    _check_inputs(cfg)
    out = prepare_output(cfg)
    tok = common.load_tokenizer(policy_path)
    summary: dict = {"command": "grpo", "stages": list(cfg.stages)}
    for stage in cfg.stages:
        stage_out = out / f"stage{stage}"
        if cfg.run.resume and (stage_out / "summary.json").exists():
            summary[f"stage{stage}"] = json.loads((stage_out / "summary.json").read_text())
            print(f"[align] resume: stage {stage} is complete ({stage_out}/summary.json); skipping it", flush=True)
        else:
            summary[f"stage{stage}"] = run_stage(cfg, stage, policy_path, stage_out, tok)
        policy_path = str(stage_out / "final")
        summary["wall_seconds"] = round(sum(summary[f"stage{s}"]["wall_seconds"] for s in cfg.stages
                                            if f"stage{s}" in summary), 1)
        write_summary(out, summary)
    print(f"[align] grpo done in {summary['wall_seconds']:.0f}s; outputs in {out}/", flush=True)
    return summary


def _check_model_path(cfg) -> None:
    path = cfg.model.path
    if not path.startswith("builtin:") and not (Path(path) / "config.json").exists():
        raise ConfigError(f"`model.path` is `{path}`, which holds no model. GRPO starts from an SFT policy: run "
                          "`align sft recipes/v2_chat.yaml` first, or point `model.path` at an HF model folder.")


def _check_inputs(cfg) -> None:
    """Everything every stage needs, checked before stage 1 spends any time."""
    from align.algos.grpo import LOSS_TYPES

    check_reward_models(cfg)
    check_reward_functions(cfg)
    check_local_cpus(cfg)
    for stage in cfg.stages:
        sc = getattr(cfg, f"stage{stage}")
        g, key = sc.grpo, f"stage{stage}.grpo"
        if g.loss_type not in LOSS_TYPES:
            raise ConfigError(f"`{key}.loss_type` is `{g.loss_type}`; known loss types: {', '.join(sorted(LOSS_TYPES))}.")
        common.check_batching(g.prompts_per_step * g.group_size, g.micro_batch_size, cfg.trainer.num_workers,
                              f"`{key}.prompts_per_step` x `{key}.group_size` (the batch) or `{key}.micro_batch_size`")
        _check_routing_replay(g, key, cfg.model.path)
        _check_async(cfg, g, key)
        load_prompt_rows(sc.prompts + sc.eval_prompts)
        ref = sc.reference if sc.reference not in (None, "start") else cfg.reference
        if ref and not ref.startswith("builtin:") and not (Path(ref) / "config.json").exists():
            key = f"stage{stage}.reference" if sc.reference else "reference"
            raise ConfigError(f"`{key}` is `{ref}`, which holds no model; name an HF model folder (the SFT run's "
                              "final/), or leave it unset for `model.path`.")


def check_local_cpus(cfg) -> None:
    """On a local Ray, trainers and rollout engines must fit the CPUs it has: Ray would wait for an actor that
    cannot be placed forever, with no message (the reference and reward-model actors take no CPU slot)."""
    import os

    if cfg.cluster.address:
        return
    have = cfg.cluster.num_cpus or os.cpu_count()
    t, r = cfg.trainer, cfg.rollout
    need = t.num_workers * t.cpus_per_worker + r.num_engines * r.cpus_per_engine
    if r.cpu_threads is not None and not 1 <= r.cpu_threads <= have:
        raise ConfigError(f"`rollout.cpu_threads` is {r.cpu_threads}; each rollout engine's threads must be between 1 "
                          f"and the {have} cores here (or unset: vLLM's own choice).")
    if need > have + 1e-9:
        raise ConfigError(f"the actors ask for {need:g} CPUs ({t.num_workers} trainer workers x `trainer.cpus_per_worker` "
                          f"{t.cpus_per_worker:g} + {r.num_engines} rollout engines x `rollout.cpus_per_engine` "
                          f"{r.cpus_per_engine:g}), but the local Ray has {have} (`cluster.num_cpus`, default: the "
                          "machine's cores); Ray would wait for them forever. Lower those (fractions such as 0.5 are "
                          "fine: a slot is a reservation, threads are `trainer.threads_per_worker`) or join a cluster "
                          "with `cluster.address`.")


def _check_routing_replay(g, key: str, model_path: str) -> None:
    from engine.routing import replay_problem

    if g.routing_replay == "off":
        return
    path = resolve_model(model_path) if model_path.startswith("builtin:") else model_path
    problem = replay_problem(path) if (Path(path) / "config.json").exists() else None
    if problem:
        raise ConfigError(f"`{key}.routing_replay` is {g.routing_replay}, but {problem}. Set it to `off`.")
    if g.routing_replay == "r2" and g.updates_per_batch < 2:
        print(f"[align] note: `{key}.routing_replay: r2` with one update per batch replays the routes the update "
              "would choose anyway; it matters with `updates_per_batch` >= 2", flush=True)


def reference_path(cfg, sc, policy_path: str) -> str:
    """The stage's frozen KL reference: `stageN.reference` ("start": the stage's starting
    policy), else the run's `reference`, else `model.path` (the SFT model)."""
    if sc.reference == "start":
        return policy_path
    return resolve_model(sc.reference or cfg.reference or cfg.model.path)


def run_stage(cfg, stage: int, policy_path: str, out: Path, tok) -> dict:
    sc = getattr(cfg, f"stage{stage}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    t0 = time.time()
    rows, weights = load_prompt_pool(sc.prompts)
    eval_rows = load_prompt_rows(sc.eval_prompts)[: sc.eval_max_prompts]
    ref_path = reference_path(cfg, sc, policy_path)
    print(f"[align] stage {stage}: policy {policy_path}, KL reference {ref_path}", flush=True)
    hybrid, rewards, log = start_hybrid(cfg, sc, policy_path, ref_path), StageRewards([]), None
    try:  # everything started is stopped, whatever fails
        rewards = build_rewards(cfg, sc, cfg.trainer.threads_per_worker)
        hybrid.start_schedule(rewards.servers)
        start, prior_wall = common.maybe_resume(cfg, out, hybrid.trainers_ready().group)
        log = MetricsLog(out, cfg.run.tensorboard, keep_until_step=start if cfg.run.resume else None)
        if cfg.run.resume:
            routing_log.keep_until(out, start)
        sync = hybrid.sync()
        diff = check_sync(hybrid, tok, rows, sync_check_tol(cfg))
        print(f"[align] stage {stage}: weight-sync check passed (max |dlogp| = {diff:.2e}, "
              f"{sync['sync_bytes'] / 1e6:.1f} MB in {sync['sync_seconds']:.2f}s)", flush=True)

        def evaluator(tag: str | None = None) -> dict:  # tag: also keep generations in samples_<tag>.json
            return evaluate(hybrid, tok, eval_rows, rewards, sc, cfg.run.seed, tag and out / f"samples_{tag}.json")

        before = _before(out, start, evaluator)
        if start == 0:
            log.log(0, **{f"eval/{k}": v for k, v in before.items()}, sync_check_max_abs_diff=diff)
        train_loop(cfg, sc, hybrid, tok, (rows, weights), rewards, log, start, out, (t0, prior_wall), evaluator)
        if sc.grpo.steps % cfg.rollout.sync_every:
            hybrid.sync()
        final_diff = check_sync(hybrid, tok, rows, sync_check_tol(cfg))
        after = evaluator("after")
        log.log(sc.grpo.steps, **{f"eval/{k}": v for k, v in after.items()})
        common.save_final(hybrid.trainers_ready(), out, policy_path)
    except Exception as exc:
        raise _actor_failure(hybrid, out, exc) or exc
    finally:
        if log is not None:
            log.close()
        rewards.close()
        hybrid.stop()
    result = {f"{k}_before": v for k, v in before.items()} | {f"{k}_after": v for k, v in after.items()}
    result |= {k: after[k] for k in AFTER_ONLY if k in after}
    result["wall_seconds"] = round(prior_wall + time.time() - t0, 1)
    result["sync_check_max_abs_diff"] = diff
    result["sync_check_final_max_abs_diff"] = final_diff
    result["swap_events"] = hybrid.events()[-8:]
    write_summary(out, result)
    plot_curves(out, ["reward_mean", "kl", "clip_frac", "loss", "completion_len", "zero_variance_frac"],
                "curves.png", f"align grpo stage {stage}")
    last = f"update{sc.grpo.updates_per_batch}/" if sc.grpo.updates_per_batch > 1 else ""
    plot_layer_heatmaps(out, [f"{last}routing/same_set", "routing/entropy"], "routing.png",
                        f"align grpo stage {stage}: routing per MoE layer")
    return result


def start_hybrid(cfg, sc, policy_path: str, ref_path: str) -> HybridEngine:
    """The stage's trainers (its own optimizer section), rollout engines and, unless LoRA makes the trainers' base
    the reference, a reference actor."""
    g, r = sc.grpo, cfg.rollout
    trainers = common.start_trainers(cfg, policy_path, g.prompts_per_step * g.group_size, micro=g.micro_batch_size,
                                     freeze_router=g.router == "freeze", optim=sc.optim)
    own_reference = not lora_reference(cfg, policy_path, ref_path)
    print(f"[align] KL reference: {'a separate reference actor' if own_reference else 'the policy with its LoRA adapters disabled (no second copy)'}", flush=True)
    return HybridEngine.launch(trainers, policy_path, ref_path if own_reference else None, r,
                               dtype=r.dtype or cfg.model.dtype, seed=cfg.run.seed,
                               max_model_len=cfg.max_length + g.max_new_tokens,
                               prefix_caching=g.routing_replay != "r3",  # R3 re-reads routes by a prefill
                               ref_threads=cfg.trainer.threads_per_worker, ref_gpus=cfg.trainer.gpus_per_worker and 0.01)


def lora_reference(cfg, policy_path: str, ref_path: str) -> bool:
    """With LoRA the trainers' base is the stage's starting policy; when that is also the KL reference, the
    reference is the trainers' model with the adapters disabled and needs no copy of its own."""
    return cfg.model.lora is not None and Path(policy_path).resolve() == Path(ref_path).resolve()


def check_sync(hybrid: HybridEngine, tok, rows: list[dict], tol: float) -> float:
    """Every engine's log-probs of fixed sequences (four prompts + a fixed answer) must equal the trainer's;
    returns the max |diff| over the engines."""
    ids = [prompt_ids(tok, r) for r in rows[:4]]
    seqs = [p + tok.encode(" The answer is 42.", add_special_tokens=False) for p in ids]
    diffs = hybrid.check(seqs, [len(p) for p in ids], tok.pad_token_id)
    for k, diff in enumerate(diffs):
        if not math.isfinite(diff) or diff > tol:
            raise RunFailure(f"weight-sync check failed: rollout engine {k} of {len(diffs)} and the trainer disagree "
                             f"on fixed sequences by {diff:.3g} nats (tolerance {tol}). That engine is not running "
                             f"the trained policy.")
    return max(diffs)


def _actor_failure(hybrid: HybridEngine, out: Path, exc: BaseException) -> RunFailure | None:
    """When an actor has died (or stopped answering), the run stops naming it; the checkpoints are untouched, so
    `run.resume=true` restarts every actor and continues from the last one. (Restarting the one actor in place
    would need its peers' collective state rebuilt: the trainers' process group, the weight-sync group.)"""
    dead = hybrid.dead_actors()
    if not dead:
        return None
    tag = common.latest_checkpoint(out)
    where = f"the last checkpoint, {out / 'checkpoints' / tag}, is intact" if tag else "no checkpoint was saved yet"
    cause = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
    return RunFailure(f"{', '.join(dead)} died during stage {out.name[-1]} ({type(exc).__name__}: {cause}); "
                      f"{where}. Rerun the same command with run.resume=true to continue from it.")


def _before(out: Path, start: int, evaluate_now) -> dict:
    """The stage's starting evaluation, computed once (a resumed stage reads it back)."""
    path = out / "eval_before.json"
    if start > 0 and path.exists():
        return json.loads(path.read_text())
    result = evaluate_now("before")
    path.write_text(json.dumps(result, indent=2))
    return result


# ---------------------------------------------------------------------- the loop
def train_loop(cfg, sc, hybrid: HybridEngine, tok, pool, rewards, log: MetricsLog, start: int, out: Path,
               clock: tuple[float, float], evaluator) -> None:
    """Steps `start`..`steps`: a GRPO step, the weight sync, metrics, checkpoints, evaluations.

    With `grpo.async: one_step` the next step's batch is generated while this step trains (with the weights
    the engines hold, one update behind) and waited for before the sync; a checkpoint keeps it, so a resumed
    run trains on the same batch."""
    g = sc.grpo
    one_step = g.async_mode == "one_step"
    pending = load_pending(out, start) if one_step else None
    bar = common.progress(g.steps, start, f"grpo stage {out.name[-1]}")
    try:
        for step in range(start, g.steps):
            lr = lr_at(step, g.steps, sc.optim.lr, int(sc.optim.warmup_ratio * g.steps), sc.optim.min_lr_ratio,
                       sc.optim.schedule)
            t0 = time.perf_counter()
            first, stale = (pending(), 1) if pending else (None, 0)
            batch = _rollouts(cfg, sc, hybrid, tok, pool, rewards, step, first)
            pending = (_draw(cfg, sc, hybrid, tok, pool, rewards, step + 1, early_reference=_early_reference(g, hybrid))
                       if one_step and step + 1 < g.steps else None)
            metrics = grpo_step(sc, hybrid, tok, batch, rewards, lr)
            metrics |= routing_log.log_step(out, step + 1, metrics.pop("routing_counts"))
            if one_step:  # the engines finish the next batch with the weights they hold, then take the new ones
                t1 = time.perf_counter()
                pending = pending and resolved(pending())
                metrics |= {"async/staleness": stale, "async/wait_seconds": time.perf_counter() - t1}
                if pending:  # the engines' own time for the next batch (generation_seconds counts until collected)
                    metrics["async/generate_seconds"] = hybrid.engine_seconds()
            if (step + 1) % cfg.rollout.sync_every == 0:
                metrics.update(hybrid.sync())
            metrics["step_seconds"] = time.perf_counter() - t0  # rollouts, rewards, training and the sync
            metrics["swap_events"] = len(hybrid.events())
            if g.eval_every and (step + 1) % g.eval_every == 0 and step + 1 < g.steps:
                metrics.update({f"eval/{k}": v for k, v in evaluator().items()})
            log.log(step + 1, lr=lr, **metrics)
            if g.save_every and (step + 1) % g.save_every == 0 and step + 1 < g.steps:
                save_pending(out, step + 1, pending)
                common.save_checkpoint(hybrid.trainers_ready().group, out, step + 1, clock[1] + time.time() - clock[0])
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", kl=f"{metrics.get('kl', 0):.3f}")
    finally:
        bar.close()


def grpo_step(sc, hybrid: HybridEngine, tok, batch, rewards, lr: float) -> dict:
    """The training half of a step on a scored batch (samples, reward values per function, rollout metrics, and
    its micro-batches with the reference log-probs when they were prepared early, else None)."""
    g = sc.grpo
    samples, values, metrics, prepared = batch
    if g.routing_replay == "r3":  # the rollout engine's experts for every token, replayed in every trainer forward
        t0 = time.perf_counter()
        for s, r in zip(samples, hybrid.routes([s.prompt_ids + s.completion_ids for s in samples])):
            s.routes = r
        metrics["routing/rollout_routes_seconds"] = time.perf_counter() - t0
        metrics["routing/rollout_routes_bytes"] = sum(s.routes.numel() * s.routes.element_size() for s in samples)
    t0 = time.perf_counter()
    per_rank, ref_metrics = prepared or prepare_batch(g, hybrid, tok, samples)
    metrics |= ref_metrics
    combined, adv, adv_stats = _advantages(sc, rewards.weights, values, per_rank, len(samples))
    set_advantages(per_rank, adv)
    n_tokens, slots = loss_tokens(per_rank), len(per_rank) * len(per_rank[0])
    kwargs = _objective_kwargs(g, slots, n_tokens, len(samples))
    updates = [_reduce(hybrid.train(per_rank, lr, **kwargs), n_tokens, slots) for _ in range(g.updates_per_batch)]
    lengths = torch.tensor([len(s.completion_ids) for s in samples], dtype=torch.float32)
    first_counts = [u.pop("routing_counts", None) for u in updates][0]  # the sampled policy's routers: update 1
    counts = {} if first_counts is None else {"trainer": first_counts}
    if counts and g.routing_replay == "r3":
        counts["rollout"] = routing_log.rollout_counts(samples, counts["trainer"].shape[-1])
    metrics["routing_counts"] = counts  # taken out by the loop, which knows the output folder
    return {**metrics, **_per_update(updates), **{k: float(v) for k, v in adv_stats.items()},
            "reward_mean_trained": float(combined.mean()), "reward_std": float(combined.std()),
            "completion_len": float(lengths.mean()), "loss_tokens": n_tokens,
            "truncated_frac": sum(s.finish_reason == "length" for s in samples) / len(samples),
            "train_seconds": time.perf_counter() - t0}


def prepare_batch(g, hybrid: HybridEngine, tok, samples) -> tuple[list, dict]:
    """The batch as micro-batches per trainer rank, with the reference's (and where needed the old policy's)
    log-probs attached; and their metrics (`reference_seconds`: the time they took)."""
    per_rank = micro_batches(samples, len(hybrid.trainers), g.micro_batch_size, tok.pad_token_id, g.mask_truncated)
    t0 = time.perf_counter()
    metrics = _reference_and_old_logprobs(g, hybrid, per_rank)
    metrics["reference_seconds"] = time.perf_counter() - t0
    return per_rank, metrics


def _early_reference(g, hybrid: HybridEngine) -> bool:
    """One-step-off: the next batch's reference log-probs can be computed as soon as it is generated, while the
    trainers still train on this one, when the reference is an actor of its own and nothing else of that batch
    needs the trainers (old log-probs would have to wait for this step's update, and R3 is refused)."""
    return hybrid.reference is not None and not _needs_old(g)


def _needs_old(g) -> bool:
    """Old-policy log-probs: with several updates per batch, KL in the reward, and R2/R3 (routes)."""
    return g.updates_per_batch > 1 or g.kl_in_reward or g.routing_replay in ("r2", "r3")


def _objective_kwargs(g, slots: int, n_tokens: int, n_seqs: int) -> dict:
    """What the "grpo" objective needs besides the micro-batch: global counts (exact batch means), the
    loss type, the sampling temperature, the rollout correction and the MoE balance coefficient."""
    from align.algos.grpo import LOSS_TYPES

    lt = LOSS_TYPES[g.loss_type]
    rc = g.rollout_correction
    return {"token_scale": slots / max(1, n_tokens), "seq_scale": slots / n_seqs, "temperature": g.temperature,
            "chunk_tokens": g.logprob_chunk_tokens, "aux_coef": g.aux_loss_coef,
            "correction": {"mode": rc.mode, "c_min": rc.c_min, "c_max": rc.c_max},
            "loss_kwargs": {"eps_low": g.eps_low, "eps_high": g.eps_high, "beta": 0.0 if g.kl_in_reward else g.beta,
                            "kl": g.kl_estimator, "aggregation": lt.aggregation, "ratio_level": lt.ratio_level,
                            "max_len": g.max_new_tokens}}


def _per_update(updates: list[dict]) -> dict:
    """The step's figures: each key's mean over the updates, and with several updates every update's own
    value as `update<i>/<key>` (clipping only acts from the second update on)."""
    out = {k: sum(u[k] for u in updates) / len(updates) for k in updates[0]}
    if len(updates) > 1:
        for i, u in enumerate(updates, 1):
            out |= {f"update{i}/{k}": v for k, v in u.items() if not k.startswith(("mismatch", "is/", "logprob_mismatch"))}
    return out


def _draw(cfg, sc, hybrid: HybridEngine, tok, pool, rewards, step: int, draw: int = 0, early_reference: bool = False):
    """Start generating draw `draw` of `step` (prompts and seed fixed by (seed, step, draw)); returns the function
    that waits for it and scores it: (samples, reward values per function, reward metrics, generation seconds,
    prepared). With `early_reference` (one-step-off async) a driver thread waits for the batch and has the
    reference score it at once, on the cores the generation leaves free while the trainers are still busy with
    the previous batch; `prepared` is then `prepare_batch`'s result, else None (the step prepares it)."""
    g = sc.grpo
    rows = pick_prompts(*pool, n=g.prompts_per_step, seed=cfg.run.seed, step=step, draw=draw)
    ids = [prompt_ids(tok, r) for r in rows]
    wait = hybrid.generate_later(ids, g.group_size, **sampling(g, tok), seed=cfg.run.seed * 100003 + step + 7919 * draw)

    def generated():
        outs, secs = wait()
        samples = to_samples(tok, rows, ids, outs)
        return samples, secs, prepare_batch(g, hybrid, tok, samples) if early_reference else None

    if early_reference:
        ex = ThreadPoolExecutor(1, thread_name_prefix="early-reference")
        generated = ex.submit(generated).result
        ex.shutdown(wait=False)  # the thread ends with its one task

    def finish():
        samples, secs, prepared = generated()
        hybrid.reward_models()
        values, m = score(samples, rewards.fns, g.max_reward_failure_frac)
        return samples, values, m, secs, prepared
    return finish


def _rollouts(cfg, sc, hybrid: HybridEngine, tok, pool, rewards, step: int, first=None):
    """Generate and score a batch of `prompts_per_step` groups (`first`: its first draw, already made). With
    `dynamic_sampling` (DAPO), groups whose rewards are all equal carry no signal: they are dropped and more
    prompts are drawn (`draw` 1, 2, ..., each deterministic per (seed, step, draw)) until the batch is full or
    `max_sampling_rounds` draws were made; a batch still short is filled with dropped groups (advantage 0), so
    its size never changes. Returns (samples, reward values per function, metrics, prepared); the reward
    metrics cover every sample drawn; `prepared` is the first draw's (see `_draw`) when it is the whole batch."""
    from align.algos.combine import combine, reward_matrix
    from align.algos.grpo import informative_groups

    g = sc.grpo
    G, want = g.group_size, g.prompts_per_step
    kept, spare, drawn, metrics, gen_s = [], [], [], [], 0.0
    for draw in range(g.max_sampling_rounds if g.dynamic_sampling else 1):
        got = first if draw == 0 and first else _draw(cfg, sc, hybrid, tok, pool, rewards, step, draw)()
        samples, values, m, secs, prepared = got
        gen_s, metrics = gen_s + secs, metrics + [m]
        matrix = reward_matrix(values)
        raw = combine(matrix, rewards.weights)
        drawn.append(raw)
        useful = informative_groups(raw, G, ~torch.isnan(matrix).all(-1)) if g.dynamic_sampling else None
        for b in range(len(samples) // G):
            group = (samples[b * G:(b + 1) * G], [v[b * G:(b + 1) * G] for v in values])
            (kept if useful is None or useful[b] else spare).append(group)
        if len(kept) >= want:
            break
    informative = min(len(kept), want)
    batch = (kept + spare)[:want]
    samples = [s for grp, _ in batch for s in grp]
    values = [[x for _, vals in batch for x in vals[f]] for f in range(len(rewards.fns))]
    every = torch.cat(drawn)
    out = {k: sum(m[k] for m in metrics) / len(metrics) for k in metrics[0]}
    out |= {"reward_mean": float(every.mean()), "generation_seconds": gen_s,
            "tokens_per_second": sum(len(s.completion_ids) for s in samples) / max(gen_s, 1e-9),
            "batch/prompt_hash": _prompt_hash(samples)}
    if g.dynamic_sampling:
        out |= {"dynamic/draws": len(drawn), "dynamic/drawn_groups": len(drawn) * want,
                "dynamic/kept_groups": informative, "dynamic/filled_groups": want - informative}
    return samples, values, out, prepared if len(drawn) == 1 and not g.dynamic_sampling else None


def _prompt_hash(samples) -> int:
    """A fingerprint of the batch's prompts, in order (which data a step trained on, comparable across runs)."""
    import zlib

    return zlib.crc32(",".join(str(t) for s in samples for t in s.prompt_ids).encode())


def _advantages(sc, weights: list[float], values, per_rank, n: int):
    """Weighted reward sum (each reward first normalised within its group when the stage says
    so; minus beta * KL when folded into the reward) -> group advantages. Returns the raw
    weighted sum [N] for the metrics, the advantages [N] and their statistics. Completions no
    reward function could judge are left out of their group's statistics."""
    from align.algos.combine import combine, group_normalise, reward_matrix

    g = sc.grpo
    matrix = reward_matrix(values)
    valid = ~torch.isnan(matrix).all(-1)
    raw = combine(matrix, weights).float()
    rewards = combine(group_normalise(matrix, g.group_size), weights).float() if sc.normalize_rewards else raw
    if g.kl_in_reward:
        rewards = rewards - g.beta * sequence_kl(per_rank, n, g.kl_estimator)
    adv, stats = group_advantages(rewards, g.group_size, scale=g.advantage_scale, valid=valid)
    return raw, adv, stats


def _reference_and_old_logprobs(g, hybrid: HybridEngine, per_rank) -> dict:
    """Reference log-probs always; old log-probs when several updates reuse the batch (with one update the
    old policy is the current one), for R2 (recording routes) and for R3 (with the rollout's routes replayed,
    and without them for the metrics it returns)."""
    r2 = g.routing_replay == "r2"  # the old-policy forward records each token's experts for the updates
    r3 = g.routing_replay == "r3"  # ... or replays the rollout's, and also scores without them (metrics)
    need_old = _needs_old(g)
    lp = {"temperature": g.temperature, "chunk_tokens": g.logprob_chunk_tokens}  # the sampling policy's log-probs
    ref, old = hybrid.logprobs(per_rank, old=need_old, lp=lp, lp_old={"record_routes": r2, "without_replay": r3})
    it = iter(ref)
    _attach(per_rank, "ref_logp", [[next(it) for _ in mbs] for mbs in per_rank])
    extra = {}
    if old is not None and (r2 or r3):
        _attach(per_rank, "routes" if r2 else "free_logp", [[x for _, x in vals] for vals in old])
        old = [[logp for logp, _ in vals] for vals in old]
    if old is not None:
        _attach(per_rank, "old_logp", old)
    if r3:
        extra = _mismatch_without_replay(per_rank)
    return extra


def sampling(g, tok) -> dict:
    """The rollout engines' sampling settings of a stage (`g`: its `grpo` section)."""
    return {"temperature": g.temperature, "top_p": g.top_p, "max_tokens": g.max_new_tokens,
            "stop_token_ids": [tok.eos_token_id]}


def _mismatch_without_replay(per_rank) -> dict:
    """R3: the rollout/trainer mismatch of the same batch scored without the rollout's routes."""
    from align.algos.rollout_correction import finish_stats, merge_stats, mismatch_stats

    stats = merge_stats([mismatch_stats(mb.pop("free_logp"), mb["rollout_logp"], mb["loss_mask"][:, 1:])
                         for mbs in per_rank for mb in mbs])
    return {k.replace("mismatch/", "mismatch_without_replay/"): v for k, v in finish_stats(stats).items()}


def _attach(per_rank, key: str, values) -> None:
    for mbs, vals in zip(per_rank, values):
        for mb, v in zip(mbs, vals):
            mb[key] = v


def _reduce(results: list[dict], n_tokens: int, slots: int) -> dict:
    """Per-rank sums -> global metrics: token-weighted means, the loss, the slowest rank's time, the
    rollout mismatch and importance weights (align.algos.rollout_correction.finish_stats)."""
    from align.algos.rollout_correction import finish_stats, merge_stats

    merged = merge_stats(results)
    out = {k.removesuffix("_sum"): v / max(1, n_tokens) for k, v in merged.items()
           if k.endswith("_sum") and not k.startswith(("mismatch_", "is_"))}
    out["loss"] = merged["loss_slot"] / slots
    out["grad_norm"] = results[0]["grad_norm"]
    out["update_seconds"] = max(r["step_seconds"] for r in results)
    out["memory/trainer_peak_mb"] = max(r.get("rss_peak_mb", 0.0) for r in results)  # the largest rank's process
    if "routing_counts" in merged:  # [L, E], the first update's: the routes the sampled policy's routers choose
        out["routing_counts"] = merged["routing_counts"]
    for k in ("expert_load_max", "expert_load_min"):  # the extreme over micro-batches and ranks
        if k in merged:
            out[k] = merged[k]
    out |= finish_stats(merged)
    if "mismatch/mean" in out:  # the names earlier runs logged
        out["logprob_mismatch"], out["logprob_mismatch_max"] = out["mismatch/mean"], out["mismatch/max"]
    return out
