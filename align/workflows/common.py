"""Driver steps shared by the commands: trainers, batching, checkpoints, evaluation."""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from align.config import ConfigError

KEEP_CHECKPOINTS = 2


def load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def progress(total: int, initial: int, desc: str, unit: str = "step"):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr,
                mininterval=1.0, smoothing=0.1)


# ---------------------------------------------------------------------- trainers
def check_batching(batch_size: int, micro: int, workers: int, keys: str = "`sft.batch_size` or `sft.micro_batch_size`") -> None:
    """Every rank must run the same whole number of full micro-batches, or DeepSpeed's accumulation count
    (batch / (micro x workers)) and the loss scale disagree and the step is not the batch mean."""
    if batch_size % (micro * workers):
        raise ConfigError(f"batch size {batch_size} must be a multiple of micro_batch_size x trainer.num_workers "
                          f"= {micro} x {workers}; change {keys}.")


def deepspeed_config(cfg, batch_size: int, micro: int, optim=None) -> dict:
    """`optim`: the optimizer section (default `cfg.optim`; a GRPO stage has its own)."""
    t, optim = cfg.trainer, optim or cfg.optim
    ds = {
        "train_micro_batch_size_per_gpu": micro,
        "gradient_accumulation_steps": batch_size // (micro * t.num_workers),
        "gradient_clipping": optim.grad_clip,
        "zero_optimization": {"stage": t.zero_stage},
        "zero_allow_untested_optimizer": True,
        "bf16": {"enabled": cfg.model.dtype == "bfloat16"},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if t.deepspeed_config:
        ds = _merge(ds, json.loads(Path(t.deepspeed_config).read_text()))
    ds["_optimizer"] = {"lr": optim.lr, "betas": list(optim.betas), "weight_decay": optim.weight_decay}
    return ds


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass(frozen=True)
class Trainers:
    """The DeepSpeed worker group and the micro-batch size it was configured with."""
    group: Any
    micro: int

    def __len__(self) -> int:
        return len(self.group)

    def call(self, method: str, *args, **kwargs) -> list:
        return self.group.call(method, *args, **kwargs)

    def kill(self) -> None:
        self.group.kill()


def start_trainers(cfg, model_path: str, batch_size: int, micro: int | None = None,
                   model_kind: str = "causal_lm", freeze_router: bool = False, optim=None) -> Trainers:
    """The DeepSpeed ranks of `cfg.trainer`, set up on `model_path`; `micro` defaults to `cfg.sft.micro_batch_size`
    and `optim` to `cfg.optim` (a GRPO stage passes its own)."""
    from engine.cluster import WorkerGroup, start_ray
    from engine.trainer import TrainWorker

    start_ray(cfg.cluster.address, cfg.cluster.num_cpus)
    t = cfg.trainer
    micro = micro or cfg.sft.micro_batch_size
    group = WorkerGroup(TrainWorker, t.num_workers, t.cpus_per_worker, t.gpus_per_worker,
                        lambda r: (r, t.num_workers, None, None, t.threads_per_worker), strategy=t.placement)
    addr, port = group.call_rank0("free_address")  # the rendezvous is on rank 0's node
    nodes = {w["node"] for w in group.call("set_rendezvous", addr, port)}
    print(f"[align] {t.num_workers} trainer rank(s) on {len(nodes)} node(s), rendezvous {addr}:{port}", flush=True)
    info = group.call("setup", model_path, deepspeed_config(cfg, batch_size, micro, optim), cfg.run.seed, cfg.model.dtype,
                      model_kind, freeze_router, cfg.model.lora)
    if cfg.model.lora is not None:
        print(f"[align] LoRA r={cfg.model.lora.r}: {info[0]['trainable']:,} of {info[0]['params']:,} parameters train "
              f"({100 * info[0]['trainable'] / info[0]['params']:.2f} %)", flush=True)
    return Trainers(group, micro)


def shard(items: list, group, micro: int) -> list[list[list]]:
    """Split a global batch into per-rank lists of micro-batches (equal counts)."""
    n = len(group)
    per_rank = [items[r::n] for r in range(n)]
    return [[rank[i : i + micro] for i in range(0, len(rank), micro)] for rank in per_rank]


def train_step(group, items: list, cfg, tok, lr: float) -> dict:
    from engine.trainer import collate

    micro = group.micro
    parts = shard(items, group, micro)
    gas = len(parts[0])
    n_tokens = sum(sum(e.loss_mask[1:]) for e in items)
    scale = len(group) * gas / max(1, n_tokens)
    per_rank = [([collate(mb, tok.pad_token_id) for mb in mbs], lr, "sft") for mbs in parts]
    results = group.call("train_step", per_rank=per_rank, token_scale=scale, aux_coef=cfg.sft.aux_loss_coef)
    nll = sum(r["nll_sum"] for r in results)
    return {"loss": nll / max(1, n_tokens), "aux_loss": sum(r["aux_loss"] for r in results) / (gas * len(group)),
            "grad_norm": results[0]["grad_norm"], "tokens": n_tokens,
            **{k: max(r[k] for r in results) for k in ("expert_load_max",) if k in results[0]},  # max over micro-batches
            **{k: min(r[k] for r in results) for k in ("expert_load_min",) if k in results[0]},
            "step_seconds": max(r["step_seconds"] for r in results)}


def eval_loss(group, items: list, cfg, tok) -> float:
    """Per-token NLL over `items`; every rank gets the same number of micro-batches."""
    from engine.trainer import collate

    micro = group.micro
    parts = shard(items, group, micro)
    width = max(len(p) for p in parts)
    filler = [items[0]]  # zero-weight padding batch keeps ZeRO-3 collectives aligned
    per_rank = []
    for mbs in parts:
        batches = [collate(mb, tok.pad_token_id) for mb in mbs]
        for _ in range(width - len(mbs)):
            b = collate(filler, tok.pad_token_id)
            b["loss_mask"].zero_()
            batches.append(b)
        per_rank.append((batches, "sft_eval"))
    results = group.call("eval_step", per_rank=per_rank)
    return sum(r["nll_sum"] for r in results) / max(1.0, sum(r["n_tokens"] for r in results))


# ---------------------------------------------------------------------- checkpoints
def save_checkpoint(group, out: Path, step: int, wall: float) -> None:
    ckpt = out / "checkpoints"
    group.call("save_checkpoint", str(ckpt), f"step_{step}", {"step": step, "wall_seconds": wall})
    tags = sorted((p for p in ckpt.glob("step_*") if p.is_dir()), key=lambda p: int(p.name.split("_")[1]))
    for old in tags[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(out: Path) -> str | None:
    latest = out / "checkpoints" / "latest"
    return latest.read_text().strip() if latest.exists() else None


def maybe_resume(cfg, out: Path, group) -> tuple[int, float]:
    """On `run.resume=true`, load the latest checkpoint; returns (step, wall seconds so far)."""
    if not cfg.run.resume:
        return 0, 0.0
    tag = latest_checkpoint(out)
    if tag is None:
        print(f"[align] resume: no checkpoint in {out}/checkpoints, starting from step 0", flush=True)
        return 0, 0.0
    state = group.call("load_checkpoint", str(out / "checkpoints"), tag)[0]
    print(f"[align] resumed from {tag} (step {state['step']})", flush=True)
    return int(state["step"]), float(state.get("wall_seconds", 0.0))


def save_final(group, out: Path, model_path: str) -> None:
    final = out / "final"
    if final.exists():
        shutil.rmtree(final)
    group.call("save_hf", str(final), model_path)


# ---------------------------------------------------------------------- generation eval
def generation_checks(cfg, model_path: str, tok, samples_path: Path | None = None) -> dict:
    """`cfg.eval.watch` checks (align.workflows.benchmarks) on `model_path` with a fresh vLLM
    engine; the first replies of each check go to `samples_path` to read."""
    from functools import partial

    from align.workflows import benchmarks
    from engine.cluster import start_ray
    from engine.hybrid import generate_over

    e = cfg.eval
    start_ray(cfg.cluster.address, cfg.cluster.num_cpus)
    engine = make_rollout(cfg, model_path)
    try:
        generate = benchmarks.engine_generator(partial(generate_over, [engine]), tok, cfg.run.seed)
        got = benchmarks.run(e.watch, generate, e.max_prompts, e.max_new_tokens)
    finally:
        _kill(engine)
    if samples_path is not None:
        samples_path.write_text(json.dumps(got.samples, indent=1))
    return got.metrics


def check_rollout_engine(cfg, model: str, dtype: str, attention_backend: str | None = None) -> None:
    """Fail in seconds, before any training, if vLLM cannot start for `model` here (engine.preflight).

    Skipped when the run joins a Ray cluster (`cluster.address`): the engines then start on
    other nodes, whose CPUs and GPUs the driver's machine does not tell.
    """
    from align.models.builtin import cache_root
    from align.workflows.models import architecture_path
    from engine import preflight

    if cfg.cluster.address:
        print("[align] rollout engine check skipped: the engines start on the Ray cluster's nodes", flush=True)
        return
    path = architecture_path(model)
    if not (Path(path) / "config.json").exists():
        return  # a missing model is reported by the command's own input checks
    result = preflight.check(path, dtype, attention_backend, cache_dir=cache_root())
    if not result["cached"]:
        print(f"[align] rollout engine check passed in {result['seconds']:.0f}s "
              f"(vLLM {result['attention_backend'] or 'default'} attention, {dtype})", flush=True)


def make_rollout(cfg, model_path: str, num_cpus: float = 1.0):
    import ray

    from align.workflows.benchmarks import LONGEST_REPLY
    from engine.rollout import RolloutEngine

    actor = ray.remote(RolloutEngine).options(num_cpus=num_cpus, num_gpus=cfg.trainer.gpus_per_worker and 1)
    return actor.remote(model_path, dtype=cfg.model.dtype, seed=cfg.run.seed, kv_cache_gib=cfg.eval.kv_cache_gib,
                        max_model_len=max(512, cfg.data.max_length + (cfg.eval.max_new_tokens or LONGEST_REPLY)))


def _kill(actor) -> None:
    import ray

    ray.kill(actor)
