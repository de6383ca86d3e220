"""Expert load per MoE layer over a GRPO stage: `routing_load.jsonl` and the per-layer figures of each step.

Each step the trainer reports how often each expert is its routers' own choice on the completion tokens
(`routing_counts` [L, E], summed over micro-batches and ranks), and under R3 the rollout engine's routes of the
same tokens. Per layer j the step logs the imbalance `routing/load_max/l<j>` (the busiest expert's share
times E: 1.0 is balanced) and the drift since the stage's first step `routing/load_drift/l<j>` (total
variation between the two load vectors, 0..1), for the trainer and, with `rollout_` in front, for vLLM.
The full [L, E] shares go to routing_load.jsonl, one line per step, for heat maps (a resumed stage
first drops the lines after its checkpoint: `keep_until`).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

FILE = "routing_load.jsonl"


def rollout_counts(samples, experts: int) -> torch.Tensor:
    """[L, E] counts of the rollout engine's chosen experts over the completion tokens of `samples`."""
    routes = torch.cat([s.routes[len(s.prompt_ids):] for s in samples]).long()  # [N, L, k]
    layers = routes.shape[1]
    flat = routes.permute(1, 0, 2).reshape(layers, -1)  # [L, N*k]
    return torch.stack([torch.bincount(flat[j], minlength=experts)[:experts] for j in range(layers)]).float()


def keep_until(out: Path, step: int) -> None:
    """On resume: drop the lines of steps after the checkpoint (they are run again), as MetricsLog does."""
    path = out / FILE
    if path.exists():
        rows = [x for x in path.read_text().splitlines() if x.strip() and json.loads(x)["step"] <= step]
        path.write_text("".join(x + "\n" for x in rows))


def log_step(out: Path, step: int, counts: dict[str, torch.Tensor]) -> dict:
    """Append the step's load shares to routing_load.jsonl; returns its per-layer figures (drift against the
    file's first line, the stage's first step). counts: {"trainer": [L, E], optionally "rollout": [L, E]}
    (absent for dense models: returns {})."""
    if not counts:
        return {}
    shares = {side: (c / c.sum(-1, keepdim=True).clamp(min=1)).tolist() for side, c in counts.items()}
    row = {"step": step, **shares}
    path = out / FILE
    with path.open("a+") as f:
        f.seek(0)
        first = json.loads(f.readline() or json.dumps(row))
        f.write(json.dumps(row) + "\n")
    figures = {}
    for side, share in shares.items():
        prefix = "routing/" if side == "trainer" else "routing/rollout_"
        now, start = torch.tensor(share), torch.tensor(first.get(side, share))
        for j in range(now.shape[0]):
            figures[f"{prefix}load_max/l{j}"] = float(now[j].max()) * now.shape[1]
            figures[f"{prefix}load_drift/l{j}"] = 0.5 * float((now[j] - start[j]).abs().sum())
    return figures
