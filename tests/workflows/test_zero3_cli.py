"""SFT and reward models under ZeRO-3 with two ranks: the same losses as ZeRO-2 (fp tolerance: ZeRO-3 reduces
partitioned gradients in another order), and the saved `final/` gathers the partitioned weights. GRPO under
ZeRO-3 is in test_grpo_zero3_cli.py."""
import json

import pytest
import torch

from tests.workflows.cli import run_align as align, weights
from tests.workflows.test_rm_cli import _args as rm_args, _pairs, _write
from tests.workflows.test_sft_cli import SHORT as SFT

pytestmark = pytest.mark.slow  # four CLI runs, ~2.5 min: run with -m slow

RANKS = ["trainer.num_workers=2", "trainer.cpus_per_worker=1", "trainer.threads_per_worker=1"]


def _losses(out, key="loss") -> list:
    return [r[key] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if key in r and r["step"] > 0]


def _run(kind: str, args: list, out, stage: int):
    proc = align(kind, *args, f"run.output_dir={out}", *RANKS, f"trainer.zero_stage={stage}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_sft_under_zero3_equals_zero2(tmp_path):
    args = ["recipes/v2_chat.yaml", *SFT, "data.samples_per_epoch=32", "sft.epochs=1", "eval.enabled=false",
            "sft.save_every=100"]
    z2, z3 = _run("sft", args, tmp_path / "z2", 2), _run("sft", args, tmp_path / "z3", 3)
    a, b = _losses(z2), _losses(z3)
    assert len(a) == 2 and a == pytest.approx(b, rel=1e-4)
    w2, w3 = weights(z2 / "final"), weights(z3 / "final")
    assert w2.keys() == w3.keys() and all(w3[k].numel() > 0 for k in w3)  # gathered, not the (0,) partitions
    assert max(float((w2[k] - w3[k]).abs().max()) for k in w2) < 1e-4


def test_a_reward_model_under_zero3_equals_zero2(tmp_path):
    train, test = _write(tmp_path / "train.jsonl", _pairs(32)), _write(tmp_path / "test.jsonl", _pairs(16, 100))
    args = [a for a in rm_args(tmp_path, "pairwise", train, test) if not a.startswith(("run.output_dir", "rm.epochs"))]
    args.append("rm.epochs=1")
    z2, z3 = _run("rm", args, tmp_path / "z2", 2), _run("rm", args, tmp_path / "z3", 3)
    a, b = _losses(z2), _losses(z3)
    assert len(a) == 2 and a == pytest.approx(b, rel=1e-4)
    s2, s3 = (json.loads((z / "summary.json").read_text()) for z in (z2, z3))
    assert s2["pairwise_accuracy"] == s3["pairwise_accuracy"]
    assert torch.equal(weights(z3 / "final")["score.weight"].ne(0).any().reshape(1), torch.tensor([True]))
