"""GRPO step time, side by side on one machine and one batch: align vs TRL vs the bare parts.

    .venv/bin/python scripts/bench_grpo.py [--model PATH] [--prompts 8] [--group 8] [--new-tokens 64] [--steps 4]

(a) `align grpo` (vLLM rollout actor + DeepSpeed worker on Ray, weight sync every step);
(b) TRL's GRPOTrainer on the same model and prompts (transformers generation: TRL's vLLM
    colocate mode fails on DeepSeek-V2 weight sync, see PLATFORM.md);
(c) the parts alone: vLLM generating the batch + DeepSpeed training on it, no orchestration.
Each runs in its own process; step times skip the first (warm-up) step. The last line is
`align_vs_trl_speedup=<x> align_vs_parts_ratio=<y>`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def prompts(n: int) -> list[dict]:
    sys.path.insert(0, str(REPO))
    from align.data.builtin import load_builtin

    return load_builtin("math", "train")[:n]


# ---------------------------------------------------------------------- (a) align
def bench_align(a) -> dict:
    out = Path(tempfile.mkdtemp()) / "run"
    args = [sys.executable, "-m", "align.cli", "grpo", "recipes/v2_grpo.yaml", f"model.path={a.model}",
            f"run.output_dir={out}", "run.tensorboard=false", "stage1.rewards=[{fn: math_answer}]",
            f"stage1.prompts=[{{source: 'builtin:math', max_rows: {a.prompts}}}]",
            "stages=[1]", "stage1.eval_prompts=[]", f"stage1.grpo.steps={a.steps}", f"stage1.grpo.prompts_per_step={a.prompts}",
            f"stage1.grpo.group_size={a.group}", f"stage1.grpo.max_new_tokens={a.new_tokens}",
            f"stage1.grpo.micro_batch_size={a.prompts * a.group}", "stage1.grpo.updates_per_batch=1"]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"align grpo failed:\n{proc.stderr[-3000:]}")
    rows = [json.loads(x) for x in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward_mean" in r]
    times = [r["generation_seconds"] + r["train_seconds"] + r.get("sync_seconds", 0.0) for r in steps[1:]]
    walls = [b["time"] - a_["time"] for a_, b in zip(steps, steps[1:])]
    return {"step_seconds": statistics.median(walls), "phases_seconds": statistics.median(times),
            "generation_seconds": statistics.median(r["generation_seconds"] for r in steps[1:]),
            "train_seconds": statistics.median(r["train_seconds"] for r in steps[1:]),
            "sync_seconds": statistics.median(r["sync_seconds"] for r in steps[1:]),
            "completion_tokens": statistics.median(r["completion_len"] * a.prompts * a.group for r in steps[1:])}


# ---------------------------------------------------------------------- (b) TRL
def bench_trl(a) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewards import RewardSpec, load_reward

    torch.set_num_threads(os.cpu_count())
    tok = AutoTokenizer.from_pretrained(a.model)
    rows = prompts(a.prompts)
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}], "answer": r["answer"]} for r in rows] * (a.steps + 1))
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.t0 = time.perf_counter()

        def on_step_end(self, *_, **__):
            times.append(time.perf_counter() - self.t0)

    args = GRPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=a.prompts * a.group,
                      num_generations=a.group, max_completion_length=a.new_tokens, max_steps=a.steps,
                      learning_rate=1e-5, beta=0.02, use_cpu=True, bf16=False, report_to=[], logging_steps=1000,
                      save_strategy="no", temperature=1.0, gradient_accumulation_steps=1, seed=0)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(a.model), reward_funcs=[load_reward(RewardSpec("math_answer"))],
                          args=args, train_dataset=ds, processing_class=tok, callbacks=[Timer()])
    trainer.train()
    return {"step_seconds": statistics.median(times[1:])}


# ---------------------------------------------------------------------- (c) the parts
def bench_parts(a) -> dict:
    import torch

    from align.data.chat import Encoded, encode_prompt
    from engine.rollout import RolloutEngine
    from engine.trainer import TrainWorker, collate

    tok = __import__("transformers").AutoTokenizer.from_pretrained(a.model)
    ids = [encode_prompt(tok, [{"role": "user", "content": r["prompt"]}]) for r in prompts(a.prompts)]
    engine = RolloutEngine(a.model, kv_cache_gib=1, max_model_len=512)
    worker = TrainWorker(0, 1, "127.0.0.1", _port(), threads=_recipe_threads())  # as align's trainer
    ds = {"train_micro_batch_size_per_gpu": a.prompts * a.group, "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
          "zero_optimization": {"stage": 2}, "zero_allow_untested_optimizer": True, "steps_per_print": 10**9,
          "_optimizer": {"lr": 1e-5, "betas": [0.9, 0.95], "weight_decay": 0.0}}
    worker.setup(a.model, ds, seed=0)
    gen, train = [], []
    for step in range(a.steps):
        t0 = time.perf_counter()
        outs = engine.generate(ids, n=a.group, temperature=1.0, max_tokens=a.new_tokens, seed=step, stop_token_ids=[tok.eos_token_id])
        gen.append(time.perf_counter() - t0)
        enc = [Encoded(tuple(p + o["token_ids"]), (0,) * len(p) + (1,) * len(o["token_ids"])) for p, os_ in zip(ids, outs) for o in os_]
        mb = collate(enc, tok.pad_token_id)
        t0 = time.perf_counter()
        worker.train_step([mb], 1e-5, "sft", token_scale=1.0 / max(1, sum(len(e.input_ids) for e in enc)), aux_coef=0.0)
        train.append(time.perf_counter() - t0)
    return {"step_seconds": statistics.median(g + t for g, t in zip(gen[1:], train[1:])),
            "generation_seconds": statistics.median(gen[1:]), "train_seconds": statistics.median(train[1:])}


def _recipe_threads() -> int:
    import yaml

    return yaml.safe_load((REPO / "recipes" / "v2_grpo.yaml").read_text())["trainer"].get("threads_per_worker", 1)


def _port() -> int:
    from engine.cluster import free_port

    return free_port()


# ---------------------------------------------------------------------- driver
def child(kind: str, a) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, __file__, f"--_child={kind}", f"--model={a.model}", f"--prompts={a.prompts}",
           f"--group={a.group}", f"--new-tokens={a.new_tokens}", f"--steps={a.steps}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="HF folder (default: the built-in SFT run runs/v2_chat/final, else builtin base)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._child:
        print("RESULT " + json.dumps({"align": bench_align, "trl": bench_trl, "parts": bench_parts}[a._child](a)), flush=True)
        return
    if a.model is None:
        sft = REPO / "runs" / "v2_chat" / "final"
        if sft.exists():
            a.model = str(sft)
        else:
            sys.path.insert(0, str(REPO))
            from align.workflows.models import resolve_model

            a.model = resolve_model("builtin:tiny-v2")
    print(f"[bench] model={a.model} prompts={a.prompts} group={a.group} new_tokens={a.new_tokens} steps={a.steps} "
          f"cores={os.cpu_count()}", flush=True)
    res = {}
    for kind in ("parts", "align", "trl"):
        res[kind] = child(kind, a)
        print(f"[bench] {kind}: " + json.dumps({k: round(v, 3) for k, v in res[kind].items()}), flush=True)
    speedup = res["trl"]["step_seconds"] / res["align"]["step_seconds"]
    ratio = res["align"]["step_seconds"] / res["parts"]["step_seconds"]
    print(f"align_vs_trl_speedup={speedup:.2f} align_vs_parts_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
