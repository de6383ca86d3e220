"""`helpful_chat`: short helpful conversations, ~2,650 train / ~250 test.

Mixture (see DATASET_CARD.md):
- real: chatterbot-corpus English dialogues (human-written, BSD-3-Clause), multi-turn where
  the YAML has it; dialogues with a turn over 60 words or more than 150 words in all are
  dropped; split so that dialogues sharing a user line stay on one side;
- synthetic: procedural facts / definitions / how-tos / conversions / list tasks (`facts.py`),
  single-turn plus some two-turn combinations, split by fact;
- synthetic: math problems from the `math` train split, solved step by step, ending in
  "#### N" (the test conversations use other train problems, never `math` test ones);
- synthetic: coding tasks from the `code` train split, answered with a fenced python block
  (in train, each task twice: as in `code`, and asked in other words).
"""
from __future__ import annotations

from functools import lru_cache

from ._common import chat, chatterbot_conversations, rng, split_groups
from .code_tasks import code_answer, code_splits
from .facts import fact_items
from .math_tasks import math_problems

N_TEST_CHATTERBOT, N_TEST_FACTS, N_MATH, N_TEST_MATH, N_TEST_CODE, N_MULTI = 90, 60, 600, 50, 40, (100, 10)


def _words(text: str) -> int:
    return len(text.split())


@lru_cache(maxsize=1)
def chatterbot_splits() -> dict[str, list[dict]]:
    rows = [{"messages": chat(*turns), "source": f"chatterbot/{cat}"} for cat, turns in chatterbot_conversations()
            if max(map(_words, turns)) <= 60 and sum(map(_words, turns)) <= 150]
    train, test = split_groups(rows, _linked_groups(rows), N_TEST_CHATTERBOT, "chatterbot-split")
    return {"train": train, "test": test}


def _linked_groups(rows: list[dict]):
    """Group key: dialogues sharing any user line (case/punctuation-folded) share a group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def norm(text: str) -> str:
        return text.lower().strip(" ?!.")

    for r in rows:
        lines = [norm(m["content"]) for m in r["messages"] if m["role"] == "user"]
        for line in lines[1:]:
            a, b = find(lines[0]), find(line)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return lambda r: find(norm(r["messages"][0]["content"]))


@lru_cache(maxsize=1)
def fact_splits() -> dict[str, list[tuple[str, str, str]]]:
    taken = {m["content"].lower() for rows in chatterbot_splits().values() for r in rows for m in r["messages"]}
    items = [x for x in fact_items() if x[1].lower() not in taken]  # a few questions are in chatterbot too
    train, test = split_groups(items, lambda x: x[0], N_TEST_FACTS, "facts-split")
    return {"train": train, "test": test}


def _fact_rows(items: list[tuple[str, str, str]], n_multi: int, tag: str) -> list[dict]:
    rows = [{"messages": chat(q, a), "source": "procedural/facts"} for _, q, a in items]
    r = rng(tag)
    for _ in range(n_multi):
        (_, q1, a1), (_, q2, a2) = r.sample(items, 2)
        rows.append({"messages": chat(q1, a1, q2, a2), "source": "procedural/facts_multiturn"})
    return rows


@lru_cache(maxsize=1)
def chat_math_problems() -> dict[str, tuple]:
    """Disjoint slices of the `math` train split for helpful_chat train and test."""
    train = math_problems("train")
    return {"train": train[:N_MATH], "test": train[N_MATH:N_MATH + N_TEST_MATH]}


@lru_cache(maxsize=1)
def chat_code_tasks() -> dict[str, tuple]:
    """Disjoint slices of the `code` train split for helpful_chat train and test."""
    tasks = list(code_splits()["train"])
    rng("chat-code").shuffle(tasks)
    return {"train": tuple(tasks[N_TEST_CODE:]), "test": tuple(tasks[:N_TEST_CODE])}


_REPHRASE = ("Can you write {}?", "Implement {}.", "I need {}. Can you write it?", "Please write {}.",
             "Show me {}.")


def rephrase_code_prompt(prompt: str, r) -> str:
    """Ask "Write a Python function f(x) that ..." another way."""
    body = prompt.removeprefix("Write ").rstrip(".")
    return r.choice(_REPHRASE).format(body)


@lru_cache(maxsize=1)
def build_helpful_chat() -> dict[str, list[dict]]:
    out = {}
    for i, split in enumerate(("train", "test")):
        rows = list(chatterbot_splits()[split])
        rows += _fact_rows(fact_splits()[split], N_MULTI[i], f"facts-multi-{split}")
        rows += [{"messages": chat(p.prompt, p.solution), "source": f"math/{p.source}"}
                 for p in chat_math_problems()[split]]
        rows += [{"messages": chat(t.prompt, code_answer(t)), "source": "code/procedural"}
                 for t in chat_code_tasks()[split]]
        if split == "train":  # each train task once more, asked differently
            r = rng("code-rephrase")
            rows += [{"messages": chat(rephrase_code_prompt(t.prompt, r), code_answer(t)), "source": "code/procedural"}
                     for t in chat_code_tasks()[split]]
        rng(f"helpful-chat-order-{split}").shuffle(rows)
        out[split] = rows
    return out
