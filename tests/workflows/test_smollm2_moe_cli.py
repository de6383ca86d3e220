"""The whole pipeline on the SmolLM2 DeepSeekMoE upcycle (its first 4 layers, to keep it minutes): `align sft`,
`align rm` from the SFT model, `align grpo` stage 1 with the vLLM weight sync verified by log-probs at the start
and the end of the stage, routed experts moving and expert load logged per layer."""
import json

import pytest
import torch

from tests.workflows.cli import run_align as align, weights


@pytest.fixture(scope="module")
def upcycle(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models import smollm2, smollm2_moe

    folder = tmp_path_factory.mktemp("moe4")
    dense = AutoModelForCausalLM.from_pretrained(str(smollm2.path()), dtype=torch.float32)
    smollm2_moe.upcycle(dense, smollm2_moe.Upcycle(layers=4)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(smollm2.path())).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_sft_rm_and_grpo_run_on_the_upcycle(upcycle, tmp_path):
    from tests.workflows.test_rm_cli import _args, _pairs, _write

    common = ["run.tensorboard=false", "trainer.num_workers=1", "trainer.threads_per_worker=2"]
    sft = align("sft", "recipes/smol_chat.yaml", f"run.output_dir={tmp_path / 'sft'}", f"model.path={upcycle}", *common,
                "data.samples_per_epoch=32", "data.eval=[{source: 'builtin:safety_chat', split: test, max_rows: 16}]",
                "eval.enabled=false", "sft.aux_loss_coef=0.001")
    assert sft.returncode == 0, sft.stderr[-3000:]
    s = json.loads((tmp_path / "sft" / "summary.json").read_text())
    assert s["eval_loss"] < s["base_eval_loss"], s
    sft_final = tmp_path / "sft" / "final"
    before, after = weights(upcycle), weights(sft_final)
    experts = [k for k in before if ".mlp.experts." in k]
    assert experts and any(not before[k].equal(after[k]) for k in experts), "SFT must train the routed experts"

    train, test = _write(tmp_path / "train.jsonl", _pairs(32)), _write(tmp_path / "test.jsonl", _pairs(8, 32))
    rm = align("rm", *_args(tmp_path, "pairwise", train, test), f"model.path={sft_final}", "rm.epochs=1",
               "optim.lr=1e-4", *common)
    assert rm.returncode == 0, rm.stderr[-3000:]

    grpo = align("grpo", "recipes/smol_grpo.yaml", f"run.output_dir={tmp_path / 'grpo'}", f"model.path={sft_final}",
                 *common, "stages=[1]", "stage1.grpo.steps=2", "stage1.grpo.prompts_per_step=4",
                 "stage1.grpo.group_size=4", "stage1.grpo.max_new_tokens=24", "stage1.grpo.micro_batch_size=8",
                 "stage1.eval_prompts=[{source: 'builtin:math', split: test, max_rows: 8}]", "stage1.watch=[]",
                 "stage1.grpo.routing_replay=r3")
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    s1 = json.loads((tmp_path / "grpo" / "summary.json").read_text())["stage1"]
    assert s1["sync_check_max_abs_diff"] < 1e-3 and s1["sync_check_final_max_abs_diff"] < 1e-3
    steps = [r for r in map(json.loads, (tmp_path / "grpo" / "stage1" / "metrics.jsonl").read_text().splitlines())
             if "reward_mean" in r]
    assert len(steps) == 2 and all(r["sync_bytes"] > 100e6 and "routing/entropy/l2" in r for r in steps)
    load = [json.loads(x) for x in (tmp_path / "grpo" / "stage1" / "routing_load.jsonl").read_text().splitlines()]
    assert load and len(load[0]["trainer"]) == 3 and len(load[0]["trainer"][0]) == 8  # 3 MoE layers x 8 experts
