"""Learning-rate schedules: linear warmup, then cosine / linear decay or constant."""
from __future__ import annotations

import math


def lr_at(step: int, total_steps: int, base_lr: float, warmup_steps: int, min_lr_ratio: float = 0.0, kind: str = "cosine") -> float:
    """Learning rate for optimizer step `step` (0-based) out of `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if kind == "constant":
        return base_lr
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    floor = base_lr * min_lr_ratio
    shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if kind == "cosine" else 1.0 - progress
    return floor + (base_lr - floor) * shape
