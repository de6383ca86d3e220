"""GRPO step time, side by side on one machine and one batch: align (sync and async) vs TRL vs the bare parts.

    .venv/bin/python scripts/bench_grpo.py [--model PATH] [--prompts 8] [--group 8] [--groups 4,8,16]
                                           [--new-tokens 64] [--steps 5]

(a) `align grpo`, synchronous (vLLM rollout actor + DeepSpeed worker on Ray, weight sync every step; the
    engine on `--engine-threads` cores, `rollout.cpu_threads`);
(b) `align grpo` with `grpo.async: one_step` (the engine generates batch t+1 while the trainer trains on
    batch t; the engine on 1 core, the trainer on `--async-threads` threads: they run at once);
(c) TRL's GRPOTrainer on the same model and prompts (transformers generation: TRL's vLLM
    colocate mode fails on DeepSeek-V2 weight sync, see PLATFORM.md), same precision (fp32);
(d) the parts alone: vLLM generating the batch + one DeepSpeed step on it, no orchestration, in one process
    (the engine with (a)'s threads).
Each runs in its own process; step times are medians that skip the first (warm-up) step. `--groups` repeats
(a), (b) and (d) at other group sizes (TRL only at `--group`, or at every size with `--trl-every-group`).
The last line is `align_vs_trl_speedup=<TRL / best align> align_vs_parts_ratio=<align sync / parts>
async_vs_sync=<sync / async> async_vs_overlap_bound=<async / max(parts generate, parts train)>`.
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
def bench_align(a, one_step: bool = False) -> dict:
    out = Path(tempfile.mkdtemp()) / "run"
    extra = (["stage1.grpo.async=one_step", f"trainer.threads_per_worker={a.async_threads}", "rollout.cpu_threads=1"]
             if one_step else [f"rollout.cpu_threads={a.engine_threads}"] if a.engine_threads else [])
    args = [sys.executable, "-m", "align.cli", "grpo", "recipes/v2_grpo.yaml", f"model.path={a.model}",
            f"run.output_dir={out}", "run.tensorboard=false", "stage1.rewards=[{fn: math_answer}]",
            f"stage1.prompts=[{{source: 'builtin:math', max_rows: {a.prompts}}}]",
            "stages=[1]", "stage1.eval_prompts=[]", f"stage1.grpo.steps={a.steps}", f"stage1.grpo.prompts_per_step={a.prompts}",
            f"stage1.grpo.group_size={a.group}", f"stage1.grpo.max_new_tokens={a.new_tokens}",
            f"stage1.grpo.micro_batch_size={a.prompts * a.group}", "stage1.grpo.updates_per_batch=1", "stage1.grpo.temperature=1.0", *extra]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"align grpo failed:\n{proc.stderr[-3000:]}")
    rows = [json.loads(x) for x in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward_mean" in r]
    walls = [b["time"] - a_["time"] for a_, b in zip(steps, steps[1:])]
    keys = ["step_seconds", "generation_seconds", "reference_seconds", "train_seconds", "update_seconds",
            "sync_seconds", "async/wait_seconds", "async/generate_seconds"]
    out = {"step_seconds": statistics.median(walls)}  # wall between step logs: everything, evaluation excluded
    out |= {f"logged_{k}" if k == "step_seconds" else k: statistics.median(r[k] for r in steps[1:] if k in r)
            for k in keys if any(k in r for r in steps[1:])}
    out["completion_tokens"] = statistics.median(r["completion_len"] * a.prompts * a.group for r in steps[1:])
    return out


def bench_align_async(a) -> dict:
    return bench_align(a, one_step=True)


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
    engine = RolloutEngine(a.model, kv_cache_gib=1, max_model_len=512, cpu_threads=a.engine_threads)  # as align sync
    worker = TrainWorker(0, 1, "127.0.0.1", _port(), threads=_recipe_threads())  # as align's trainer
    ds = {"train_micro_batch_size_per_gpu": a.prompts * a.group, "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
          "zero_optimization": {"stage": 2}, "zero_allow_untested_optimizer": True, "steps_per_print": 10**9,
          "_optimizer": {"lr": 1e-5, "betas": [0.9, 0.95], "weight_decay": 0.0}}
    worker.setup(a.model, ds, seed=0)
    gen, train, tokens = [], [], []
    for step in range(a.steps):
        t0 = time.perf_counter()
        outs = engine.generate(ids, n=a.group, temperature=1.0, max_tokens=a.new_tokens, seed=step, stop_token_ids=[tok.eos_token_id])
        gen.append(time.perf_counter() - t0)
        enc = [Encoded(tuple(p + o["token_ids"]), (0,) * len(p) + (1,) * len(o["token_ids"])) for p, os_ in zip(ids, outs) for o in os_]
        mb = collate(enc, tok.pad_token_id)
        t0 = time.perf_counter()
        worker.train_step([mb], 1e-5, "sft", token_scale=1.0 / max(1, sum(len(e.input_ids) for e in enc)), aux_coef=0.0)
        train.append(time.perf_counter() - t0)
        tokens.append(sum(len(o["token_ids"]) for os_ in outs for o in os_))
    return {"step_seconds": statistics.median(g + t for g, t in zip(gen[1:], train[1:])),
            "generation_seconds": statistics.median(gen[1:]), "train_seconds": statistics.median(train[1:]),
            "completion_tokens": statistics.median(tokens[1:])}


def _recipe_threads() -> int:
    import yaml

    return yaml.safe_load((REPO / "recipes" / "v2_grpo.yaml").read_text())["trainer"].get("threads_per_worker", 1)


def _port() -> int:
    from engine.cluster import free_port

    return free_port()


# ---------------------------------------------------------------------- driver
KINDS = {"parts": bench_parts, "align": bench_align, "align_async": bench_align_async, "trl": bench_trl}


def child(kind: str, a, group: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, __file__, f"--_child={kind}", f"--model={a.model}", f"--prompts={a.prompts}",
           f"--group={group}", f"--new-tokens={a.new_tokens}", f"--steps={a.steps}", f"--async-threads={a.async_threads}"]
    cmd += [f"--engine-threads={a.engine_threads}"] if a.engine_threads else []
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{kind} (G={group}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="HF folder (default: the built-in SFT run runs/v2_chat/final, else builtin base)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8, help="the group size of the headline comparison")
    p.add_argument("--groups", default="", help="more group sizes for the growth table, e.g. 4,8,16")
    p.add_argument("--trl-every-group", action="store_true", help="also run TRL at every size of --groups")
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--async-threads", type=int, default=1, help="trainer threads in the async run")
    p.add_argument("--engine-threads", type=int, default=None,
                   help="rollout.cpu_threads of the sync run and the parts (default: the recipe's; vLLM's own choice)")
    p.add_argument("--only", default="", help=f"a subset of {','.join(KINDS)} (no last line unless all ran)")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._child:
        print("RESULT " + json.dumps(KINDS[a._child](a)), flush=True)
        return
    if a.model is None:
        sft = REPO / "runs" / "v2_chat" / "final"
        if sft.exists():
            a.model = str(sft)
        else:
            sys.path.insert(0, str(REPO))
            from align.workflows.models import resolve_model

            a.model = resolve_model("builtin:tiny-v2")
    groups = sorted({a.group, *(int(x) for x in a.groups.split(",") if x)})
    print(f"[bench] model={a.model} prompts={a.prompts} groups={groups} new_tokens={a.new_tokens} steps={a.steps} "
          f"cores={os.cpu_count()} async_threads={a.async_threads} engine_threads={a.engine_threads} precision=fp32", flush=True)
    res: dict[int, dict] = {}
    for G in groups:
        res[G] = {}
        for kind in a.only.split(",") if a.only else KINDS:
            if kind == "trl" and G != a.group and not a.trl_every_group:
                continue
            res[G][kind] = child(kind, a, G)
            print(f"[bench] G={G} {kind}: " + json.dumps({k: round(v, 3) for k, v in res[G][kind].items()}), flush=True)
    growth_table(res, a.prompts)
    r = res[a.group]
    if set(r) != set(KINDS):
        return
    best = min(r["align"]["step_seconds"], r["align_async"]["step_seconds"])
    bound = max(r["parts"]["generation_seconds"], r["parts"]["train_seconds"])
    print(f"align_vs_trl_speedup={r['trl']['step_seconds'] / best:.2f} "
          f"align_vs_parts_ratio={r['align']['step_seconds'] / r['parts']['step_seconds']:.2f} "
          f"async_vs_sync={r['align']['step_seconds'] / r['align_async']['step_seconds']:.2f} "
          f"async_vs_overlap_bound={r['align_async']['step_seconds'] / bound:.2f}")


def growth_table(res: dict, prompts: int) -> None:
    """Seconds per step against the group size (and per sample, which stays flat or falls when growth is linear
    or better)."""
    kinds = [k for k in KINDS if any(k in r for r in res.values())]
    print("[bench] seconds per step (per sample) by group size")
    print("| G | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds))
    for G, r in res.items():
        cells = [f"{r[k]['step_seconds']:.2f} ({r[k]['step_seconds'] / (prompts * G):.3f})" if k in r else "-"
                 for k in kinds]
        print(f"| {G} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
