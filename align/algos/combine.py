"""Combining several reward functions into one scalar reward per completion."""
from __future__ import annotations

import torch


def reward_matrix(columns: list[list[float | None]]) -> torch.Tensor:
    """Per-function reward lists (None = no opinion) -> [N, F] with NaN for None."""
    n = len(columns[0]) if columns else 0
    return torch.tensor([[float("nan") if c[i] is None else float(c[i]) for c in columns] for i in range(n)],
                        dtype=torch.float64).reshape(n, len(columns))


def group_normalise(matrix: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """Normalise each reward column within each group: (r - mean) / (std + eps), NaN kept.

    matrix: [N, F] with N = groups * group_size (group-major). Returns [N, F].
    """
    n, f = matrix.shape
    g = matrix.reshape(n // group_size, group_size, f)
    valid = ~torch.isnan(g)
    cnt = valid.sum(1, keepdim=True).clamp(min=1)
    mean = torch.where(valid, g, 0.0).sum(1, keepdim=True) / cnt
    var = torch.where(valid, (g - mean) ** 2, 0.0).sum(1, keepdim=True) / (cnt - 1).clamp(min=1)
    return ((g - mean) / (var.sqrt() + eps)).reshape(n, f)


def combine(matrix: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """Weighted sum over functions that gave an opinion; 0 where none did. [N, F] -> [N]."""
    w = torch.tensor(weights, dtype=matrix.dtype)
    return torch.where(torch.isnan(matrix), 0.0, matrix * w).sum(-1)
