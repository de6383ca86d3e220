"""A one-page report of a pipeline: curves of every run and stage, and a table of the figures.

    python scripts/report.py runs/demo-sft runs/demo-rm-pairwise runs/demo-grpo --out runs/demo-report

Each run folder follows the output contract (`summary.json` names its `command`;
`metrics.jsonl`; GRPO runs hold `stage1/`, `stage2/`). Writes `report.png` (plots + table),
`report.md` (the table in Markdown under the image) and `report.json` (the table's rows).
What a command plots and which figures it tabulates are registries keyed by command.
"""
from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

from align.config import ConfigError
from align.workflows.outputs import _ema, read_metrics

RATES = ("math_accuracy", "code_pass_rate", "refusal_rate_harmful", "over_refusal_rate_benign")


@dataclass(frozen=True)
class Part:
    """One plotted and tabulated unit: a run, or one stage of a GRPO run."""
    label: str
    command: str
    folder: Path
    summary: dict | None
    rows: list


@dataclass(frozen=True)
class Panel:
    title: str
    keys: tuple[str, ...]
    eval_points: bool = False  # sparse rows: draw markers, no EMA
    layers: bool = False  # keys are prefixes of per-MoE-layer metrics `<key>/l<j>`: drawn as a layer x step heat map


def load_parts(folder: Path) -> list[Part]:
    """A run folder -> its parts (GRPO: one per stage folder)."""
    if not folder.is_dir():
        raise ConfigError(f"run folder `{folder}` does not exist; pass folders written by `align sft|rm|grpo`.")
    summary = _json(folder / "summary.json")
    command = (summary or {}).get("command") or _recipe_command(folder)
    stages = sorted(p for p in folder.glob("stage*") if p.is_dir())
    if command == "grpo" and stages:
        return [Part(f"{folder.name} · {s.name}", "grpo", s, _json(s / "summary.json") or (summary or {}).get(s.name),
                     read_metrics(s)) for s in stages]
    return [Part(folder.name, command or "?", folder, summary, read_metrics(folder))]


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _recipe_command(folder: Path) -> str | None:
    import yaml

    try:
        return (yaml.safe_load((folder / "recipe.yaml").read_text()) or {}).get("command")
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------- what each command shows
PANELS: dict[str, tuple[Panel, ...]] = {
    "sft": (Panel("train loss", ("loss",)), Panel("eval loss", ("eval_loss",), True)),
    "rm": (Panel("train loss", ("loss",)), Panel("held-out pairwise accuracy", ("pairwise_accuracy",), True)),
    "grpo": (Panel("reward (weighted sum)", ("reward_mean",)), Panel("KL to reference", ("kl",)),
             Panel("held-out rates", tuple(f"eval/{k}" for k in RATES), True),
             Panel("held-out reward-model score", ("eval/rm_score",), True),
             Panel("routing agreement with the replayed routes", ("routing/same_set",), layers=True),
             Panel("expert-load drift since the first step", ("routing/load_drift",), layers=True)),
}
# generation-check figures (align.workflows.benchmarks), those present are shown
GENERATION = ("refusal_rate_harmful", "over_refusal_rate_benign", "math_accuracy", "gsm8k_accuracy",
              "xstest_refusal_unsafe", "xstest_over_refusal_safe")
FIGURES: dict[str, tuple[str, ...]] = {
    "sft": ("eval_loss", "base_eval_loss")
    + tuple(f"{k}{w}" for k in GENERATION for w in ("_before", "")) + ("steps", "wall_seconds"),
    "rm": ("loss_type", "pairwise_accuracy_before", "pairwise_accuracy", "pairwise_accuracy/hh_rlhf_harmless",
           "steps", "wall_seconds"),
    "grpo": tuple(f"{k}_{w}" for k in ("math_accuracy", "code_pass_rate", "rm_score") + GENERATION[3:]
                  for w in ("before", "after"))
    + ("refusal_rate_harmful_before", "refusal_rate_harmful_after", "over_refusal_rate_benign_before",
       "over_refusal_rate_benign_after", "response_len_before", "response_len_after", "wall_seconds"),
}


def figures(part: Part) -> dict:
    """The part's table row: its label and the figures its command tabulates (those present)."""
    if part.summary is None:
        return {"run": part.label, "note": "(no summary)"}
    keys = FIGURES.get(part.command, tuple(part.summary))
    out = {"run": part.label}
    for k in keys:
        v = part.summary.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            continue
        out[k] = round(v, 3) if isinstance(v, float) else v
    return out


# ---------------------------------------------------------------------- drawing
def _series(rows: list, key: str) -> tuple[list, list]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return ([p[0] for p in pts], [p[1] for p in pts]) if pts else ([], [])


