"""`align rm RECIPE`: reward models on the SFT model, pairwise or pointwise, on the same engine.

Reads top to bottom: check the backbone, prepare the output folder, encode the pairs or
points, start the DeepSpeed workers with a scalar head on the causal LM ("reward_model"
kind), evaluate, train with checkpoints, export `final/` (an HF sequence-classification
folder), evaluate held-out pairwise accuracy (a pointwise model ranks a pair by its two
scores; a `bench:` source such as HH-RLHF harmless-base is reported on its own, outside the
overall figures), write the summary and plots.

DeepSeek-V2 says only that its reward models are initialised from the SFT model and trained
"with a pointwise or a pairwise loss"; the losses are the standard ones (align.algos.rm):
Bradley-Terry with TRL's margin and centering, and MSE on a score or BCE on a label. The
head is a fresh linear layer on the last token's hidden state, as in TRL and OpenRLHF.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from align.algos.rm import pairwise_accuracy, roc_auc
from align.algos.schedule import lr_at
from align.config import ConfigError
from align.data.chat import Encoded
from align.data.loaders import load_rows
from align.data.prefs import Pair, Point, load_pairs, load_points
from align.workflows import common
from align.workflows.models import resolve_model
from align.workflows.outputs import MetricsLog, plot_curves, prepare_output, read_metrics, write_summary

POINT_COLUMN = {"mse": "score", "bce": "label"}


@dataclass(frozen=True)
class EvalSet:
    name: str
    pairs: list
    points: list
    benchmark: bool = False  # a real benchmark (bench:): reported alone, kept out of the overall figures


def run(cfg) -> dict:
    model_path = backbone(cfg.model.path)
    out = prepare_output(cfg)
    t_start = time.time()
    tok = common.load_tokenizer(model_path)
    train, skipped = load_train(cfg, tok)
    evals = [e for e in (load_eval(cfg, tok, s) for s in cfg.data.eval) if e is not None]
    r = cfg.rm
    common.check_batching(r.batch_size, r.micro_batch_size, cfg.trainer.num_workers, "`rm.batch_size` or `rm.micro_batch_size`")
    steps_per_epoch = len(train) // r.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(f"`rm.batch_size` ({r.batch_size}) is larger than the training data ({len(train)} rows).")
    total = max(1, int(r.epochs * steps_per_epoch))
    total = min(total, r.max_steps) if r.max_steps else total
    group = common.start_trainers(cfg, model_path, r.batch_size, micro=r.micro_batch_size, model_kind="reward_model")
    start, prior_wall = common.maybe_resume(cfg, out, group)
    log = MetricsLog(out, cfg.run.tensorboard, keep_until_step=start if cfg.run.resume else None)
    print(f"[align] rm ({r.loss}{'/' + r.pointwise_loss if r.loss == 'pointwise' else ''}): {len(train)} train rows "
          f"({skipped} identical pairs skipped), {sum(len(e.pairs) for e in evals)} eval pairs, {total} steps", flush=True)
    if start == 0 and evals and r.eval_at_start:
        log.log(0, **evaluate(group, evals, cfg, tok.pad_token_id))
    _train(cfg, out, group, train, evals, steps_per_epoch, total, start, log, tok.pad_token_id, t_start - prior_wall)
    common.save_final(group, out, model_path)
    result = evaluate(group, evals, cfg, tok.pad_token_id) if evals else {}
    log.log(total, **result)
    group.kill()
    return _finish(cfg, out, log, result, total, skipped, prior_wall + time.time() - t_start)


def backbone(path: str) -> str:
    if not path.startswith("builtin:") and not (Path(path) / "config.json").exists():
        raise ConfigError(f"`model.path` is `{path}`, which holds no model. Reward models start from the SFT model: "
                          "run `align sft recipes/v2_chat.yaml` first, or point `model.path` at an HF model folder.")
    return resolve_model(path)


# ---------------------------------------------------------------------- data
def load_train(cfg, tok) -> tuple[list, int]:
    r, items, skipped = cfg.rm, [], 0
    for src in cfg.data.train:
        if r.loss == "pairwise":
            got, n = load_pairs(tok, src, cfg.data.max_length, r.margin_column)
            items, skipped = items + got, skipped + n
        else:
            items += load_points(tok, src, cfg.data.max_length, POINT_COLUMN[r.pointwise_loss])
    if not items:
        raise ConfigError("`data.train` holds no usable rows for the reward model.")
    return items, skipped


def load_eval(cfg, tok, src) -> EvalSet | None:
    """A held-out source: pairs (chosen/rejected columns) or points (completion column); None for a
    benchmark (`bench:`) whose data is absent here."""
    from align.data import benchmarks

    name, is_bench = source_name(src.source), src.source.startswith(benchmarks.PREFIX)
    if is_bench and not benchmarks.available(name):
        print(f"[align] {benchmarks.missing_note(name)}", flush=True)
        return None
    first = load_rows(src.source, src.split, 1)
    if first and "completion" in first[0]:
        return EvalSet(name, [], load_points(tok, src, cfg.data.max_length, POINT_COLUMN[cfg.rm.pointwise_loss]))
    return EvalSet(name, load_pairs(tok, src, cfg.data.max_length)[0], [], is_bench)


def pair_batch(pairs: list[Pair], pad_id: int) -> dict:
    from engine.trainer import collate

    seqs = [Encoded(s, (0,) * len(s)) for p in pairs for s in (p.chosen, p.rejected)]
    mb = collate(seqs, pad_id)
    mb["margin"] = torch.tensor([p.margin for p in pairs], dtype=torch.float32)
    return mb


def point_batch(points: list[Point], pad_id: int) -> dict:
    from engine.trainer import collate

    mb = collate([Encoded(p.ids, (0,) * len(p.ids)) for p in points], pad_id)
    mb["target"] = torch.tensor([p.target for p in points], dtype=torch.float32)
    return mb


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(f"{seed}:{epoch}:rm").shuffle(order)
    return order


# ---------------------------------------------------------------------- training
def _train(cfg, out, group, train: list, evals: list, per_epoch: int, total: int, start: int, log: MetricsLog,
           pad_id: int, t_origin: float) -> None:
    r, o = cfg.rm, cfg.optim
    bar = common.progress(total, start, "rm")
    make = pair_batch if r.loss == "pairwise" else point_batch
    for step in range(start, total):
        epoch, index = divmod(step, per_epoch)
        order = epoch_order(len(train), cfg.run.seed, epoch)
        items = [train[i] for i in order[index * r.batch_size:(index + 1) * r.batch_size]]
        lr = lr_at(step, total, o.lr, int(o.warmup_ratio * total), o.min_lr_ratio, o.schedule)
        m = train_step(group, items, make, cfg, pad_id, lr)
        bar.update(1)
        bar.set_postfix(loss=f"{m['loss']:.3f}", lr=f"{lr:.2e}")
        if (step + 1) % r.log_every == 0 or step + 1 == total:
            log.log(step + 1, lr=lr, epoch=(step + 1) / per_epoch, **m)
        if evals and r.eval_every and (step + 1) % r.eval_every == 0 and step + 1 < total:
            log.log(step + 1, **evaluate(group, evals, cfg, pad_id))
        if r.save_every and (step + 1) % r.save_every == 0 and step + 1 < total:
            common.save_checkpoint(group, out, step + 1, time.time() - t_origin)
    bar.close()


def train_step(group, items: list, make, cfg, pad_id: int, lr: float) -> dict:
    parts = common.shard(items, group, group.micro)
    slots = len(group) * len(parts[0])
    kw = ({"pair_scale": slots / len(items), "center_coef": cfg.rm.center_coef} if cfg.rm.loss == "pairwise"
          else {"point_scale": slots / len(items), "loss_name": cfg.rm.pointwise_loss})
    objective = f"rm_{cfg.rm.loss}"
    res = group.call("train_step", per_rank=[([make(mb, pad_id) for mb in mbs], lr, objective) for mbs in parts], **kw)
    n = sum(x["n"] for x in res)
    m = {"loss": sum(x["loss_sum"] for x in res) / n, "grad_norm": res[0]["grad_norm"],
         "step_seconds": max(x["step_seconds"] for x in res)}
    if "correct" in res[0]:
        m["train_accuracy"] = sum(x["correct"] for x in res) / n
        m["reward_margin"] = sum(x["margin_sum"] for x in res) / n
    return m


# ---------------------------------------------------------------------- evaluation
EVAL_CHUNK = 256  # sequences per call while scoring: the bar moves and each call's batch stays bounded


def scores(group, seqs: list[tuple[int, ...]], pad_id: int, bar=None) -> torch.Tensor:
    """Reward of every sequence, in chunks of EVAL_CHUNK, advancing `bar` by each chunk's size: [N]."""
    out = []
    for i in range(0, len(seqs), EVAL_CHUNK):
        out.append(_scores(group, seqs[i:i + EVAL_CHUNK], pad_id))
        if bar is not None:
            bar.update(len(out[-1]))
    return torch.cat(out) if out else torch.zeros(0)


