"""One table comparing GRPO runs from their outputs: step time and its parts, sync, memory, held-out curve.

    python scripts/compare_runs.py runs/cmp_dense runs/cmp_moe [--stage 1] [--curve reward_mean --plot curves.png]

Reads each run's stage<N>/metrics.jsonl, summary.json and routing_load.jsonl (written by `align grpo`). Step
figures are medians over the stage's steps (the first step is left out when there are more than two: it
includes the start-up of lazily built kernels). Memory is the peak resident set of the trainer and rollout
processes (`memory/*_peak_mb`). For MoE models the expert load is summarised per layer: the largest expert share
times E (1.0 = balanced) at the first and last step, and the largest per-layer drift of the shares.

`--curve KEY` compares one per-step figure across runs (e.g. sync vs async on the same seeds and steps): each
run's mean and its standard error over the steps, the mean step-by-step difference from the first run with its
standard error, and with `--plot` one picture of the curves.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

STEP_KEYS = ("step_seconds", "generation_seconds", "train_seconds", "sync_seconds", "sync_bytes",
             "memory/trainer_peak_mb", "memory/rollout_peak_mb", "reward_mean", "kl", "logprob_mismatch")


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def summarise(run: Path, stage: int) -> dict:
    folder = run / f"stage{stage}"
    rows = _rows(folder / "metrics.jsonl")
    steps = [r for r in rows if "reward_mean" in r]
    if len(steps) > 2:
        steps = steps[1:]
    out = {"run": run.name, "steps": len(steps)}
    for key in STEP_KEYS:
        vals = [r[key] for r in steps if key in r]
        if key == "step_seconds" and not vals:  # older runs: the parts' sum
            vals = [r.get("generation_seconds", 0) + r.get("train_seconds", 0) + r.get("sync_seconds", 0) for r in steps]
        if vals:
            out[key] = statistics.median(vals)
    curve = [(r["step"], r[k]) for r in rows for k in r if k.startswith("eval/") and k.endswith("math_accuracy")]
    out["heldout_math"] = " ".join(f"{s}:{v:.3f}" for s, v in curve)
    load = _rows(folder / "routing_load.jsonl")
    if load:
        first, last = load[0]["trainer"], load[-1]["trainer"]
        e = len(first[0])
        out["load_max_first"] = max(max(layer) for layer in first) * e
        out["load_max_last"] = max(max(layer) for layer in last) * e
        out["load_drift_max"] = max(sum(abs(a - b) for a, b in zip(f, l)) / 2 for f, l in zip(first, last))
    summary = folder / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        out["wall_seconds"] = s.get("wall_seconds")
    return out


def curves(runs: list[Path], stage: int, key: str, plot: Path | None) -> None:
    """Per run: mean of `key` over the steps +- its standard error; the paired difference from the first run."""
    series = {}
    for run in runs:
        rows = [r for r in _rows(run / f"stage{stage}" / "metrics.jsonl") if key in r and "reward_mean" in r]
        series[run.name] = [(r["step"], r[key]) for r in rows]
    base = dict(series[runs[0].name])
    for name, pts in series.items():
        vals = [v for _, v in pts]
        if not vals:
            print(f"[curve] {name}: no steps with {key}")
            continue
        line = f"[curve] {name}: {key} mean {statistics.mean(vals):.4f} +- {_stderr(vals):.4f} over {len(vals)} steps"
        diffs = [v - base[s] for s, v in pts if s in base]
        if name != runs[0].name and len(diffs) > 1:
            line += f"; minus {runs[0].name}, step by step: {statistics.mean(diffs):+.4f} +- {_stderr(diffs):.4f}"
        print(line)
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, pts in series.items():
            ax.plot([s for s, _ in pts], [v for _, v in pts], marker="o", ms=3, label=name)
        ax.set(xlabel="step", ylabel=key, title=f"stage {stage}: {key}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"[curve] wrote {plot}")


def _stderr(vals: list[float]) -> float:
    return statistics.stdev(vals) / len(vals) ** 0.5 if len(vals) > 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--stage", type=int, default=1)
    ap.add_argument("--curve", default=None, help="a per-step metric to compare (mean, standard error, paired diff)")
    ap.add_argument("--plot", type=Path, default=None, help="with --curve: a PNG of the curves")
    args = ap.parse_args()
    if args.curve:
        curves(args.runs, args.stage, args.curve, args.plot)
    table = [summarise(r, args.stage) for r in args.runs]
    keys = list(dict.fromkeys(k for row in table for k in row))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in table:
        cells = [row.get(k, "") for k in keys]
        print("| " + " | ".join(f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
