"""Mixtures of sources with ratios, deterministic per (seed, epoch)."""
from __future__ import annotations

import math
import random


def mixture_counts(sizes: list[int], weights: list[float], total: int) -> list[int]:
    """Samples per source: proportional to weight, summing exactly to `total`."""
    wsum = sum(weights)
    raw = [total * w / wsum for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def covering_size(sizes: list[int], weights: list[float]) -> int:
    """The smallest epoch, at these ratios, that shows every item of every source at least
    once (DeepSeek-V2's 2 epochs over 1.2 M helpful + 0.3 M safety see both sets whole):
    max_i ceil(size_i * sum(w) / w_i). Sources with a larger share than their size repeat."""
    wsum = sum(weights)
    return max(math.ceil(n * wsum / w - 1e-9) for n, w in zip(sizes, weights) if w > 0)


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


def group_by_length(items: list, batch_size: int, seed: int, epoch: int, mega: int = 32) -> list:
    """Reorder an epoch so each global batch holds sequences of similar length (less padding).

    As HF's LengthGroupedSampler: cut the epoch into mega-batches of `mega` batches, sort
    each by length (longest first), cut it into batches, then shuffle the batch order.
    Every item stays in the epoch exactly once; the same (seed, epoch) gives the same order.
    """
    rng = random.Random(f"{seed}:{epoch}:length")
    size = batch_size * mega
    batches = []
    for i in range(0, len(items), size):
        chunk = sorted(items[i : i + size], key=lambda e: -len(e.input_ids))
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return [e for b in batches for e in b]
