"""GRPO prompt pools: rows from every source with their sampling weights, drawn per (seed, step, draw), and
encoded with the model's chat template."""
from __future__ import annotations

import random

from align.config import ConfigError


def load_prompt_rows(sources) -> list[dict]:
    return load_prompt_pool(sources)[0]


def load_prompt_pool(sources) -> tuple[list[dict], list[float]]:
    """Prompt rows of every source and each row's sampling weight: a source's rows share its
    `weight`, so sources are drawn at the ratios of their weights, whatever their sizes."""
    from align.data.loaders import load_rows

    rows, weights = [], []
    for src in sources:
        got = [prompt_row(r, f"{src.source} row {i}") for i, r in enumerate(load_rows(src.source, src.split, src.max_rows))]
        if not got:
            raise ConfigError(f"prompt source `{src.source}` (split {src.split}) has no rows.")
        rows += got
        weights += [src.weight / len(got)] * len(got)
    return _one_shape(rows), weights


def _one_shape(rows: list[dict]) -> list[dict]:
    # one schema for every row: a batch that happens to hold only math rows still passes
    # `tests=[None, ...]` to the code reward (None: "not mine to judge"), not no column at all;
    # and one prompt shape: where any prompt is a conversation, plain prompts become user turns,
    # so every reward sees one completion shape per stage (TRL's datasets are all one or the other)
    if any(isinstance(r["prompt"], list) for r in rows):
        rows = [r | {"prompt": [{"role": "user", "content": r["prompt"]}]} if isinstance(r["prompt"], str) else r
                for r in rows]
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in sorted(keys)} for r in rows]


def prompt_row(row, where: str) -> dict:
    """A `prompt` row as is; a `messages` conversation becomes its turns before the last
    assistant reply (TRL's implicit prompt), the reply itself is dropped."""
    if isinstance(row, dict) and "prompt" not in row and isinstance(row.get("messages"), list):
        turns = row["messages"]
        cut = len(turns) - 1 if turns and isinstance(turns[-1], dict) and turns[-1].get("role") == "assistant" else len(turns)
        row = {k: v for k, v in row.items() if k != "messages"} | {"prompt": turns[:cut]}
        if not cut:
            raise ConfigError(f"{where}: the conversation has no turn before the assistant's reply to use as a prompt.")
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), (str, list)):
        raise ConfigError(f"{where}: a GRPO prompt row needs a `prompt` field (string or conversation) "
                          "or a `messages` conversation.")
    return row


def prompt_ids(tok, row: dict) -> list[int]:
    from align.data.chat import encode_prompt

    p = row["prompt"]
    messages = [{"role": "user", "content": p}] if isinstance(p, str) else p
    return encode_prompt(tok, messages)


def pick_prompts(rows: list[dict], weights: list[float] | None = None, *, n: int, seed: int, step: int,
                 draw: int = 0) -> list[dict]:
    """`n` rows drawn without replacement (while there are enough) with probability
    proportional to `weights` (Efraimidis-Spirakis keys u^(1/w)); deterministic per
    (seed, step, draw), so a resumed run draws the same prompts (`draw` > 0: dynamic sampling's extra draws)."""
    rng = random.Random(f"{seed}:{step}" if draw == 0 else f"{seed}:{step}:{draw}")
    if n > len(rows):
        return rng.choices(rows, weights, k=n)
    weights = weights or [1.0] * len(rows)
    keys = [rng.random() ** (1.0 / w) if w > 0 else -1.0 for w in weights]
    return [rows[i] for i in sorted(range(len(rows)), key=lambda i: -keys[i])[:n]]
