"""A user's own rule-based rewards, loaded by dotted path in the GRPO CLI tests."""


def prefers_short(prompts, completions, **columns):
    """1.0 for an empty completion, falling linearly to 0 at 80 characters."""
    return [max(0.0, 1.0 - len(c) / 80.0) for c in completions]


def always_raises(prompts, completions, **columns):
    raise RuntimeError("this reward function is broken on purpose")


def short_reply(prompts, completions, **columns):
    """prefers_short for either completion shape (a string, or TRL's [{"role": "assistant", ...}])."""
    texts = [c if isinstance(c, str) else "".join(m["content"] for m in c) for c in completions]
    return [max(0.0, 1.0 - len(t) / 80.0) for t in texts]


def short_on_even_prompts(prompts, completions, **columns):
    """prefers_short on prompts of even length, a constant 0.5 on the others: their groups carry no
    signal, which dynamic sampling must drop."""
    return [max(0.0, 1.0 - len(c) / 80.0) if len(p) % 2 == 0 else 0.5 for p, c in zip(prompts, completions)]