def _scores(group, seqs: list[tuple[int, ...]], pad_id: int) -> torch.Tensor:
    """Reward of every sequence, computed by the workers in equal shares: [N]."""
    from engine.trainer import collate

    if not seqs:
        return torch.zeros(0)
    enc = [Encoded(s, (0,) * len(s)) for s in seqs]
    parts = common.shard(enc, group, group.micro * 2)
    width = max(len(p) for p in parts)
    per_rank = [([collate(mb, pad_id) for mb in mbs] + [collate(enc[:1], pad_id)] * (width - len(mbs)),) for mbs in parts]
    got = group.call("rewards", per_rank=per_rank)
    out = torch.zeros(len(seqs))
    n = len(group)
    for rank, (mbs, res) in enumerate(zip(parts, got)):
        flat = torch.cat(res[: len(mbs)]) if mbs else torch.zeros(0)
        out[rank::n] = flat
    return out


def source_name(source: str) -> str:
    """A short metric name: `builtin:safety_pairs` -> safety_pairs, `data/prefs.jsonl` -> prefs,
    `Anthropic/hh-rlhf` -> hh-rlhf (the full source is in recipe.yaml)."""
    path = Path(source.removeprefix("builtin:").removeprefix("bench:"))
    return path.stem if path.suffix in (".jsonl", ".json", ".parquet") else path.name


