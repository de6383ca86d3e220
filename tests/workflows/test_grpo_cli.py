"""A short GRPO run through the real CLI: vLLM rollouts, DeepSpeed updates, weight sync."""
import json

import pytest

from tests.workflows.cli import run_align as align, weights

SHORT = ["model.path=builtin:tiny-v2@init", "run.tensorboard=false", "max_length=128", "stages=[1]",
         "stage1.prompts=[{source: 'builtin:math', max_rows: 64}]",
         "stage1.eval_prompts=[{source: 'builtin:math', split: test, max_rows: 8}]",
         "stage1.rewards=[{fn: 'tests.workflows.custom_rewards:short_on_even_prompts'}, {fn: math_answer}]",
         "stage1.grpo.steps=3", "stage1.grpo.prompts_per_step=4", "stage1.grpo.group_size=4",
         "stage1.grpo.max_new_tokens=16", "stage1.grpo.micro_batch_size=8", "stage1.optim.lr=1e-3",
         "stage1.grpo.temperature=0.7", "stage1.grpo.updates_per_batch=2", "stage1.grpo.dynamic_sampling=true",
         "stage1.grpo.routing_replay=r2"]


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grpo") / "run"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *SHORT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_grpo_changes_parameters_and_rollouts_follow(grpo_run):
    from align.models.builtin import init_path

    out, proc = grpo_run
    summary = json.loads((out / "summary.json").read_text())
    s1 = summary["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3
    assert "math_accuracy_before" in s1 and "math_accuracy_after" in s1
    before, after = weights(init_path()), weights(out / "stage1" / "final")
    changed = [k for k in before if not before[k].equal(after[k])]
    assert len(changed) > len(before) // 2, f"only {len(changed)} of {len(before)} tensors changed"
    routers = [k for k in before if k.endswith("mlp.gate.weight")]
    assert routers and not set(routers) & set(changed), "grpo.router: freeze (the default) must keep the routers"
    rows = [json.loads(x) for x in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward_mean" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for key in ("kl", "clip_frac", "entropy", "zero_variance_frac", "logprob_mismatch", "generation_seconds",
                "train_seconds", "sync_seconds", "sync_bytes", "tokens_per_second", "reward/short_on_even_prompts/mean",
                "expert_load_max", "mismatch/max", "mismatch/seq_kl_k3", "is/weight_mean", "is/weight_min",
                "is/weight_max", "is/truncated_frac", "update1/expert_load_max"):
        assert all(key in r for r in steps), key
    assert all(r["sync_bytes"] > 40e6 for r in steps)
    assert "weight-sync check passed" in proc.stdout


def test_temperature_updates_and_dynamic_sampling_show_in_the_metrics(grpo_run):
    """T=0.7 on both sides: vLLM's processed log-probs equal the trainer's log_softmax(logits / T), logged
    unrounded; with 2 updates the first has ratio 1 and no clipping, the second clips; dynamic sampling
    drops the groups of the prompts whose reward is constant and draws more."""
    out, _ = grpo_run
    steps = [r for r in map(json.loads, (out / "stage1" / "metrics.jsonl").read_text().splitlines()) if "reward_mean" in r]
    for r in steps:
        assert 0 < r["logprob_mismatch"] < 1e-4 and r["mismatch/max"] < 1e-3  # 7 significant digits, not 0.0
        assert abs(r["is/weight_mean"] - 1) < 1e-4
        assert abs(r["update1/ratio_mean"] - 1) < 1e-5 and r["update1/clip_frac"] == 0
        assert r["update2/clip_frac"] > 0 and r["update2/ratio_mean"] != r["update1/ratio_mean"]
        assert r["dynamic/kept_groups"] + r["dynamic/filled_groups"] == 4
        assert r["dynamic/drawn_groups"] == 4 * r["dynamic/draws"]
        if r["dynamic/filled_groups"] == 0:
            assert r["zero_variance_groups"] == 0
    assert any(r["dynamic/draws"] > 1 for r in steps), "some prompts have a constant reward: a second draw is needed"


def test_r2_replays_the_old_policy_routes_in_every_update(grpo_run):
    """The first update replays routes recorded with the same weights: the routers' own choice agrees on every
    token of every layer. After it the hidden states moved, so the routers would choose otherwise on some tokens
    of the second update; the replay keeps the old routes (agreement < 1 is what replay corrects)."""
    out, _ = grpo_run
    steps = [r for r in map(json.loads, (out / "stage1" / "metrics.jsonl").read_text().splitlines()) if "reward_mean" in r]
    layers = sorted(k for k in steps[0] if k.startswith("update1/routing/same_set/"))
    assert len(layers) == 4  # the built-in model's MoE layers
    for r in steps:
        assert all(r[k] == 1.0 for k in layers)
        assert all(0 <= r[f"update1/routing/overlap/l{j}"] <= 1 for j in range(4))
        assert all(r[f"routing/entropy/l{j}"] > 0 for j in range(4))
    assert min(r[k.replace("update1", "update2")] for r in steps for k in layers) < 1.0
    assert (out / "stage1" / "routing.png").stat().st_size > 10_000  # the per-layer heat maps


def test_reward_that_always_raises_stops_the_run(tmp_path):
    out = tmp_path / "broken"
    args = [a for a in SHORT if not a.startswith("stage1.rewards")]
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *args,
                 "stage1.rewards=[{fn: 'tests.workflows.custom_rewards:always_raises'}]", "stage1.grpo.steps=1")
    assert proc.returncode == 1
    assert "reward function `always_raises` failed on 16 of 16 samples" in proc.stderr
    stops = [x for x in proc.stderr.splitlines() if x.startswith("align: run stopped:")]
    assert len(stops) == 1 and "reward function `always_raises`" in stops[0] and "broken on purpose" in stops[0]


