"""A short SFT run through the real CLI: Ray + DeepSpeed workers, vLLM evaluation."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.workflows.cli import REPO, run_align as align, weights

SHORT = ["model.path=builtin:tiny-v2@init", "data.train=[{source: 'builtin:helpful_chat', weight: 4, max_rows: 160},"
         " {source: 'builtin:safety_chat', weight: 1, max_rows: 60}]",
         "data.eval=[{source: 'builtin:safety_chat', split: test, max_rows: 32}]",
         "data.samples_per_epoch=128", "sft.epochs=2", "sft.save_every=4", "eval.max_prompts=8",
         "eval.max_new_tokens=8", "run.tensorboard=false"]
CHECKS = ["eval.watch=[refusal, gsm8k, xstest]", "eval.baseline=true"]


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    from tests import benchdata

    tmp = tmp_path_factory.mktemp("sft")
    out = tmp / "run"
    bench = benchdata.write(tmp / "bench")  # small benchmark files: the checks run without the real data
    proc = align("sft", "recipes/v2_chat.yaml", f"run.output_dir={out}", *SHORT, *CHECKS, env={"ALIGN_BENCHMARKS": str(bench)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_outputs_follow_the_contract(sft_run):
    out, _ = sft_run
    for name in ("recipe.yaml", "metrics.jsonl", "summary.json", "final/config.json", "final/tokenizer.json", "loss.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("eval_loss", "base_eval_loss", "refusal_rate_harmful", "over_refusal_rate_benign", "wall_seconds"):
        assert key in summary, key
    assert summary["eval_loss"] < summary["base_eval_loss"]
    assert summary["steps"] == 16 and summary["n_harmful"] == 8 and summary["n_benign"] == 8
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 17))
    assert all(r["loss"] > 0 and r["tokens"] > 0 for r in rows if "loss" in r)


def test_every_parameter_changed_and_hf_loads(sft_run):
    from transformers import AutoModelForCausalLM

    from align.models.builtin import init_path

    out, _ = sft_run
    before, after = weights(init_path()), weights(out / "final")
    assert before.keys() == after.keys()
    unchanged = [k for k in before if before[k].equal(after[k])]
    assert unchanged == []
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    assert type(model).__name__ == "DeepseekV2ForCausalLM"


def test_final_loads_in_vllm_and_generates(sft_run):
    # the run's generation checks ran on final/ with vLLM: their samples are there
    out, _ = sft_run
    samples = json.loads((out / "samples.json").read_text())
    assert [s["set"] for s in samples["refusal"]] == ["harmful"] * 8 + ["benign"] * 8
    assert all(isinstance(s["response"], str) for s in samples["refusal"])
    assert len(samples["gsm8k"]) == 3 and len(samples["xstest"]) == 5


def test_benchmark_checks_before_and_after(sft_run):
    # eval.baseline ran the same checks on the starting model: summary has both, metrics.jsonl step 0 too
    out, _ = sft_run
    summary = json.loads((out / "summary.json").read_text())
    for key in ("gsm8k_accuracy", "xstest_refusal_unsafe", "xstest_over_refusal_safe", "refusal_rate_harmful"):
        assert 0.0 <= summary[key] <= 1.0 and 0.0 <= summary[f"{key}_before"] <= 1.0, key
    assert summary["gsm8k_accuracy_n"] == 3 and "xstest_refusal/privacy_fictional" in summary
    step0 = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] == 0]
    assert any("xstest_over_refusal_safe" in r for r in step0)
    before = json.loads((out / "samples_before.json").read_text())
    after = json.loads((out / "samples.json").read_text())
    assert before["xstest"] != after["xstest"]  # two models answered: the checks did not reuse one engine


def test_existing_results_refused_untouched(sft_run):
    out, _ = sft_run
    digest = hashlib.sha1((out / "summary.json").read_bytes()).hexdigest()
    mtimes = {p: p.stat().st_mtime for p in out.rglob("*") if p.is_file()}
    proc = align("sft", "recipes/v2_chat.yaml", f"run.output_dir={out}", *SHORT)
    assert proc.returncode == 2
    assert "already holds results" in proc.stderr and "run.resume=true" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert hashlib.sha1((out / "summary.json").read_bytes()).hexdigest() == digest
    assert {p: p.stat().st_mtime for p in out.rglob("*") if p.is_file()} == mtimes


def test_killed_run_resumes_with_identical_losses(sft_run, tmp_path):
    reference, _ = sft_run
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "align.cli", "sft", "recipes/v2_chat.yaml", f"run.output_dir={out}", *SHORT,
            "eval.enabled=false"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 400
    while not (out / "checkpoints" / "step_8").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = max(json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines())
    assert killed_at < 16, "the run finished before it could be killed"
    done = align("sft", "recipes/v2_chat.yaml", f"run.output_dir={out}", *SHORT, "eval.enabled=false", "run.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from step_" in done.stdout
    ref = {r["step"]: r["loss"] for r in map(json.loads, (reference / "metrics.jsonl").read_text().splitlines()) if "loss" in r}
    got = {r["step"]: r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r}
    assert sorted(got) == list(range(1, 17))  # nothing skipped, nothing repeated
    assert got == pytest.approx(ref, abs=1e-5)
