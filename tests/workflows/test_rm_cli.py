"""Reward models through the real CLI (Ray + DeepSpeed workers), on trivially separable data."""
import json
from pathlib import Path

import pytest
import torch

from tests.workflows.cli import run_align as align, weights

GOOD = ("Here is a clear and correct answer.", "Happy to help, the answer is below.", "Sure, this works well.")
BAD = ("zzz qqq xxx", "## ## ## ## ##", "no no no no no no")


def _pairs(n: int, start: int = 0) -> list[dict]:
    return [{"prompt": f"Question number {i}?", "chosen": GOOD[i % 3], "rejected": BAD[i % 3], "source": "toy/x"}
            for i in range(start, start + n)]


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _args(tmp: Path, loss: str, train: str, test: str) -> list[str]:
    return ["recipes/v2_rm_pairwise.yaml", f"run.output_dir={tmp / loss}", "model.path=builtin:tiny-v2@init",
            f"rm.loss={loss}", "rm.epochs=4", "rm.batch_size=16", "rm.micro_batch_size=8", "optim.lr=2e-3",
            "optim.warmup_ratio=0", "rm.save_every=0", "run.tensorboard=false", f"data.train=[{{source: '{train}'}}]",
            f"data.eval=[{{source: '{test}'}}]", "data.max_length=64"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rm")
    train = _pairs(64) + [{"prompt": "Same?", "chosen": "x", "rejected": "x"}]  # one identical pair: skipped
    points = [{"prompt": p["prompt"], "completion": c, "label": lab} for p in _pairs(64)
              for c, lab in ((p["chosen"], 1), (p["rejected"], 0))]
    return tmp, _write(tmp / "train.jsonl", train), _write(tmp / "points.jsonl", points), _write(tmp / "test.jsonl", _pairs(24, 1000))


@pytest.fixture(scope="module")
def pairwise_run(toy):
    from tests import benchdata

    tmp, train, _, test = toy
    bench = {"ALIGN_BENCHMARKS": str(benchdata.write(tmp / "bench"))}  # HH-RLHF-format pairs, reported on their own
    evals = f"data.eval=[{{source: '{test}'}}, {{source: 'bench:hh_rlhf_harmless'}}]"
    proc = align("rm", *_args(tmp, "pairwise", train, test), evals, env=bench)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "pairwise", test


def test_pairwise_learns_the_separable_set_and_changes_the_backbone(pairwise_run):
    from align.workflows.models import resolve_model

    out, _ = pairwise_run
    s = json.loads((out / "summary.json").read_text())
    assert s["loss_type"] == "pairwise" and s["pairwise_accuracy"] == 1.0 and s["skipped_identical_pairs"] == 1
    # the benchmark pairs are scored but kept out of the overall figure (which is the toy test set's alone)
    assert s["pairwise_accuracy"] == s["pairwise_accuracy/test"] and s["pairwise_accuracy/hh_rlhf_harmless"] in (0.0, 0.5, 1.0)
    assert s["wall_seconds"] > 0 and s["steps"] == 16
    before, after = weights(Path(resolve_model("builtin:tiny-v2@init"))), weights(out / "final")
    backbone = [k for k in before if k.startswith("model.") and k in after]
    assert len(backbone) > 20
    changed = {k: not torch.equal(before[k], after[k]) for k in backbone}
    # every dense/shared/attention/router weight moves; a routed expert the toy data never reaches may not
    assert all(v for k, v in changed.items() if ".experts." not in k or "shared" in k)
    assert sum(changed.values()) >= 0.9 * len(changed)
    assert "score.weight" in after and after["score.weight"].shape[0] == 1


def test_served_scores_equal_offline_scores_and_the_reloaded_folder(pairwise_run):
    import ray
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from align.algos.rm import pairwise_accuracy
    from engine.cluster import start_ray
    from engine.reward_model import as_reward_function, start_server

    out, test = pairwise_run
    rows = [json.loads(x) for x in Path(test).read_text().splitlines()]
    start_ray(None, 2)
    try:
        fn = as_reward_function(start_server(str(out / "final")), "toy_rm")
        chosen = fn([r["prompt"] for r in rows], [r["chosen"] for r in rows])
        rejected = fn([r["prompt"] for r in rows], [[{"role": "assistant", "content": r["rejected"]}] for r in rows])
    finally:
        ray.shutdown()
    summary = json.loads((out / "summary.json").read_text())
    assert pairwise_accuracy(torch.tensor(chosen), torch.tensor(rejected)) == summary["pairwise_accuracy"]
    tok = AutoTokenizer.from_pretrained(out / "final")
    model = AutoModelForSequenceClassification.from_pretrained(out / "final").eval()
    ids = tok.apply_chat_template([{"role": "user", "content": rows[0]["prompt"]},
                                   {"role": "assistant", "content": rows[0]["chosen"]}], tokenize=True)["input_ids"]
    with torch.no_grad():
        direct = float(model(torch.tensor([ids])).logits[0, 0])
    assert abs(direct - chosen[0]) < 1e-4


def test_pointwise_bce_ranks_held_out_pairs(toy):
    tmp, _, points, test = toy
    proc = align("rm", *_args(tmp, "pointwise", points, test), "rm.pointwise_loss=bce", "rm.eval_every=16",
                 "rm.eval_at_start=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((tmp / "pointwise" / "summary.json").read_text())
    assert s["loss_type"] == "pointwise/bce" and s["pairwise_accuracy"] == 1.0 and s["steps"] == 32
    # evaluated at step 16 and at the end, not before training; the bar counts the scored sequences
    rows = [json.loads(x) for x in (tmp / "pointwise" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "pairwise_accuracy" in r] == [16, 32]
    assert "rm eval: 100%" in proc.stderr and "48/48" in proc.stderr


@pytest.mark.parametrize("row, message", [
    ({"prompt": "p", "chosen": "a"}, "missing field `rejected`"),
    ({"chosen": "a", "rejected": "b"}, "share no leading turns"),
    ({"prompt": "p", "chosen": 3, "rejected": "b"}, "field `chosen` must be a string"),
])
def test_broken_preference_rows_name_file_row_and_field(tmp_path, row, message):
    bad = _write(tmp_path / "bad.jsonl", _pairs(2) + [row])
    proc = align("rm", *_args(tmp_path, "pairwise", bad, bad))
    assert proc.returncode == 2 and "bad.jsonl" in proc.stderr and "row 2" in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_non_numeric_score_is_refused(tmp_path):
    bad = _write(tmp_path / "pts.jsonl", [{"prompt": "p", "completion": "c", "score": 1.0},
                                          {"prompt": "p", "completion": "d", "score": "high"}])
    proc = align("rm", *_args(tmp_path, "pointwise", bad, bad), "rm.pointwise_loss=mse")
    assert proc.returncode == 2 and "row 1" in proc.stderr and "`score` must be a finite number" in proc.stderr


def test_missing_sft_model_says_what_to_run(tmp_path):
    proc = align("rm", "recipes/v2_rm_pairwise.yaml", f"run.output_dir={tmp_path / 'x'}", "model.path=runs/no_such_sft_run/final")
    assert proc.returncode == 2 and "align sft recipes/v2_chat.yaml" in proc.stderr
