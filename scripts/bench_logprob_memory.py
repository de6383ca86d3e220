"""Peak memory of one GRPO micro-batch's log-prob forward + backward: full logits vs chunked.

    .venv/bin/python scripts/bench_logprob_memory.py [--batch 8] [--prompt-len 128] [--completion-len 256]
                                                      [--vocab 102400] [--chunk-tokens 256] [--sweep 64,256]

Model: the built-in DeepSeek-V2 shape (`configs/models/tiny_v2.yaml`, through
`align.models.builtin.model_config`) with the vocabulary overridden (default 102,400, DeepSeek-V2's
own), randomly initialised, float32, train mode. Batch: `batch` rows of a left-padded prompt and a
right-padded completion (random lengths, random ids); the scored positions are the completion tokens.

    before: model(ids, mask, output_router_logits=True).logits[:, :-1].float(), log_softmax over V,
            gather, masked mean, backward (what engine/objectives.py did before chunking)
    after:  hidden = model.model(ids, mask, output_router_logits=True).last_hidden_state;
            chunked_logprobs(hidden[:, :-1], lm_head.weight, ids[:, 1:], completion mask), masked
            mean, backward
    model:  (reference floor) the base model alone: hidden states at the scored positions, summed
            (times 1e-3) and backpropagated; no lm_head, no vocabulary-sized tensor

Each (path, completion length) runs in a fresh child process (`--path before|after`), which builds
the model and batch, resets the kernel's peak-RSS mark (/proc/self/clear_refs), records the RSS,
runs one forward + backward and reports ru_maxrss minus that RSS ("extra peak") and the seconds.
The "after" child then checks that model.lm_head(model.model(...).last_hidden_state) equals
model(...).logits and that the base-model call returns the router logits. The parent prints a
table (with "lm-head MB": extra peak minus the model-only floor) and checks that before and after
give the same loss and the same gradient norm.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
THREADS = 2


def rss_mb() -> float:
    """Current resident set size, MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0: also resets ru_maxrss); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def build_model(vocab: int):
    from transformers import DeepseekV2ForCausalLM

    from align.models.builtin import model_config

    cfg = model_config(SimpleNamespace(bos_token_id=0, eos_token_id=1, pad_token_id=2))
    cfg.vocab_size = vocab
    torch.manual_seed(0)
    model = DeepseekV2ForCausalLM(cfg).float().train()
    return model


def build_batch(batch: int, prompt_len: int, completion_len: int, vocab: int, pad: int = 2) -> dict:
    """Left-padded prompts + right-padded completions.

    Returns input_ids / attention_mask [B, P + C] and completion_mask [B, P + C - 1] (the scored
    positions: position t predicts token t + 1, which is a real completion token).
    """
    g = torch.Generator().manual_seed(1)
    n = prompt_len + completion_len
    ids = torch.randint(3, vocab, (batch, n), generator=g)
    attn = torch.ones(batch, n, dtype=torch.long)
    completion = torch.zeros(batch, n, dtype=torch.bool)
    for i in range(batch):
        p = int(torch.randint(prompt_len // 2, prompt_len + 1, (1,), generator=g))
        c = int(torch.randint(completion_len // 2, completion_len + 1, (1,), generator=g))
        attn[i, :prompt_len - p] = 0
        attn[i, prompt_len + c:] = 0
        completion[i, prompt_len:prompt_len + c] = True
    ids[attn == 0] = pad
    return {"input_ids": ids, "attention_mask": attn, "completion_mask": completion[:, 1:]}


def loss_before(model, b: dict) -> torch.Tensor:
    out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_router_logits=True)
    logits = out.logits[:, :-1].float()  # [B, T-1, V]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, b["input_ids"][:, 1:, None]).squeeze(-1)
    mask = b["completion_mask"].float()
    return -(logp * mask).sum() / mask.sum()


def loss_after(model, b: dict, chunk_tokens: int) -> torch.Tensor:
    from align.algos.logprobs import chunked_logprobs

    out = model.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_router_logits=True)
    hidden = out.last_hidden_state  # [B, T, H], after the final norm
    logp, _ = chunked_logprobs(hidden[:, :-1], model.lm_head.weight, b["input_ids"][:, 1:], b["completion_mask"],
                               chunk_tokens=chunk_tokens)
    mask = b["completion_mask"].float()
    return -(logp * mask).sum() / mask.sum()


def base_call_checks(model, b: dict) -> dict:
    """On the first row: lm_head(base hidden) == causal-LM logits; router logits from both calls."""
    with torch.no_grad():
        ids, attn = b["input_ids"][:1], b["attention_mask"][:1]
        full = model(input_ids=ids, attention_mask=attn, output_router_logits=True)
        base = model.model(input_ids=ids, attention_mask=attn, output_router_logits=True)
        plain = model.model(input_ids=ids, attention_mask=attn)
        diff = (model.lm_head(base.last_hidden_state) - full.logits).abs().max().item()
        r_full, r_base = tuple(full.router_logits or ()), tuple(base.router_logits or ())
        return {
            "lm_head_vs_logits_maxabs": diff,
            "router_logits_base": [list(r.shape) for r in r_base],
            "router_logits_equal": len(r_full) == len(r_base)
            and all(torch.equal(x, y) for x, y in zip(r_full, r_base)),
            "router_logits_without_flag": getattr(plain, "router_logits", None) is not None,
            "past_key_values_returned": base.past_key_values is not None,
            "training_mode": model.training,
        }


def loss_model_only(model, b: dict) -> torch.Tensor:
    out = model.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_router_logits=True)
    return out.last_hidden_state[:, :-1][b["completion_mask"]].sum() * 1e-3


LOSSES = {"before": loss_before, "after": loss_after, "model": loss_model_only}


def child(a) -> None:
    torch.set_num_threads(THREADS)
    model = build_model(a.vocab)
    b = build_batch(a.batch, a.prompt_len, a.completion_len, a.vocab)
    reset = reset_peak()
    base = rss_mb()
    t0 = time.perf_counter()
    loss = loss_after(model, b, a.chunk_tokens) if a.path == "after" else LOSSES[a.path](model, b)
    loss.backward()
    secs = time.perf_counter() - t0
    peak = maxrss_mb()
    grad_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None])).item()
    res = {"path": a.path, "completion_len": a.completion_len, "extra_peak_mb": peak - base, "base_rss_mb": base,
           "peak_reset": reset, "seconds": secs, "loss": loss.item(), "grad_norm": grad_norm,
           "scored_tokens": int(b["completion_mask"].sum()), "seq_len": b["input_ids"].shape[1]}
    if a.path == "after":
        model.zero_grad(set_to_none=True)
        res["checks"] = base_call_checks(model, b)
    print("RESULT " + json.dumps(res), flush=True)