def evaluate(group, evals: list[EvalSet], cfg, pad_id: int) -> dict:
    result, all_c, all_r, all_s = {}, [], [], []
    bar = common.progress(sum(2 * len(e.pairs) + len(e.points) for e in evals), 0, "rm eval", unit="seq")
    for e in evals:
        if e.pairs:
            s = scores(group, [x for p in e.pairs for x in (p.chosen, p.rejected)], pad_id, bar)
            c, r = s[0::2], s[1::2]
            result[f"pairwise_accuracy/{e.name}"] = pairwise_accuracy(c, r)
            for kind in sorted({p.source.split("/")[0] for p in e.pairs} - {""}):  # rows without `source`: no kind
                idx = torch.tensor([i for i, p in enumerate(e.pairs) if p.source.split("/")[0] == kind])
                result[f"pairwise_accuracy/{e.name}/{kind}"] = pairwise_accuracy(c[idx], r[idx])
            if not e.benchmark:
                all_c, all_r, all_s = all_c + [c], all_r + [r], all_s + [s]
        if e.points:
            s = scores(group, [p.ids for p in e.points], pad_id, bar)
            t = torch.tensor([p.target for p in e.points])
            result[f"mse/{e.name}" if cfg.rm.pointwise_loss == "mse" else f"auc/{e.name}"] = (
                float(((s - t) ** 2).mean()) if cfg.rm.pointwise_loss == "mse" else roc_auc(s, t))
            all_s.append(s)
    bar.close()
    if all_c:
        result["pairwise_accuracy"] = pairwise_accuracy(torch.cat(all_c), torch.cat(all_r))
    if all_s:
        s = torch.cat(all_s)
        result["reward_mean"], result["reward_std"] = float(s.mean()), float(s.std())
    return result


def _finish(cfg, out, log: MetricsLog, result: dict, steps: int, skipped: int, wall: float) -> dict:
    log.close()
    rows = read_metrics(out)
    before = next((r.get("pairwise_accuracy") for r in rows if r["step"] == 0), None)
    summary = {"command": "rm", "loss_type": cfg.rm.loss if cfg.rm.loss == "pairwise" else f"pointwise/{cfg.rm.pointwise_loss}",
               "steps": steps, "skipped_identical_pairs": skipped, "pairwise_accuracy_before": before,
               "wall_seconds": round(wall, 1), **result}
    write_summary(out, summary)
    plot_curves(out, ["loss", "train_accuracy", "pairwise_accuracy", "grad_norm", "lr"], "loss.png", f"align rm: {cfg.run.name}")
    print(f"[align] rm done in {wall:.0f}s: pairwise_accuracy={result.get('pairwise_accuracy')}", flush=True)
    print(f"[align] outputs in {out}/ (summary.json, metrics.jsonl, loss.png, final/)", flush=True)
    return summary
