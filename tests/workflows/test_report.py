"""The one-page pipeline report on fake run folders (the output contract, written by hand)."""
import json
import subprocess
import sys

from tests.workflows.cli import REPO


def _run(folder, command, summary, rows):
    folder.mkdir(parents=True)
    (folder / "recipe.yaml").write_text(f"command: {command}\n")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps({"command": command, **summary}))
    return folder


def _pipeline(tmp_path):
    sft = _run(tmp_path / "p-sft", "sft", {"eval_loss": 3.9512, "base_eval_loss": 5.6, "refusal_rate_harmful": 0.812,
                                            "over_refusal_rate_benign": 0.1, "wall_seconds": 400.0},
               [{"step": i, "loss": 5.0 - i / 10} for i in range(1, 40)] + [{"step": 39, "eval_loss": 3.9512}])
    rm = _run(tmp_path / "p-rm", "rm", {"loss_type": "pairwise", "pairwise_accuracy": 0.7361, "wall_seconds": 100.0},
              [{"step": 0, "pairwise_accuracy": 0.5}, {"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.6},
               {"step": 2, "pairwise_accuracy": 0.7361}])
    grpo = tmp_path / "p-grpo"
    _run(grpo, "grpo", {"stage1": {}, "stage2": {}}, [])
    _run(grpo / "stage1", "grpo", {"math_accuracy_before": 0.045, "math_accuracy_after": 0.2125, "swap_events": [1]},
         [{"step": 0, "eval/math_accuracy": 0.045}, {"step": 1, "reward_mean": 0.1, "kl": 0.0},
          {"step": 2, "reward_mean": 0.2, "kl": 0.01}, {"step": 2, "eval/math_accuracy": 0.2125}])
    _run(grpo / "stage2", "grpo", {"rm_score_before": 1.5, "rm_score_after": 2.25, "refusal_rate_harmful_after": 0.93},
         [{"step": 0, "eval/rm_score": 1.5}, {"step": 1, "reward_mean": 3.0, "kl": 0.02}, {"step": 1, "eval/rm_score": 2.25}])
    return [sft, rm, grpo]


def _report(*args):
    return subprocess.run([sys.executable, "scripts/report.py", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_report_has_plots_and_every_figure(tmp_path):
    out = tmp_path / "report"
    proc = _report(*_pipeline(tmp_path), "--out", out)
    assert proc.returncode == 0, proc.stderr
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    md = (out / "report.md").read_text()
    for text in ("eval_loss=3.951", "refusal_rate_harmful=0.812", "pairwise_accuracy=0.736", "math_accuracy_after=0.212",
                 "rm_score_after=2.25", "refusal_rate_harmful_after=0.93", "![report](report.png)"):
        assert text in md, text
    rows = json.loads((out / "report.json").read_text())
    assert [r["run"] for r in rows] == ["p-sft", "p-rm", "p-grpo · stage1", "p-grpo · stage2"]
    assert rows[2]["math_accuracy_before"] == 0.045 and "swap_events" not in rows[2]


def test_a_run_without_summary_or_metrics_is_reported_not_fatal(tmp_path):
    bare = _run(tmp_path / "bare", "sft", None, [])
    out = tmp_path / "report"
    assert _report(bare, "--out", out).returncode == 0
    assert json.loads((out / "report.json").read_text()) == [{"run": "bare", "note": "(no summary)"}]


def test_missing_run_and_existing_report_exit_2_untouched(tmp_path):
    proc = _report(tmp_path / "nope", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "does not exist" in proc.stderr and not (tmp_path / "r").exists()
    runs = _pipeline(tmp_path)
    out = tmp_path / "r2"
    assert _report(*runs, "--out", out).returncode == 0
    before = (out / "report.png").stat().st_mtime_ns
    again = _report(*runs, "--out", out)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert (out / "report.png").stat().st_mtime_ns == before


def test_cut_off_metrics_line_and_stage_figures_only_at_top_level(tmp_path):
    run = _run(tmp_path / "g", "grpo", {"stage1": {"math_accuracy_after": 0.3333}}, [])
    (run / "stage1").mkdir()
    (run / "stage1" / "metrics.jsonl").write_text('{"step": 1, "reward_mean": 0.5, "kl": 0.0}\n{"step": 2, "rew')
    out = tmp_path / "report"
    proc = _report(run, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "report.json").read_text()) == [{"run": "g · stage1", "math_accuracy_after": 0.333}]


def test_per_layer_routing_metrics_become_a_heat_map(tmp_path):
    from align.workflows.report import PANELS, _has_data, _layer_grid, load_parts

    rows = [{"step": s, "reward_mean": 0.1, **{f"routing/same_set/l{j}": 1.0 - 0.01 * j * s for j in range(3)}}
            for s in (1, 2)]
    folder = _run(tmp_path / "r", "grpo", {"stage1": {}}, [])
    _run(folder / "stage1", "grpo", {"math_accuracy_after": 0.1}, rows)
    [part] = load_parts(folder)
    steps, layers, grid = _layer_grid(part.rows, "routing/same_set")
    assert steps == [1, 2] and layers == [0, 1, 2] and grid[2] == [0.98, 0.96]
    drawn = [p.title for p in PANELS["grpo"] if _has_data(part, p)]
    assert "routing agreement with the replayed routes" in drawn
    assert "expert-load drift since the first step" not in drawn  # no such keys: no empty panel
