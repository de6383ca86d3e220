"""Mixtures of sources with ratios, deterministic per (seed, epoch)."""
from __future__ import annotations

import random


def mixture_counts(sizes: list[int], weights: list[float], total: int) -> list[int]:
    """Samples per source: proportional to weight, summing exactly to `total`."""
    wsum = sum(weights)
    raw = [total * w / wsum for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def sample_epoch(pools: list[list], weights: list[float], total: int, seed: int, epoch: int) -> list:
    """One epoch's shuffled mixture: `total` items drawn from `pools` by `weights`.

    A source asked for more items than it has is repeated whole (then topped up at
    random); fewer is a random subset. The same (seed, epoch) gives the same order.
    """
    rng = random.Random(f"{seed}:{epoch}")
    out = []
    for pool, n in zip(pools, mixture_counts([len(p) for p in pools], weights, total)):
        reps, rest = divmod(n, len(pool))
        out += list(pool) * reps + rng.sample(list(pool), rest)
    rng.shuffle(out)
    return out
