"""A short two-stage GRPO run through the real CLI: a served reward model, a TRL reward and a
custom dotted-path reward in stage 2, and a run killed in stage 2 resumed across the boundary."""
import json

import pytest

from tests.workflows.cli import kill_once_saved, run_align as align, weights

STAGE1 = ["stage1.prompts=[{source: 'builtin:math', max_rows: 64}]",
          "stage1.eval_prompts=[{source: 'builtin:math', split: test, max_rows: 8}]",
          "stage1.rewards=[{fn: math_answer}, {fn: 'tests.workflows.custom_rewards:short_reply'}]", "stage1.grpo.steps=2", "stage1.grpo.prompts_per_step=4",
          "stage1.grpo.group_size=4", "stage1.grpo.max_new_tokens=16", "stage1.grpo.micro_batch_size=8",
          "stage1.optim.lr=1e-3"]
STAGE2 = ["stage2.prompts=[{source: 'builtin:helpful_chat', max_rows: 64}, {source: 'builtin:harmful_prompts', max_rows: 32}]",
          "stage2.eval_prompts=[{source: 'builtin:helpful_chat', split: test, max_rows: 8}]",
          "stage2.eval_max_prompts=8", "stage2.grpo.steps=3", "stage2.grpo.prompts_per_step=4",
          "stage2.grpo.group_size=4", "stage2.grpo.max_new_tokens=16", "stage2.grpo.micro_batch_size=8",
          "stage2.grpo.eval_every=2", "stage2.grpo.save_every=1", "stage2.optim.lr=1e-3",
          "stage2.grpo.dynamic_sampling=true", "stage2.grpo.updates_per_batch=2", "stage2.grpo.routing_replay=r3"]


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory):
    """An (untrained) reward-model folder on the built-in backbone, as `align rm` writes one."""
    import torch
    import transformers

    from align.models.builtin import init_path

    folder = tmp_path_factory.mktemp("rm") / "tiny_rm" / "final"
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(init_path())
    model = transformers.AutoModelForSequenceClassification.from_pretrained(init_path(), num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _args(out, rm):
    rewards = (f"stage2.rewards=[{{model: '{rm}'}}, {{fn: 'trl.rewards:think_format_reward', weight: 0.1}}, "
               "{fn: 'tests.workflows.custom_rewards:short_reply', weight: 0.5}]")
    return ["grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", "model.path=builtin:tiny-v2@init",
            "run.tensorboard=false", "max_length=128", *STAGE1, *STAGE2, rewards]


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory, reward_model):
    out = tmp_path_factory.mktemp("grpo2") / "run"
    proc = align(*_args(out, reward_model))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_two_stages_write_their_summaries_and_chain_policies(two_stage):
    from align.models.builtin import init_path

    out, proc = two_stage
    summary = json.loads((out / "summary.json").read_text())
    s2 = summary["stage2"]
    for key in ("rm_score_before", "rm_score_after", "math_accuracy_after", "refusal_rate_harmful",
                "over_refusal_rate_benign", "response_len_after", "rm_score/tiny_rm_after"):
        assert isinstance(s2[key], float) and s2[key] == s2[key], key
    assert 0.0 <= s2["refusal_rate_harmful"] <= 1.0 and "math_accuracy_after" in summary["stage1"]
    assert summary["wall_seconds"] == pytest.approx(summary["stage1"]["wall_seconds"] + s2["wall_seconds"], abs=0.2)
    init, w1, w2 = weights(init_path()), weights(out / "stage1" / "final"), weights(out / "stage2" / "final")
    assert sum(not init[k].equal(w1[k]) for k in init) > len(init) // 2
    assert sum(not w1[k].equal(w2[k]) for k in w1) > len(w1) // 2
    # stage 2 starts from stage 1's policy; both stages keep the SFT model (here: model.path) as reference
    assert f"stage 2: policy {out / 'stage1' / 'final'}, KL reference {init_path()}" in proc.stdout
    assert f"stage 1: policy {init_path()}, KL reference {init_path()}" in proc.stdout


def test_stage2_metrics_name_every_reward_and_watch(two_stage):
    out, _ = two_stage
    rows = _rows(out / "stage2" / "metrics.jsonl")
    steps = [r for r in rows if "reward_mean" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for key in ("reward/tiny_rm/mean", "reward/think_format_reward/mean", "reward/short_reply/mean", "completion_len",
                "kl", "sync_seconds", "mismatch_without_replay/mean", "routing/rollout_routes_seconds"):
        assert all(key in r for r in steps), key
    # R3: the trainer's first update has the rollout's weights, so its routers choose vLLM's experts
    assert all(r[f"update1/routing/same_set/l{j}"] > 0.99 for r in steps for j in range(4))
    assert all(r["logprob_mismatch"] < 1e-4 and r["mismatch_without_replay/mean"] < 1e-4 for r in steps)
    assert all(r["reward/think_format_reward/failures"] == 0 for r in steps)  # conversational completions, as TRL
    evals = {r["step"] for r in rows if "eval/rm_score" in r}
    assert evals == {0, 2, 3}  # before, eval_every=2, after
    assert all("eval/refusal_rate_harmful" in r and "eval/math_accuracy" in r for r in rows if "eval/rm_score" in r)
    samples = json.loads((out / "stage2" / "samples_after.json").read_text())
    assert len(samples) == 8 and all(isinstance(x["response"], str) and "tiny_rm" in x for x in samples)
    assert (out / "stage2" / "samples_before.json").exists() and (out / "stage1" / "samples_after.json").exists()


@pytest.mark.slow  # 150 s: the default suite's largest; run with -m slow
def test_killed_in_stage2_resumes_across_the_boundary(two_stage, reward_model, tmp_path):
    reference, _ = two_stage
    out = tmp_path / "killed"
    kill_once_saved(_args(out, reward_model), out / "stage2" / "checkpoints" / "step_1")
    assert not (out / "stage2" / "summary.json").exists(), "stage 2 finished before it could be killed"
    stage1_mtime = (out / "stage1" / "summary.json").stat().st_mtime
    done = align(*_args(out, reward_model), "run.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stage 1 is complete" in done.stdout and "resumed from step_" in done.stdout
    assert (out / "stage1" / "summary.json").stat().st_mtime == stage1_mtime  # stage 1 not rerun
    got = [r for r in _rows(out / "stage2" / "metrics.jsonl") if "reward_mean" in r]
    assert [r["step"] for r in got] == [1, 2, 3]  # nothing skipped, nothing repeated
    ref = {r["step"]: r for r in _rows(reference / "stage2" / "metrics.jsonl") if "reward_mean" in r}
    for r in got:  # same prompts (dynamic sampling's draws too), same samples, same updates as the uninterrupted run
        assert r["reward/tiny_rm/mean"] == pytest.approx(ref[r["step"]]["reward/tiny_rm/mean"], abs=1e-3)
        assert r["dynamic/draws"] == ref[r["step"]]["dynamic/draws"]
        assert r["update2/loss"] == pytest.approx(ref[r["step"]]["update2/loss"], abs=1e-4)
    assert json.loads((out / "summary.json").read_text())["stage2"]["rm_score_after"] == pytest.approx(
        json.loads((reference / "summary.json").read_text())["stage2"]["rm_score_after"], abs=1e-3)


def test_missing_reward_model_stops_before_stage1(tmp_path):
    out = tmp_path / "norm"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", "model.path=builtin:tiny-v2@init",
                 f"stage2.rewards=[{{model: {tmp_path}/missing/final}}]", timeout=120)
    assert proc.returncode == 2
    assert "stage2.rewards[0].model" in proc.stderr and "align rm" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
