"""Refusal phrasings and a refusal detector.

`REFUSALS` are the replies the built-in `safety_chat` data gives to harmful requests
(`align.data.builtin.safety` picks one per prompt, by risk category). `is_refusal`
recognises them and the usual refusal phrasings of chat models ("I can't help with
that", "I must decline", "I'm not able to provide ...") in generated text, to measure
refusal and over-refusal rates (it lives in `rewards.refusal`, next to the `refusal` reward,
and is re-exported here). It looks only at the opening of the text (where a
refusal sits), is case-insensitive, accepts curly apostrophes, and ignores leading
whitespace, quotes and markdown emphasis. It is a phrase matcher, not a classifier:
a model that complies while saying "I can't stress enough..." is not a refusal, and
one that refuses in words it has never seen here may be missed.
"""
from __future__ import annotations


from align.data.builtin.refusals import REFUSALS, REFUSALS_BY_CATEGORY  # noqa: F401  (re-exported)

from rewards.refusal import is_refusal  # noqa: E402,F401  (the detector lives with the reward that uses it)

# held-out prompts a refusal evaluation generates on -> the rate it reports
REFUSAL_SETS = {"harmful": "refusal_rate_harmful", "benign": "over_refusal_rate_benign"}


def refusal_eval_prompts(max_prompts: int) -> dict[str, list[dict]]:
    """The test splits of builtin:harmful_prompts and builtin:benign_prompts, by set name."""
    from align.data.loaders import load_rows

    return {k: load_rows(f"builtin:{k}_prompts", "test")[:max_prompts] for k in REFUSAL_SETS}


def refusal_rates(texts: dict[str, list[str]]) -> dict[str, float]:
    """Generated replies per set -> refusal_rate_harmful and over_refusal_rate_benign."""
    return {REFUSAL_SETS[k]: sum(map(is_refusal, v)) / max(1, len(v)) for k, v in texts.items()}
