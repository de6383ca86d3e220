"""`pretrain_corpus`: plain-text documents for the tokenizer and the base model's short pretraining.

Built only from train-side material, never from any dataset's test split:
- `helpful_chat` and `safety_chat` train conversations rendered as "User: ... / Assistant: ...";
- chatterbot-corpus train dialogues again as "Q: ... / A: ..." (real text);
- procedural facts (train groups) as question/answer paragraphs;
- worked arithmetic from the math pool's extra slice (not in `math` train or test);
- the `code` train tasks used by `helpful_chat` train: prompt as a comment, reference solution,
  its asserts;
- multiplication tables 2-12.
Documents are shuffled with a fixed seed; 2% are held out as the `test` split.
"""
from __future__ import annotations

from ._common import render_chat, rng
from .chat import build_helpful_chat, chat_code_tasks, chatterbot_splits, fact_splits
from .math_tasks import math_problems
from .safety import build_safety_chat

TEST_FRACTION = 0.02


def _documents() -> list[str]:
    docs = [render_chat(r["messages"]) for r in build_helpful_chat()["train"]]
    docs += [render_chat(r["messages"]) for r in build_safety_chat()["train"]]
    for r in chatterbot_splits()["train"]:
        docs.append("\n".join(("Q: " if m["role"] == "user" else "A: ") + m["content"] for m in r["messages"]))
    facts = fact_splits()["train"]
    for i in range(0, len(facts), 6):
        docs.append("\n".join(f"{q} {a}" for _, q, a in facts[i:i + 6]))
    docs += [f"Problem: {p.prompt}\nSolution:\n{p.solution}" for p in math_problems("extra")]
    docs += [f"# {t.prompt}\n{t.solution}\n{t.tests}" for t in chat_code_tasks()["train"]]
    docs += [f"Multiplication table of {k}:\n" + "\n".join(f"{k} * {i} = {k * i}" for i in range(1, 13))
             for k in range(2, 13)]
    return docs


def build_pretrain_corpus() -> dict[str, list[dict]]:
    docs = _documents()
    rng("corpus-order").shuffle(docs)
    n_test = max(1, int(len(docs) * TEST_FRACTION))
    return {"train": [{"text": d} for d in docs[n_test:]], "test": [{"text": d} for d in docs[:n_test]]}