def run_child(a, path: str, completion_len: int) -> dict:
    cmd = [sys.executable, __file__, "--path", path, "--batch", str(a.batch), "--prompt-len", str(a.prompt_len),
           "--completion-len", str(completion_len), "--vocab", str(a.vocab), "--chunk-tokens", str(a.chunk_tokens)]
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"child {path} (completion {completion_len}) failed with rc={proc.returncode}")
    return json.loads(lines[-1][len("RESULT "):])


def parent(a) -> None:
    lens = [int(x) for x in a.sweep.split(",")] if a.sweep else [a.completion_len]
    print(f"DeepSeek-V2 (tiny_v2.yaml) vocab {a.vocab:,}, fp32, batch {a.batch}, prompt {a.prompt_len}, "
          f"chunk_tokens {a.chunk_tokens}, torch {torch.__version__}, {THREADS} threads")
    rows, checks = [], None
    for c in lens:
        before, after, floor = run_child(a, "before", c), run_child(a, "after", c), run_child(a, "model", c)
        checks = after.pop("checks")
        rows.append((c, before, after, floor))
    ok = True
    print()
    print(f"{'completion':>10} {'seq':>5} {'scored':>6} {'[B,T,V] fp32 MB':>15} {'path':>6} {'extra peak MB':>13} "
          f"{'lm-head MB':>10} {'seconds':>7} {'loss':>12} {'grad norm':>12}")
    for c, before, after, floor in rows:
        t = before["seq_len"] - 1
        one = a.batch * t * a.vocab * 4 / 2**20
        for r in (before, after, floor):
            loss, gn = (f"{r['loss']:>12.7f}", f"{r['grad_norm']:>12.7f}") if r is not floor else ("-", "-")
            print(f"{c:>10} {r['seq_len']:>5} {r['scored_tokens']:>6} {one:>15.0f} {r['path']:>6} "
                  f"{r['extra_peak_mb']:>13.0f} {r['extra_peak_mb'] - floor['extra_peak_mb']:>10.0f} "
                  f"{r['seconds']:>7.2f} {loss:>12} {gn:>12}")
        same_loss = abs(before["loss"] - after["loss"]) <= 1e-5 * max(1.0, abs(before["loss"]))
        same_grad = abs(before["grad_norm"] - after["grad_norm"]) <= 1e-4 * max(1.0, before["grad_norm"])
        ok &= same_loss and same_grad
        lm_b, lm_a = before["extra_peak_mb"] - floor["extra_peak_mb"], after["extra_peak_mb"] - floor["extra_peak_mb"]
        ratio = before["extra_peak_mb"] / max(after["extra_peak_mb"], 1e-9)
        print(f"{'':>10} ratio before/after: extra peak {ratio:.1f}x, "
              f"lm-head part {lm_b / max(lm_a, 1e-9):.1f}x, "
              f"time {before['seconds'] / after['seconds']:.2f}x")
        print(f"{'':>10} before vs after: |loss diff| "
              f"{abs(before['loss'] - after['loss']):.2e} ({'same' if same_loss else 'DIFFERENT'}), |grad norm diff| "
              f"{abs(before['grad_norm'] - after['grad_norm']):.2e} ({'same' if same_grad else 'DIFFERENT'})")
    if not all(r["peak_reset"] for row in rows for r in row[1:]):
        print("note: /proc/self/clear_refs unavailable: extra peak includes any earlier peak of the child")
    print(f"\nbase-model call checks (after child, row 0): {json.dumps(checks)}")
    if not ok:
        raise SystemExit("the two paths disagree")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--completion-len", type=int, default=256)
    p.add_argument("--vocab", type=int, default=102400)
    p.add_argument("--chunk-tokens", type=int, default=256)
    p.add_argument("--sweep", default="", help="comma-separated completion lengths, e.g. 64,256")
    p.add_argument("--path", choices=sorted(LOSSES), help="(internal) run one path in this process")
    a = p.parse_args()
    child(a) if a.path else parent(a)


if __name__ == "__main__":
    main()
