"""GRPO under ZeRO-3 with two trainer ranks: the weight sync gathers the partitioned parameters (one bucket at a
time, every rank joining) and the start and end sync checks run the forward on every rank. Before this, the
first sync stopped with `WeightSyncError: model.embed_tokens.weight: expected shape (4096, 256), got (0,)`."""
import json

from tests.workflows.cli import run_align as align
from tests.workflows.test_grpo_cli import SHORT


def test_grpo_runs_and_syncs_under_zero3(tmp_path):
    out = tmp_path / "z3"
    args = [a for a in SHORT if not a.startswith(("stage1.grpo.routing_replay", "stage1.grpo.dynamic_sampling",
                                                   "stage1.grpo.steps"))]
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *args, "stage1.grpo.steps=2",
                 "trainer.zero_stage=3", "trainer.num_workers=2", "trainer.cpus_per_worker=0.5",
                 "trainer.threads_per_worker=1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    s1 = json.loads((out / "summary.json").read_text())["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3
    steps = [r for r in map(json.loads, (out / "stage1" / "metrics.jsonl").read_text().splitlines()) if "reward_mean" in r]
    assert len(steps) == 2 and all(r["sync_bytes"] > 40e6 and r["logprob_mismatch"] < 1e-4 for r in steps)


def test_actors_that_cannot_fit_the_local_cpus_are_refused(tmp_path):
    """Two 1-CPU trainers and a 1-CPU engine on a 2-CPU local Ray: Ray would wait forever; the run says why."""
    out = tmp_path / "nofit"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", "model.path=builtin:tiny-v2@init",
                 "stages=[1]", "trainer.num_workers=2", "trainer.cpus_per_worker=1", "cluster.num_cpus=2", timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ask for 3 CPUs" in proc.stderr and "trainer.cpus_per_worker" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_rollout_cpu_threads_beyond_the_cores_are_refused(tmp_path):
    out = tmp_path / "threads"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", "model.path=builtin:tiny-v2@init",
                 "stages=[1]", "rollout.cpu_threads=3", "cluster.num_cpus=2", timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "`rollout.cpu_threads` is 3" in proc.stderr and "2 cores" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
