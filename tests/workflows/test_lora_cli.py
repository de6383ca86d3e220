"""LoRA (`model.lora`) through the real CLI: GRPO with vLLM rollouts synced from merged adapters, the KL reference
being the policy with its adapters disabled, a merged `final/` that transformers and vLLM load, the adapters
beside it, and an exact resume after kill -9. SFT and reward models with LoRA run under `-m slow`."""
import json

import pytest
import torch

from tests.workflows.cli import kill_once_saved, run_align as align, weights
from tests.workflows.test_grpo_cli import SHORT

LORA = ["model.lora={r: 4, alpha: 8.0}", "stage1.optim.lr=2e-2"]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "run"
    proc = align("grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *SHORT, *LORA)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_lora_grpo_trains_adapters_and_syncs_merged_weights(lora_run):
    from transformers import AutoModelForCausalLM

    from align.models.builtin import init_path

    out, proc = lora_run
    assert "LoRA r=4" in proc.stdout and "adapters disabled (no second copy)" in proc.stdout
    s1 = json.loads((out / "summary.json").read_text())["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3
    before, after = weights(init_path()), weights(out / "stage1" / "final")
    assert set(before) == set(after), "final/ must be a plain checkpoint with the base model's tensor names"
    changed = {k for k in before if not before[k].equal(after[k])}
    adapted = ("q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert changed and all(k.endswith(tuple(f"{a}.weight" for a in adapted)) for k in changed), sorted(changed)[:5]
    assert any(".experts." in k for k in changed), "the routed experts are LoRA targets too"
    assert not any(k.endswith(("norm.weight", "embed_tokens.weight", "lm_head.weight", "mlp.gate.weight")) for k in changed)
    adapter = out / "stage1" / "final" / "adapter"
    assert (adapter / "adapter_config.json").exists() and any(adapter.glob("adapter_model.*"))
    model = AutoModelForCausalLM.from_pretrained(str(out / "stage1" / "final"), dtype=torch.float32)
    assert model(torch.tensor([[1, 2, 3]])).logits.isfinite().all()
    rows = [json.loads(x) for x in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward_mean" in r]
    assert all(r["logprob_mismatch"] < 1e-4 for r in steps), "vLLM must sample from the merged, trained policy"
    assert all(r["memory/trainer_peak_mb"] > 100 and r["memory/rollout_peak_mb"] > 100 for r in steps)
    assert steps[0]["update1/kl"] == pytest.approx(0.0, abs=1e-7) and steps[-1]["kl"] > 0, "reference = the start"


@pytest.mark.slow
def test_a_lora_run_killed_mid_stage_resumes_exactly(lora_run, tmp_path):
    out, _ = lora_run
    killed = tmp_path / "killed"
    args = ["grpo", "recipes/v2_grpo.yaml", f"run.output_dir={killed}", *SHORT, *LORA, "stage1.grpo.save_every=1"]
    kill_once_saved(args, killed / "stage1" / "checkpoints" / "step_1")
    assert not (killed / "stage1" / "summary.json").exists(), "the stage finished before it could be killed"
    proc = align(*args, "run.resume=true")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "resumed from step_" in proc.stdout

    def steps(folder):
        return {r["step"]: r for r in map(json.loads, (folder / "stage1" / "metrics.jsonl").read_text().splitlines())
                if "reward_mean" in r}

    got, ref = steps(killed), steps(out)
    assert sorted(got) == [1, 2, 3]
    for s, r in got.items():  # the same draws, rewards and updates as the uninterrupted run
        assert r["dynamic/draws"] == ref[s]["dynamic/draws"]
        assert r["reward_mean"] == pytest.approx(ref[s]["reward_mean"], abs=1e-6)
        assert r["update2/loss"] == pytest.approx(ref[s]["update2/loss"], abs=1e-4)
    a, b = weights(out / "stage1" / "final"), weights(killed / "stage1" / "final")
    gap = max(float((a[k] - b[k]).abs().max()) for k in a)  # measured 5.8e-5 (float32 rounding after the reload)
    assert gap < 1e-3, gap


@pytest.mark.slow
def test_lora_sft_and_reward_model(tmp_path):
    from tests.workflows.test_rm_cli import _args, _pairs, _write
    from tests.workflows.test_sft_cli import SHORT as SFT

    sft = align("sft", "recipes/v2_chat.yaml", f"run.output_dir={tmp_path / 'sft'}", *SFT, "model.lora={r: 8}",
                "optim.lr=1e-2", "eval.enabled=false")
    assert sft.returncode == 0, sft.stderr[-3000:]
    summary = json.loads((tmp_path / "sft" / "summary.json").read_text())
    assert summary["eval_loss"] < summary["base_eval_loss"]
    train, test = _write(tmp_path / "train.jsonl", _pairs(64)), _write(tmp_path / "test.jsonl", _pairs(16, 64))
    rm = align("rm", *_args(tmp_path, "pairwise", train, test), "model.lora={r: 8}")
    assert rm.returncode == 0, rm.stderr[-3000:]
    result = json.loads((tmp_path / "pairwise" / "summary.json").read_text())
    assert result["pairwise_accuracy"] >= 0.9, result
    assert "score.weight" in weights(tmp_path / "pairwise" / "final")
