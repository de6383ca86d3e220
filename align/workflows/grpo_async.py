"""One-step-off async GRPO (`grpo.async: one_step`): where it may run, and the batch generated ahead of a
checkpoint (kept beside it, so a resumed run trains on the same batches). The loop itself is in grpo.py."""
from __future__ import annotations

from pathlib import Path

import torch

from align.config import ConfigError


def check_async(cfg, g, key: str) -> None:
    """One-step-off generation overlaps training, so it needs engines of their own and one batch per draw."""
    if g.async_mode == "off":
        return
    clashes = {"rollout.placement: colocated (engines and trainers would share the accelerators they overlap on)":
               cfg.rollout.placement == "colocated",
               f"{key}.dynamic_sampling (its extra draws would wait for the training they should overlap)":
               g.dynamic_sampling,
               f"{key}.routing_replay: r3 (the routes would be read after the next batch, from later weights)":
               g.routing_replay == "r3",
               "rollout.sync_every other than 1 (the batches would be more than one update behind)":
               cfg.rollout.sync_every != 1}
    if bad := [k for k, v in clashes.items() if v]:
        raise ConfigError(f"`{key}.async: {g.async_mode}` cannot be combined with {'; '.join(bad)}. Turn those off "
                          f"or set `{key}.async: off`.")
    _note_cpu_oversubscription(cfg, key)


def _note_cpu_oversubscription(cfg, key: str) -> None:
    """On CPU, async runs the engines and the trainers at once: threads beyond the cores wait for each other
    (measured 1.4 x slower, README Speed), so say so before the run starts."""
    import os

    from engine import device

    if cfg.cluster.address or device.has_cuda():
        return
    t, r = cfg.trainer, cfg.rollout
    threads = t.num_workers * t.threads_per_worker + r.num_engines * (r.cpu_threads or 1)
    have = cfg.cluster.num_cpus or os.cpu_count()
    if threads > have:
        print(f"[align] note: `{key}.async` runs generation and training at once, and their threads "
              f"({t.num_workers} x `trainer.threads_per_worker` {t.threads_per_worker} + {r.num_engines} engine(s) x "
              f"{r.cpu_threads or 1}) exceed the {have} cores here; oversubscribed threads wait for each other. "
              "Lower `trainer.threads_per_worker` (1 on 2 cores).", flush=True)


def resolved(result):
    return lambda: result


def save_pending(out: Path, step: int, pending) -> None:
    """One-step-off: the batch generated for `step` goes beside the checkpoint of `step` (written first)."""
    if pending is not None:
        torch.save(pending(), out / "checkpoints" / f"pending_step_{step}.pt")


def load_pending(out: Path, start: int):
    path = out / "checkpoints" / f"pending_step_{start}.pt"
    if start == 0 or not path.exists():
        if start:
            print(f"[align] resume: no pending batch for step {start + 1} ({path.name}); generating it now with the "
                  "resumed weights (this step is not one update behind)", flush=True)
        return None
    batch = tuple(torch.load(path, weights_only=False))
    return resolved(batch + (None,) * (5 - len(batch)))  # saved before batches carried their prepared reference
