"""The output contract of every command: runs/<name>/ with recipe.yaml, metrics.jsonl,
summary.json, final/ (HF folder), checkpoints/, plus TensorBoard events and plots.

An output folder that already holds results is refused unless the recipe says
`run.resume=true` (continue) or `run.overwrite=true` (start over); nothing is
touched before that check.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from align.config import ConfigError, dump_recipe

RESULT_MARKERS = ("metrics.jsonl", "summary.json", "final", "checkpoints")


def output_dir(cfg) -> Path:
    return Path(cfg.run.output_dir or Path("runs") / cfg.run.name)


def prepare_output(cfg) -> Path:
    """Create (or reuse, on resume) the run folder and save the resolved recipe."""
    out = output_dir(cfg)
    has_results = out.exists() and any((out / m).exists() for m in RESULT_MARKERS)
    if has_results and not (cfg.run.resume or cfg.run.overwrite):
        raise ConfigError(
            f"Output folder `{out}` already holds results of an earlier run; nothing was changed. "
            "Pass `run.resume=true` to continue it, `run.overwrite=true` to replace it, "
            "or choose another `run.name` / `run.output_dir`.")
    if has_results and cfg.run.overwrite and not cfg.run.resume:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    dump_recipe(cfg, out / "recipe.yaml")
    return out


class MetricsLog:
    """metrics.jsonl (one object per line with `step`) + optional TensorBoard."""

    def __init__(self, out: Path, tensorboard: bool = True, keep_until_step: int | None = None) -> None:
        self.path = out / "metrics.jsonl"
        if keep_until_step is not None and self.path.exists():  # resume: drop rows past the checkpoint
            kept = [r for r in _parse(self.path) if r.get("step", 0) <= keep_until_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self.tb = _tensorboard(out / "tensorboard") if tensorboard else None

    def log(self, step: int, **metrics: Any) -> None:
        row = {"step": step, "time": round(time.time(), 3), **{k: _plain(v) for k, v in metrics.items()}}
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k not in ("step", "time"):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _ema(values, decay: float) -> list[float]:
    out, acc = [], values[0]
    for v in values:
        acc = decay * acc + (1 - decay) * v
        out.append(acc)
    return out


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard not installed: metrics.jsonl is enough
        return None
    return SummaryWriter(str(folder))


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    # 7 significant digits, not 6 decimals: a log-prob mismatch of 3e-7 must not be logged as 0.0
    return float(f"{v:.7g}") if isinstance(v, float) else v


def read_metrics(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    return _parse(path) if path.exists() else []


def _parse(path: Path) -> list[dict]:
    """metrics.jsonl rows; a line cut off by a killed run (or otherwise unreadable) is skipped."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    return rows


def write_summary(out: Path, summary: dict) -> None:
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True))
    tmp.rename(out / "summary.json")


def plot_curves(out: Path, keys: list[str], filename: str = "loss.png", title: str = "") -> Path | None:
    """A PNG with one panel per metric key found in metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(out)
    present = [k for k in keys if any(k in r for r in rows)]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.5), squeeze=False)
    for ax, key in zip(axes[0], present):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o" if len(pts) < 30 else None, markersize=3, alpha=1.0 if len(pts) < 30 else 0.35)
        if len(pts) >= 30 and key not in ("lr", "epoch"):
            ax.plot(xs, _ema(ys, 0.95), label="EMA 0.95")
            ax.legend(fontsize=7)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    return _save(fig, out / filename, title)


def plot_layer_heatmaps(out: Path, prefixes: list[str], filename: str = "routing.png", title: str = "") -> Path | None:
    """A PNG with one heat map (MoE layer x step) per metric prefix, from keys `<prefix>/l<j>` in metrics.jsonl
    (e.g. the routing agreement of the last update, `update2/routing/same_set`); None when no key is there."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in read_metrics(out) if any(k.startswith(tuple(prefixes)) for k in r)]
    maps = []
    for prefix in prefixes:
        layers = sorted({int(k.rsplit("/l", 1)[1]) for r in rows for k in r if k.startswith(prefix + "/l")})
        if layers:
            grid = np.array([[r.get(f"{prefix}/l{j}", np.nan) for r in rows] for j in layers], dtype=float)
            maps.append((prefix, layers, grid))
    if not maps:
        return None
    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 3.5), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, (prefix, layers, grid) in zip(axes[0], maps):
        im = ax.imshow(grid, aspect="auto", cmap="viridis", extent=(steps[0] - 0.5, steps[-1] + 0.5, layers[-1] + 0.5,
                                                                   layers[0] - 0.5))
        fig.colorbar(im, ax=ax)
        ax.set_yticks(layers)
        ax.set_title(prefix)
        ax.set_xlabel("step")
        ax.set_ylabel("MoE layer")
    return _save(fig, out / filename, title)


def _save(fig, path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
