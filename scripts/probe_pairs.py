"""Does the policy already know which answer of a pair is better? Its own likelihood on held-out RM pairs.

    .venv/bin/python scripts/probe_pairs.py RM_RECIPE MODEL_FOLDER [key=value ...]

For every pair in the `data.eval` sources of an `align rm` recipe, the causal LM (the SFT model a reward model
starts from) scores the chosen and the rejected sequence, as the reward model sees them, on the tokens after
their common prefix (the prompt and any opening the two answers share). A pair counts as known when the chosen
tail is likelier, summed over its tokens (the log-likelihood ratio, DPO's implicit reward with beta = 1) and
per token. Next to a trained reward model's accuracy on the same pairs this separates a miss in what the model
knows (both low) from a miss in the reward model's training (the LM high, the reward model low).
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def tail_logprob(model, ids: tuple[int, ...], start: int) -> tuple[float, float]:
    """(sum, mean) log-prob of ids[start:] given what precedes them, by the trainer's own log-prob code."""
    import torch

    from engine.objectives import sequence_logprobs

    x = torch.tensor([ids])
    mask = torch.zeros_like(x)
    mask[0, start:] = 1
    with torch.no_grad():
        logp = sequence_logprobs(model, {"input_ids": x, "attention_mask": torch.ones_like(x), "loss_mask": mask})
    tail = logp[0, start - 1:]
    return tail.sum().item(), tail.mean().item()


def common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Length of the shared opening: at most all but the shorter one's last token, at least 1 (token 0 has no prefix)."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe")
    ap.add_argument("model")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from align.config import load_recipe
    from align.data import benchmarks
    from align.data.prefs import load_pairs
    from align.workflows import common
    from align.workflows.rm import source_name

    cfg = load_recipe(a.recipe, a.overrides, command="rm")
    torch.set_num_threads(max(1, cfg.trainer.threads_per_worker))
    tok = common.load_tokenizer(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    known = collections.defaultdict(lambda: [0, 0, 0])  # kind -> [by sum, by mean, n]
    for src in cfg.data.eval:
        name = source_name(src.source)
        if src.source.startswith(benchmarks.PREFIX) and not benchmarks.available(name):
            print(f"[probe] {benchmarks.missing_note(name)}")
            continue
        pairs, _ = load_pairs(tok, src, cfg.data.max_length)
        bar = common.progress(len(pairs), 0, name, unit="pair")
        for p in pairs:
            n = common_prefix(p.chosen, p.rejected)
            (cs, cm), (rs, rm) = tail_logprob(model, p.chosen, n), tail_logprob(model, p.rejected, n)
            for key in [name] + ([f"{name}/{p.source.split('/')[0]}"] if p.source else []):
                k = known[key]
                k[0], k[1], k[2] = k[0] + (cs > rs), k[1] + (cm > rm), k[2] + 1
            bar.update(1)
        bar.close()
    print(f"{'pairs':36s} {'n':>5s} {'sum':>6s} {'mean':>6s}   (chosen likelier under the LM)")
    for key, (s, m, n) in sorted(known.items()):
        print(f"{key:36s} {n:5d} {s / n:6.3f} {m / n:6.3f}")


if __name__ == "__main__":
    main()