def _layer_grid(rows: list, prefix: str) -> tuple[list, list, list]:
    """Per-layer metrics `<prefix>/l<j>` -> (steps, layers, grid [layer][step], NaN where absent)."""
    layers = sorted({int(k.rsplit("/l", 1)[1]) for r in rows for k in r if k.startswith(prefix + "/l")})
    steps = [r for r in rows if any(f"{prefix}/l{j}" in r for j in layers)]
    return ([r["step"] for r in steps], layers,
            [[r.get(f"{prefix}/l{j}", math.nan) for r in steps] for j in layers])


def draw_panel(ax, part: Part, panel: Panel) -> bool:
    """Plot `panel` for `part` on `ax`; False when no key has data."""
    if panel.layers:
        return _draw_layers(ax, part, panel)
    drawn = False
    for key in panel.keys:
        xs, ys = _series(part.rows, key)
        if not xs:
            continue
        name = key.removeprefix("eval/")
        if panel.eval_points or len(xs) < 30:
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
        else:
            ax.plot(xs, ys, alpha=0.3, color="C0")
            ax.plot(xs, _ema(ys, 0.95), color="C0", label=f"{name} (EMA)")
        drawn = True
    if drawn:
        ax.set_title(f"{part.label} · {panel.title}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("step", fontsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return drawn


def render(parts: list[Part], table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = [(p, panel) for p in parts for panel in PANELS.get(p.command, ()) if _has_data(p, panel)]
    cols = 4
    plot_rows = max(1, math.ceil(len(jobs) / cols))
    fig = plt.figure(figsize=(4.2 * cols, 3.0 * plot_rows + 0.45 * len(table) + 1.5))
    grid = fig.add_gridspec(plot_rows + 1, cols, height_ratios=[3.0] * plot_rows + [0.45 * len(table) + 1.0])
    for i, (part, panel) in enumerate(jobs):
        draw_panel(fig.add_subplot(grid[i // cols, i % cols]), part, panel)
    ax = fig.add_subplot(grid[plot_rows, :])
    ax.axis("off")
    cells = [[r["run"], textwrap.fill(_figures_text(r), 150)] for r in table]
    t = ax.table(cellText=cells, colLabels=["run", "figures"], loc="upper center", cellLoc="left",
                 colWidths=[0.18, 0.82])
    t.auto_set_font_size(False)
    t.set_fontsize(7)
    unit = 1.0 / (sum(c[1].count("\n") + 1 for c in cells) + 2)
    for (row, _), cell in t.get_celld().items():
        cell.set_height(unit * (1 if row == 0 else cells[row - 1][1].count("\n") + 1))
    fig.suptitle("align pipeline report", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))  # room for the title
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _draw_layers(ax, part: Part, panel: Panel) -> bool:
    steps, layers, grid = _layer_grid(part.rows, panel.keys[0])
    if not layers:
        return False
    im = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(steps[0] - 0.5, steps[-1] + 0.5, layers[-1] + 0.5, layers[0] - 0.5))
    ax.figure.colorbar(im, ax=ax)
    ax.set_yticks(layers)
    ax.set_title(f"{part.label} · {panel.title}", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("step", fontsize=7)
    ax.set_ylabel("MoE layer", fontsize=7)
    return True


def _has_data(part: Part, panel: Panel) -> bool:
    if panel.layers:
        return bool(_layer_grid(part.rows, panel.keys[0])[1])
    return any(_series(part.rows, k)[0] for k in panel.keys)


def _figures_text(row: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items() if k != "run")


def markdown(table: list[dict], folders: list[Path]) -> str:
    lines = ["# align pipeline report", "", "![report](report.png)", "", "| run | figures |", "|---|---|"]
    lines += [f"| {r['run']} | {_figures_text(r)} |" for r in table]
    lines += ["", "Runs:"] + [f"- `{f}`" for f in folders]
    return "\n".join(lines) + "\n"


def write_report(folders: list[Path], out: Path, overwrite: bool = False) -> Path:
    """Report on `folders` into `out`; refuses to replace an existing report unless `overwrite`."""
    if (out / "report.png").exists() and not overwrite:
        raise ConfigError(f"`{out}/report.png` exists; nothing was changed. Pass --overwrite to replace it, "
                          "or choose another --out.")
    parts = [p for f in folders for p in load_parts(f)]
    table = [figures(p) for p in parts]
    out.mkdir(parents=True, exist_ok=True)
    render(parts, table, out / "report.png")
    (out / "report.md").write_text(markdown(table, folders))
    (out / "report.json").write_text(json.dumps(table, indent=2))
    return out / "report.png"