@pytest.mark.slow
def test_an_r2_run_killed_mid_stage_resumes_exactly(grpo_run, tmp_path):
    """kill -9 after the first checkpoint of the R2 + dynamic-sampling + 2-update run, then run.resume=true:
    the same draws and the same updates as the uninterrupted run (`grpo_run`, same arguments)."""
    from tests.workflows.cli import kill_once_saved

    reference, _ = grpo_run
    out = tmp_path / "killed"
    args = ["grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *SHORT, "stage1.grpo.save_every=1"]
    kill_once_saved(args, out / "stage1" / "checkpoints" / "step_1")
    assert not (out / "stage1" / "summary.json").exists(), "the stage finished before it could be killed"
    done = align(*args, "run.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from step_" in done.stdout

    def steps(folder):
        rows = map(json.loads, (folder / "stage1" / "metrics.jsonl").read_text().splitlines())
        return {r["step"]: r for r in rows if "reward_mean" in r}

    got, ref = steps(out), steps(reference)
    assert sorted(got) == [1, 2, 3]
    for s, r in got.items():
        assert r["dynamic/draws"] == ref[s]["dynamic/draws"]
        assert r["reward_mean"] == pytest.approx(ref[s]["reward_mean"], abs=1e-6)
        assert r["update2/loss"] == pytest.approx(ref[s]["update2/loss"], abs=1e-4)
        assert r["update2/routing/same_set/l3"] == pytest.approx(ref[s]["update2/routing/same_set/l3"], abs=1e-6)


@pytest.mark.slow
def test_an_engine_pool_gives_the_run_of_one_engine(grpo_run, tmp_path):
    """Two rollout engines: the prompts are split between them, both are synced and checked (start and end), and
    with the same seed every step equals the one-engine run (per-request seeds, so the split does not matter)."""
    reference, _ = grpo_run
    out = tmp_path / "pool"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *SHORT, "rollout.num_engines=2",
                 "rollout.cpus_per_engine=0.5")
    assert proc.returncode == 0, proc.stderr[-4000:]
    s1 = json.loads((out / "summary.json").read_text())["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3

    def steps(folder):
        return [r for r in map(json.loads, (folder / "stage1" / "metrics.jsonl").read_text().splitlines())
                if "reward_mean" in r]

    got, ref = steps(out), steps(reference)
    assert len(got) == len(ref) == 3
    for a, b in zip(got, ref):
        assert a["dynamic/draws"] == b["dynamic/draws"] and a["reward_mean"] == pytest.approx(b["reward_mean"], abs=1e-6)
        assert a["update2/loss"] == pytest.approx(b["update2/loss"], abs=1e-5)
        assert a["logprob_mismatch"] < 1e-4


@pytest.mark.slow
def test_a_colocated_run_swaps_for_real_and_stays_synced(tmp_path):
    """`rollout.placement=colocated` on CPU: the trainer and the reference really free their states between phases
    (a wrong order would read freed weights and be refused), the sync happens with the trainer resident, and the
    start and end checks pass."""
    out = tmp_path / "colocated"
    args = [a for a in SHORT if not a.startswith(("stage1.grpo.steps", "stage1.grpo.dynamic_sampling"))]
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *args, "stage1.grpo.steps=2",
                 "rollout.placement=colocated")
    assert proc.returncode == 0, proc.stderr[-4000:]
    s1 = json.loads((out / "summary.json").read_text())["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3
    events = s1["swap_events"]
    offloads = [e for e in events if e["action"] == "offload_trainer"]
    # after training: parameters, ZeRO's fp32 partition and Adam's two moments (the tiny model is 47.3 MB)
    assert offloads and all(d["bytes"] > 3.5 * 47e6 and d["rss_freed_mb"] > 100 for e in offloads for d in e["detail"])
    steps = [r for r in map(json.loads, (out / "stage1" / "metrics.jsonl").read_text().splitlines()) if "reward_mean" in r]
    assert len(steps) == 2 and all(r["logprob_mismatch"] < 1e-4 and r["swap_events"] > 0 for r in steps)
