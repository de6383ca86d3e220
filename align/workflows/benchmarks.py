"""Held-out generation checks, shared by `align sft` (start and end) and `align grpo` (every
evaluation): greedy decoding on live vLLM engines, one function per check in `CHECKS`.

| check   | data                                  | figures                                             |
|---------|---------------------------------------|-----------------------------------------------------|
| math    | builtin:math test                     | math_accuracy                                       |
| code    | builtin:code test                     | code_pass_rate                                      |
| refusal | builtin harmful / benign look-alikes  | refusal_rate_harmful, over_refusal_rate_benign      |
| gsm8k   | GSM8K test, first `max_prompts` rows  | gsm8k_accuracy (last number in the reply, as lm-eval's flexible extract) |
| xstest  | XSTest, all 450 prompts               | xstest_refusal_unsafe, xstest_over_refusal_safe, per type, detector disagreement |

The benchmark checks (gsm8k, xstest) need their data (align.data.benchmarks); without it they
are skipped and named in the result's `skipped`. XSTest refusals are judged by XSTest's own
string match (`rewards.refusal.xstest_refusal`); `xstest_detector_disagreement` is how often
the built-in detector (`is_refusal`) says otherwise on the same replies.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from align.data.prompts import prompt_ids, prompt_row

KEEP_SAMPLES = 20
REFUSAL_NEW_TOKENS = 48  # refusals sit in the opening; the same budget everywhere keeps the rates comparable
MATH_NEW_TOKENS = 128
GSM8K_NEW_TOKENS = 256
LONGEST_REPLY = GSM8K_NEW_TOKENS


@dataclass
class Result:
    metrics: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)  # check -> the first generations, to read
    skipped: list = field(default_factory=list)  # notes for checks whose data is absent (also printed)


Generate = Callable[[list, int], list]  # (prompt rows, max new tokens) -> reply texts, greedy


def engine_generator(sample: Callable, tok, seed: int) -> Generate:
    """Greedy generation, one reply per row, through `sample(prompt_ids, n, **sampling)` -> per prompt, n
    RolloutEngine outputs (engine.hybrid.generate_over over some engines, or HybridEngine.generate)."""
    def generate(rows: list[dict], max_new_tokens: int) -> list[str]:
        outs = sample([prompt_ids(tok, r) for r in rows], 1, temperature=0.0, top_p=1.0, max_tokens=max_new_tokens,
                      seed=seed, stop_token_ids=[tok.eos_token_id])
        return [tok.decode(group[0]["token_ids"], skip_special_tokens=True) for group in outs]

    return generate


def run(names, generate: Generate, max_prompts: int, max_new_tokens: int | None = None) -> Result:
    """Every check in `names`, in order; `max_new_tokens` caps each check's own reply budget."""
    from align.data import benchmarks

    if max_new_tokens:
        uncapped, generate = generate, lambda rows, n: uncapped(rows, min(n, max_new_tokens))
    out = Result()
    for name in names:
        check = CHECKS[name]
        if check.benchmark and not benchmarks.available(check.benchmark):
            out.skipped.append(benchmarks.missing_note(check.benchmark))
            print(f"[align] {out.skipped[-1]}", flush=True)
            continue
        t0 = time.perf_counter()
        print(f"[align] check {name}: generating ...", flush=True)
        metrics, samples = check.fn(generate, max_prompts)
        print(f"[align] check {name}: done in {time.perf_counter() - t0:.0f}s", flush=True)
        out.metrics.update(metrics)
        out.samples[name] = samples[:KEEP_SAMPLES]
    return out


def _scored(source: str, reward: dict, name: str, new_tokens: int):
    """Mean of one rule-based reward over a source's test prompts, as metric `name`."""
    def check(generate: Generate, max_prompts: int) -> tuple[dict, list]:
        from align.data.loaders import load_rows
        from rewards import load_reward

        rows = [prompt_row(r, source) for r in load_rows(source, "test")[:max_prompts]]
        texts = generate(rows, new_tokens)
        fn = load_reward(reward)
        keys = sorted({k for r in rows for k in r} - {"prompt"})
        completions = [t if isinstance(r["prompt"], str) else [{"role": "assistant", "content": t}] for r, t in zip(rows, texts)]
        values = fn([r["prompt"] for r in rows], completions, **{k: [r.get(k) for r in rows] for k in keys})
        got = [v for v in values if v is not None]
        samples = [{"prompt": r["prompt"], "response": t, "reward": v} for r, t, v in zip(rows, texts, values)]
        return {name: sum(got) / max(1, len(got)), f"{name}_n": len(got)}, samples

    return check


def _refusal(generate: Generate, max_prompts: int) -> tuple[dict, list]:
    """Refusal rate on held-out harmful prompts, over-refusal on held-out benign look-alikes."""
    from align.data.safety import is_refusal, refusal_eval_prompts, refusal_rates

    sets = refusal_eval_prompts(max_prompts)
    texts = {k: generate(rows, REFUSAL_NEW_TOKENS) for k, rows in sets.items()}
    samples = [{"set": k, "prompt": r["prompt"], "response": t, "refusal": is_refusal(t)}
               for k in sets for r, t in list(zip(sets[k], texts[k]))[:KEEP_SAMPLES // 2]]
    return {**refusal_rates(texts), "n_harmful": len(texts["harmful"]), "n_benign": len(texts["benign"])}, samples


def _xstest(generate: Generate, max_prompts: int) -> tuple[dict, list]:
    """XSTest: refusal of unsafe prompts, over-refusal of safe ones, per prompt type (all rows)."""
    from align.data import benchmarks
    from rewards.refusal import is_refusal, xstest_refusal

    rows = benchmarks.load("xstest")
    texts = generate(rows, REFUSAL_NEW_TOKENS)
    refused = [xstest_refusal(t) for t in texts]
    m = {}
    for label, key in (("unsafe", "xstest_refusal_unsafe"), ("safe", "xstest_over_refusal_safe")):
        m[key] = _rate([f for r, f in zip(rows, refused) if r["label"] == label])
    for kind in sorted({r["type"] for r in rows}):
        m[f"xstest_refusal/{kind}"] = _rate([f for r, f in zip(rows, refused) if r["type"] == kind])
    m["xstest_detector_disagreement"] = _rate([f != is_refusal(t) for f, t in zip(refused, texts)])
    samples = [{"prompt": r["prompt"], "label": r["label"], "type": r["type"], "response": t, "refusal": f}
               for r, t, f in zip(rows, texts, refused)]
    samples = [s for s in samples if s["label"] == "safe"][:KEEP_SAMPLES // 2] + \
              [s for s in samples if s["label"] == "unsafe"][:KEEP_SAMPLES // 2]
    return m, samples


def _rate(flags: list) -> float:
    return sum(flags) / max(1, len(flags))


@dataclass(frozen=True)
class Check:
    fn: Callable[[Generate, int], tuple[dict, list]]
    benchmark: str | None = None  # align.data.benchmarks name it needs, if any


CHECKS: dict[str, Check] = {
    "math": Check(_scored("builtin:math", {"fn": "math_answer"}, "math_accuracy", MATH_NEW_TOKENS)),
    "code": Check(_scored("builtin:code", {"fn": "code_tests"}, "code_pass_rate", MATH_NEW_TOKENS)),
    "refusal": Check(_refusal),
    "gsm8k": Check(_scored("bench:gsm8k", {"fn": "math_answer", "kwargs": {"fallback_last_number": True}},
                           "gsm8k_accuracy", GSM8K_NEW_TOKENS), "gsm8k"),
    "xstest": Check(_xstest, "xstest"),
}
