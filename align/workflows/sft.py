"""`align sft RECIPE`: supervised fine-tuning on the Ray + DeepSpeed engine.

Reads top to bottom: resolve the model, prepare the output folder, encode the data
mixture, start the training workers, evaluate the starting point, train with
checkpoints, export `final/`, run the generation checks with vLLM (`eval.watch`:
refusal, math, GSM8K, XSTest; on the starting model too with `eval.baseline`), write
the summary and plots. The same driver pretrains the built-in base
(`recipes/tiny_base.yaml`, loss on all tokens).

Departure from DeepSeek-V2: the paper fine-tunes at lr 5e-6 for 2 epochs on 1.5 M
conversations; the built-in ~12 M model learns from ~3 k conversations, so its
recipe uses a much larger learning rate (see recipes/v2_chat_lite.yaml for the
paper's settings on DeepSeek-V2-Lite).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from align.algos.schedule import lr_at
from align.config import ConfigError
from align.data.mixture import covering_size, group_by_length, sample_epoch
from align.data.prepare import encode_sources
from align.workflows import common
from align.workflows.models import resolve_model
from align.workflows.outputs import MetricsLog, plot_curves, prepare_output, read_metrics, write_summary


SHOWN = ("eval_loss", "base_eval_loss", "refusal_rate_harmful", "over_refusal_rate_benign", "math_accuracy",
         "gsm8k_accuracy", "xstest_refusal_unsafe", "xstest_over_refusal_safe")


@dataclass(frozen=True)
class Plan:
    """How the data mixture maps onto optimizer steps."""
    steps_per_epoch: int
    total_steps: int
    per_epoch: int
    warmup_steps: int


def make_plan(cfg, pools) -> Plan:
    per_epoch = cfg.data.samples_per_epoch or covering_size([len(p) for p in pools], [s.weight for s in cfg.data.train])
    steps_per_epoch = per_epoch // cfg.sft.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(f"`sft.batch_size` ({cfg.sft.batch_size}) is larger than the data ({per_epoch} sequences per epoch).")
    total = max(1, int(cfg.sft.epochs * steps_per_epoch))
    total = min(total, cfg.sft.max_steps) if cfg.sft.max_steps else total
    return Plan(steps_per_epoch, total, per_epoch, int(cfg.optim.warmup_ratio * total))


class Batches:
    """Deterministic global batches: step -> list of Encoded, same for resume."""

    def __init__(self, cfg, pools, plan: Plan, eval_set: list) -> None:
        self.cfg, self.pools, self.plan, self.eval_set, self._epoch = cfg, pools, plan, eval_set, (None, None)

    def __call__(self, step: int) -> list:
        epoch, index = divmod(step, self.plan.steps_per_epoch)
        if self._epoch[0] != epoch:
            weights = [s.weight for s in self.cfg.data.train]
            items = sample_epoch(self.pools, weights, self.plan.per_epoch, self.cfg.run.seed, epoch)
            if self.cfg.sft.group_by_length:
                items = group_by_length(items, self.cfg.sft.batch_size, self.cfg.run.seed, epoch)
            self._epoch = (epoch, items)
        bs = self.cfg.sft.batch_size
        return self._epoch[1][index * bs : (index + 1) * bs]


def run(cfg) -> dict:
    if cfg.eval.enabled:  # the refusal evaluation at the end runs vLLM: know now that it can start
        common.check_rollout_engine(cfg, cfg.model.path, cfg.model.dtype)
    model_path = resolve_model(cfg.model.path)
    out = prepare_output(cfg)
    t_start = time.time()
    tok = common.load_tokenizer(model_path)
    pools = encode_sources(tok, cfg.data.train, cfg.data.max_length, cfg.data.loss_on)
    eval_pools = encode_sources(tok, cfg.data.eval, cfg.data.max_length, cfg.data.loss_on)
    eval_set = [e for p in eval_pools for e in p]
    plan = make_plan(cfg, pools)
    common.check_batching(cfg.sft.batch_size, cfg.sft.micro_batch_size, cfg.trainer.num_workers)
    batches = Batches(cfg, pools, plan, eval_set)

    resuming = cfg.run.resume and common.latest_checkpoint(out) is not None
    before = {}
    if cfg.eval.enabled and cfg.eval.baseline and not resuming:  # the starting model's figures (step 0), before
        before = common.generation_checks(cfg, model_path, tok, out / "samples_before.json")  # the trainers hold the CPUs
    group = common.start_trainers(cfg, model_path, cfg.sft.batch_size)
    start_step, prior_wall = common.maybe_resume(cfg, out, group)
    log = MetricsLog(out, cfg.run.tensorboard, keep_until_step=start_step if cfg.run.resume else None)
    print(f"[align] sft: {sum(map(len, pools))} train sequences, {len(eval_set)} eval, "
          f"{plan.total_steps} steps on {len(group)} DeepSpeed worker(s) (ZeRO-{cfg.trainer.zero_stage})", flush=True)
    if start_step == 0 and (eval_set or before):
        log.log(0, **({"eval_loss": common.eval_loss(group, eval_set, cfg, tok)} if eval_set else {}), **before)

    _train(cfg, out, group, batches, plan, start_step, log, tok, t_start - prior_wall)
    common.save_final(group, out, model_path)
    result = {"eval_loss": common.eval_loss(group, eval_set, cfg, tok) if eval_set else None}
    log.log(plan.total_steps, eval_loss=result["eval_loss"])
    group.kill()
    if cfg.eval.enabled:
        result.update(common.generation_checks(cfg, str(out / "final"), tok, out / "samples.json"))
    return _finish(cfg, out, log, result, plan, prior_wall + time.time() - t_start)


def _train(cfg, out, group, batches: Batches, plan: Plan, start_step: int, log: MetricsLog, tok, t_origin: float) -> None:
    """The optimizer-step loop; `t_origin` is when the run (before any resume) started."""
    bar = common.progress(plan.total_steps, start_step, "sft")
    for step in range(start_step, plan.total_steps):
        lr = lr_at(step, plan.total_steps, cfg.optim.lr, plan.warmup_steps, cfg.optim.min_lr_ratio, cfg.optim.schedule)
        metrics = common.train_step(group, batches(step), cfg, tok, lr)
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{lr:.2e}")
        if (step + 1) % cfg.sft.log_every == 0 or step + 1 == plan.total_steps:
            log.log(step + 1, lr=lr, epoch=(step + 1) / plan.steps_per_epoch, **metrics)
        if cfg.sft.eval_every and (step + 1) % cfg.sft.eval_every == 0 and step + 1 < plan.total_steps:
            log.log(step + 1, eval_loss=common.eval_loss(group, batches.eval_set, cfg, tok))
        if cfg.sft.save_every and (step + 1) % cfg.sft.save_every == 0 and step + 1 < plan.total_steps:
            common.save_checkpoint(group, out, step + 1, time.time() - t_origin)
    bar.close()


def _finish(cfg, out, log: MetricsLog, result: dict, plan: Plan, wall: float) -> dict:
    log.close()
    rows = read_metrics(out)
    base = next((r["eval_loss"] for r in rows if r["step"] == 0 and "eval_loss" in r), None)
    start = {k: v for r in rows if r["step"] == 0 for k, v in r.items() if k in result and k != "eval_loss"}
    summary = {"command": "sft", "steps": plan.total_steps, "base_eval_loss": base, "wall_seconds": round(wall, 1),
               "final_train_loss": next((r["loss"] for r in reversed(rows) if "loss" in r), None), **result,
               **{f"{k}_before": v for k, v in start.items()}}
    write_summary(out, summary)
    plot_curves(out, ["loss", "eval_loss", "aux_loss", "grad_norm", "lr"], "loss.png", f"align sft: {cfg.run.name}")
    print(f"[align] sft done in {wall:.0f}s: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
          for k, v in summary.items() if k in SHOWN), flush=True)
    print(f"[align] outputs in {out}/ (summary.json, metrics.jsonl, loss.png, final/)", flush=True)
    return summary
