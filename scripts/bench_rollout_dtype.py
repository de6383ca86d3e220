"""Rollout engine in float32 vs bfloat16: generation speed and the log-prob mismatch each brings.

    .venv/bin/python scripts/bench_rollout_dtype.py [--model PATH] [--prompts 32] [--n 8] [--new-tokens 64]

For each dtype the engine is built as align builds it (`engine.device.rollout_backend`: on a CPU
with AMX tiles bfloat16 gets AMX_MLA, float32 always CPU_MLA), samples prompts x n completions at
T=0.7 from the built-in math prompts with the model's chat encoding, and reports tokens/s. The
sampled tokens are then scored by transformers in float32 (the trainer's precision) and the
per-token |logp_vllm - logp_transformers| is summarised (mean, p99, max). It also checks the two
facts the float32 path relies on: vLLM's teacher-forced log-probs of 35 fixed tokens against
transformers, and a weight sync (perturbed weights into a running engine) against a fresh load
of the same weights. Default model: the built-in DeepSeek-V2, perturbed as the engine tests do
when no trained model is given (a random MoE hides errors). One JSON object is printed at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "engine"))


def model_folder(a) -> str:
    if a.model:
        return a.model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models.builtin import init_path
    from engine_helpers import perturb

    out = Path(tempfile.mkdtemp()) / "perturbed"
    perturb(AutoModelForCausalLM.from_pretrained(init_path()), seed=1, sharpen=8.0).save_pretrained(out)
    AutoTokenizer.from_pretrained(init_path()).save_pretrained(out)
    return str(out)


def prompts(path: str, k: int) -> list[list[int]]:
    from transformers import AutoTokenizer

    from align.data.builtin import load_builtin
    from align.data.chat import encode_prompt

    tok = AutoTokenizer.from_pretrained(path)
    return [encode_prompt(tok, [{"role": "user", "content": r["prompt"]}]) for r in load_builtin("math", "test")[:k]]


TEMPERATURE = 0.7  # vLLM returns processed log-probs: those of logits / T, compared at the same T


def hf_gaps(hf, seqs, plens, lps) -> torch.Tensor:
    """Per-token |vLLM - transformers fp32 log_softmax(logits / T)| over every sampled token."""
    out = []
    with torch.no_grad():
        for s, p, lp in zip(seqs, plens, lps):
            ids = torch.tensor([s])
            ref = torch.log_softmax(hf(input_ids=ids).logits[0, :-1].float() / TEMPERATURE, -1).gather(-1, ids[0, 1:, None])[p - 1:, 0]
            out.append((torch.tensor(lp) - ref).abs())
    return torch.cat(out)


def bench_dtype(path, hf, ps, a, dtype) -> dict:
    from engine.rollout import RolloutEngine

    eng = RolloutEngine(path, dtype=dtype, kv_cache_gib=2, max_model_len=512)
    try:
        eng.generate(ps[:2], n=2, temperature=0.7, max_tokens=8, seed=0)  # warm-up
        t0 = time.perf_counter()
        outs = eng.generate(ps, n=a.n, temperature=TEMPERATURE, max_tokens=a.new_tokens)
        secs = time.perf_counter() - t0
        info = eng.info()
    finally:
        eng.close()
    samples = [(p, s) for p, group in zip(ps, outs) for s in group]
    tokens = sum(len(s["token_ids"]) for _, s in samples)
    sub = samples[:: max(1, len(samples) // a.score_samples)]
    gaps = hf_gaps(hf, [p + s["token_ids"] for p, s in sub], [len(p) for p, _ in sub], [s["logprobs"] for _, s in sub])
    return {"dtype": dtype, "attention_backend": info["attention_backend"], "tokens": tokens, "seconds": round(secs, 2),
            "tokens_per_s": round(tokens / secs, 1), "scored_tokens": len(gaps),
            "mismatch_mean": float(gaps.mean()), "mismatch_p99": float(gaps.quantile(0.99)), "mismatch_max": float(gaps.max())}


def exactness(path, hf) -> dict:
    """fp32: 35 teacher-forced tokens vs transformers; a sync of perturbed weights vs a fresh load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.rollout import RolloutEngine
    from engine_helpers import hf_logprobs, max_gap, perturb

    g = torch.Generator().manual_seed(7)
    vocab = min(4000, hf.config.vocab_size)
    seqs = [[1] + torch.randint(6, vocab, (35,), generator=g).tolist() for _ in range(3)]
    plens = [1, 1, 1]
    other = Path(tempfile.mkdtemp()) / "other"
    b = perturb(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), seed=11, scale=0.5)
    b.save_pretrained(other)
    AutoTokenizer.from_pretrained(path).save_pretrained(other)  # vLLM loads the tokenizer from the model folder
    eng = RolloutEngine(path, kv_cache_gib=1, max_model_len=256)
    try:
        vs_hf = max_gap(eng.score(seqs, plens), hf_logprobs(hf, seqs, plens))
        eng.update_weights(b.named_parameters())
        synced = eng.score(seqs, plens)
    finally:
        eng.close()
    fresh = RolloutEngine(str(other), kv_cache_gib=1, max_model_len=256)
    try:
        vs_fresh = max_gap(synced, [torch.tensor(x) for x in fresh.score(seqs, plens)])
    finally:
        fresh.close()
    return {"fp32_vs_transformers_max_35_tokens": vs_hf, "sync_vs_fresh_load_max": vs_fresh,
            "sync_vs_transformers_max": max_gap(synced, hf_logprobs(b.eval(), seqs, plens))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--score-samples", type=int, default=32, help="sampled completions scored by transformers")
    a = ap.parse_args()
    from transformers import AutoModelForCausalLM

    from engine import device

    path = model_folder(a)
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ps = prompts(path, a.prompts)
    runs = {d: bench_dtype(path, hf, ps, a, d) for d in ("float32", "bfloat16")}
    result = {"model": path, "cpu": device.cpu_features().flags(), "runs": runs,
              "bf16_speedup": round(runs["bfloat16"]["tokens_per_s"] / runs["float32"]["tokens_per_s"], 3),
              **exactness(path, hf)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
