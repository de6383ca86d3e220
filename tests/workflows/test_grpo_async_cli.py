"""One-step-off async GRPO (`grpo.async: one_step`): batch t+1 is generated while batch t trains, with the
weights one update behind. The tests check that it trains on the same data as the synchronous run, one update
behind (the rollout/trainer mismatch shows the staleness and the rollout correction weighs it), that it is
refused where it cannot overlap, and (slow) that a killed run resumes onto the same batches."""
import json

import pytest

from tests.workflows.cli import run_align as align
from tests.workflows.test_grpo_cli import SHORT

ARGS = [a for a in SHORT if not a.startswith(("stage1.grpo.dynamic_sampling", "stage1.grpo.steps"))]
ARGS += ["stage1.grpo.steps=3"]


def _steps(out) -> list[dict]:
    rows = map(json.loads, (out / "stage1" / "metrics.jsonl").read_text().splitlines())
    return [r for r in rows if "reward_mean" in r]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("async")
    for name, extra in (("sync", []), ("async", ["stage1.grpo.async=one_step"])):
        proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={tmp / name}", *ARGS, *extra)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return tmp / "sync", tmp / "async"


@pytest.mark.slow
def test_async_trains_on_the_same_batches_one_update_behind(runs):
    sync, one_step = (_steps(out) for out in runs)
    assert len(sync) == len(one_step) == 3
    assert [r["batch/prompt_hash"] for r in one_step] == [r["batch/prompt_hash"] for r in sync]  # the same data
    assert [r["async/staleness"] for r in one_step] == [0, 1, 1]
    assert all("async/staleness" not in r for r in sync)
    fresh = max(r["logprob_mismatch"] for r in sync)
    assert fresh < 1e-4 and one_step[0]["logprob_mismatch"] < 1e-4  # generated with the weights it trains
    for r in one_step[1:]:  # generated one update earlier: the correction sees it and weighs it
        assert r["logprob_mismatch"] > 100 * fresh and r["logprob_mismatch"] > 1e-3
        assert abs(r["is/weight_mean"] - 1.0) > 1e-3 or r["is/truncated_frac"] > 0
    s = json.loads((runs[1] / "summary.json").read_text())["stage1"]
    assert s["sync_check_max_abs_diff"] < 1e-3 and s["sync_check_final_max_abs_diff"] < 1e-3


@pytest.mark.parametrize("extra, words", [
    (["rollout.placement=colocated"], "rollout.placement: colocated"),
    (["stage1.grpo.dynamic_sampling=true"], "stage1.grpo.dynamic_sampling"),
    (["stage1.grpo.routing_replay=r3"], "routing_replay: r3"),
    (["rollout.sync_every=2"], "rollout.sync_every"),
])
def test_async_is_refused_where_it_cannot_overlap(extra, words):
    from align.config import ConfigError, load_recipe
    from align.workflows.grpo import _check_async

    cfg = load_recipe("recipes/v2_grpo.yaml", [*ARGS, "stage1.grpo.async=one_step", *extra])
    with pytest.raises(ConfigError, match=f"async: one_step` cannot be combined with .*{words}"):
        _check_async(cfg, cfg.stage1.grpo, "stage1.grpo")
    plain = load_recipe("recipes/v2_grpo.yaml", [*ARGS, *extra])  # the same settings without async: accepted
    _check_async(plain, plain.stage1.grpo, "stage1.grpo")


@pytest.mark.slow
def test_a_killed_async_run_resumes_onto_the_same_batches(runs, tmp_path):
    from tests.workflows.cli import kill_once_saved

    out = tmp_path / "killed"
    args = ["grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *ARGS, "stage1.grpo.async=one_step",
            "stage1.grpo.save_every=1"]
    kill_once_saved(args, out / "stage1" / "checkpoints" / "step_1")
    assert (out / "stage1" / "checkpoints" / "pending_step_1.pt").exists()
    done = align(*args, "run.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    got, ref = _steps(out), _steps(runs[1])
    assert [r["step"] for r in got] == [1, 2, 3]
    for a, b in zip(got, ref):
        assert a["batch/prompt_hash"] == b["batch/prompt_hash"] and a["async/staleness"] == b["async/staleness"]
        assert a["reward_mean"] == pytest.approx(b["reward_mean"], abs=1e-6)
        assert a["update2/loss"] == pytest.approx(b["update2/loss"], abs=1e-4)


def test_async_on_cpu_notes_threads_beyond_the_cores(capsys):
    """Engine and trainer threads run at once in async: more of them than cores is said before the run."""
    from align.config import load_recipe
    from align.workflows.grpo import _check_async

    for threads, noted in ((2, True), (1, False)):
        cfg = load_recipe("recipes/v2_grpo.yaml", [*ARGS, "stage1.grpo.async=one_step", "cluster.num_cpus=2",
                                                   f"trainer.threads_per_worker={threads}"])
        _check_async(cfg, cfg.stage1.grpo, "stage1.grpo")
        out = capsys.readouterr().out
        assert ("exceed the 2 cores" in out and "trainer.threads_per_worker` 2" in out) == noted, out
