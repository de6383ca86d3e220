"""What a policy can do before GRPO: in-context copying and math pass@k per problem source.

    .venv/bin/python scripts/probe_model.py runs/v2_chat/final [--samples 8] [--temperature 0.7] [--max-tokens 96]

GRPO only sharpens what sampling already finds: a prompt whose G samples are all wrong
gives no signal. This prints, on `builtin:math` test, greedy accuracy, mean accuracy and
pass@G of G samples, the fraction of groups with any variance, and the sharpening headroom
(`half`: problems at least half the samples solve; `gain` / `loss`: greedy wrong there / greedy
right where fewer than half do, so greedy + gain - loss is what perfect sharpening reaches), per
source; and the
model's per-token loss on the first and the repeated half of random word sequences
("Say it again: ..."). A model that copies from its context has a much lower loss on the
repeat; without it a solution cannot restate its problem's numbers.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
WORDS = "apple river seven table green Tom Mia 42 17 88 boxes cards sky house moon 5 9 31".split()


def copy_nll(path: str, n: int = 30) -> tuple[float, float]:
    """Mean per-token loss on the first and on the repeated occurrence of random sequences."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.objectives import sequence_logprobs

    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
    r, first, repeat = random.Random(1), 0.0, 0.0
    for _ in range(n):
        seq = " ".join(r.choice(WORDS) for _ in range(8))
        a = [tok.bos_token_id] + tok.encode("Say it again: " + seq, add_special_tokens=False)
        b = tok.encode("\n" + seq, add_special_tokens=False)
        ids = torch.tensor([a + b])
        with torch.no_grad():
            nll = -sequence_logprobs(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})[0]
        first += nll[5 : len(a) - 1].mean().item()  # the sequence's tokens after its first (nll[t] scores t+1)
        repeat += nll[len(a) + 1 :].mean().item()  # the repeat, after its first token
    return first / n, repeat / n


def math_table(path: str, samples: int, temperature: float, max_tokens: int = 96) -> list[str]:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from transformers import AutoTokenizer

    from align.data.builtin.math_tasks import math_problems
    from align.data.chat import encode_prompt
    from engine.rollout import RolloutEngine
    from rewards.math_answer import math_answer

    tok, engine = AutoTokenizer.from_pretrained(path), RolloutEngine(path)
    probs = math_problems("test")
    ids = [encode_prompt(tok, [{"role": "user", "content": p.prompt}]) for p in probs]

    def scores(n: int, t: float) -> dict[str, list[list[float]]]:
        outs = engine.generate(ids, n=n, temperature=t, max_tokens=max_tokens, seed=0, stop_token_ids=[tok.eos_token_id])
        by = collections.defaultdict(list)
        for p, o in zip(probs, outs):
            texts = [tok.decode(c["token_ids"], skip_special_tokens=True) for c in o]
            got = [v or 0.0 for v in math_answer([p.prompt] * n, texts, answer=[p.answer] * n)]
            by[p.source].append(got)
            by["all"].append(got)
        return by

    greedy, sampled = scores(1, 0.0), scores(samples, temperature)
    lines = [f"{'source':32s} {'n':>4s} " + " ".join(f"{c:>7s}" for c in ("greedy", "mean", f"pass@{samples}",
                                                                          "varied", "half", "gain", "loss"))]
    for k in sorted(sampled):
        lines.append(f"{k:32s} {len(sampled[k]):4d} " + " ".join(f"{v:7.3f}" for v in headroom(greedy[k], sampled[k])))
    return lines


def headroom(greedy: list[list[float]], sampled: list[list[float]]) -> tuple[float, ...]:
    """Per problem rewards (greedy: [n][1], sampled: [n][G]) -> (greedy, mean, pass@G, varied, half, gain, loss).

    half: problems that at least half the samples solve (what greedy solves after perfect sharpening);
    gain / loss: greedy wrong where half the samples are right / greedy right where fewer than half are.
    """
    n, half = len(sampled), [sum(x) >= len(x) / 2 for x in sampled]
    return (sum(x[0] for x in greedy) / n, sum(sum(x) / len(x) for x in sampled) / n, sum(max(x) for x in sampled) / n,
            sum(0 < sum(x) < len(x) for x in sampled) / n, sum(half) / n,
            sum(h and not x[0] for h, x in zip(half, greedy)) / n, sum(bool(x[0]) and not h for h, x in zip(half, greedy)) / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-tokens", type=int, default=96)
    a = ap.parse_args()
    first, repeat = copy_nll(a.model)
    print(f"copying: loss {first:.2f} on a random sequence, {repeat:.2f} on its repeat")
    print(f"builtin:math test, greedy and {a.samples} samples at T={a.temperature}:")
    print("\n".join(math_table(a.model, a.samples, a.temperature, a.max_tokens)))


if __name__ == "__main__":
    main()
