"""Held-out evaluation of a GRPO stage, with the live rollout engines (greedy decoding).

`evaluate` scores the stage's own eval prompts with the stage's rewards (math accuracy,
code pass rate, reward-model score) and runs the stage's `watch` checks, the signs of
reward hacking that are cheap to measure: stage-1 math accuracy or code pass rate during
stage 2, refusal rate on harmful prompts and over-refusal on benign look-alikes, GSM8K and
XSTest where their data is present, and the response length. The checks are
`align.workflows.benchmarks.CHECKS`, shared with `align sft`.
"""
from __future__ import annotations

import json
from pathlib import Path

from align.data.prompts import prompt_ids
from align.data.rollouts import to_samples
from align.workflows import benchmarks
from align.workflows.grpo_rewards import score

KEEP_SAMPLES = 40
EVAL_NAMES = {"math_answer": "math_accuracy", "code_tests": "code_pass_rate"}


def evaluate(hybrid, tok, rows: list[dict], rewards, sc, seed: int, samples_path: Path | None = None) -> dict:
    """Mean reward per function on `rows` (named by EVAL_NAMES), `rm_score` (the weighted
    sum of the reward models' scores), response length, then every `sc.watch` check. With
    `samples_path`, the first generations and their rewards are saved there to read."""
    result = _reward_means(hybrid, tok, rows, rewards, seed, samples_path) if rows else {}
    if sc.watch:
        sample = lambda ids, n, **kw: hybrid.generate(ids, n, **kw)[0]  # noqa: E731
        result.update(benchmarks.run(sc.watch, benchmarks.engine_generator(sample, tok, seed), sc.eval_max_prompts).metrics)
    return result


def _reward_means(hybrid, tok, rows, rewards, seed: int, samples_path: Path | None) -> dict:
    ids = [prompt_ids(tok, r) for r in rows]
    outs, _ = hybrid.generate(ids, 1, temperature=0.0, top_p=1.0, max_tokens=benchmarks.MATH_NEW_TOKENS, seed=seed,
                              stop_token_ids=[tok.eos_token_id])
    samples = to_samples(tok, rows, ids, outs)
    hybrid.reward_models()
    values, _ = score(samples, rewards.fns, 1.0)
    if samples_path is not None:
        keep = [{"prompt": s.row["prompt"], "response": s.text, **{f.name: v[i] for f, v in zip(rewards.fns, values)}}
                for i, s in enumerate(samples[:KEEP_SAMPLES])]
        samples_path.write_text(json.dumps(keep, indent=1))
    result, rm_total = {}, 0.0
    for fn, vals in zip(rewards.fns, values):
        got = [v for v in vals if v is not None]
        if not got:
            continue
        mean = sum(got) / len(got)
        if fn.name in rewards.model_names:
            result[f"rm_score/{fn.name}"] = mean
            rm_total += fn.weight * mean
        else:
            result[EVAL_NAMES.get(fn.name, f"{fn.name}_mean")] = mean
    if rewards.model_names:
        result["rm_score"] = rm_total
    result["response_len"] = sum(len(s.completion_ids) for s in samples) / len(samples)
    return result
