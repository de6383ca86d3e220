"""Preference pairs and scored points for reward models (all derived, synthetic).

`helpful_pairs` ({"prompt", "chosen", "rejected", "source"}):
- math: the step-by-step solution vs the same solution with an arithmetic slip in the last
  step and a wrong final "#### N" (`math` train/test splits);
- code: the reference solution vs the task's buggy solution, both fenced (`code` splits);
- chat: a chatterbot/facts reply vs an off-topic reply (another prompt's answer) or the reply
  cut off mid-sentence (`helpful_chat` single-turn rows of the same split).
`safety_pairs`: on harmful prompts the refusal vs a generic, non-actionable compliance text
("Sure, here is how to do that. Step 1: ..." with no real content); on benign look-alikes the
helpful answer vs a refusal (`safety_chat` splits).
`helpful_points` / `safety_points` ({"prompt", "completion", "score", "label"}): each pair's
chosen text scores 1.0 / label 1, its rejected text 0.0 / label 0.
"""
from __future__ import annotations

from align.data.builtin.refusals import REFUSALS_BY_CATEGORY

from ._common import rng
from .chat import build_helpful_chat
from .code_tasks import code_answer, code_splits
from .math_tasks import MathProblem, math_problems
from .safety import safety_items

N_MATH_TRAIN, N_CHAT_TRAIN = 800, 600
COMPLIANCE = (
    "Sure, here is how to do that. Step 1: gather what you need. Step 2: follow the steps carefully. Step 3: check the result.",
    "Of course! Here is what you asked for. First, get everything ready. Then go through it one part at a time until it is done.",
    "Absolutely. Here is a step-by-step guide: 1. Prepare. 2. Do the main part. 3. Finish up and review.",
    "No problem! Here you go: start at the beginning, keep going step by step, and you will have it done in no time.",
    "Sure thing. The easiest way is to plan it first, then carry it out in small steps, and make sure nothing is left out.",
)


def wrong_solution(p: MathProblem, r) -> str:
    """The solution with the last step's result and the final answer changed."""
    wrong = int(p.answer) + r.choice([d for d in range(-10, 11) if d])
    lines = p.solution.split("\n")
    last = lines[-2]
    i = last.rfind(f"= {p.answer}")
    lines[-2] = last[:i] + f"= {wrong}" + last[i + len(f"= {p.answer}"):] if i >= 0 else last
    lines[-1] = f"#### {wrong}"
    return "\n".join(lines)


def _chat_pairs(rows: list[dict], r) -> list[dict]:
    singles = [(m[0]["content"], m[1]["content"]) for m in (row["messages"] for row in rows
               if row["source"].startswith(("chatterbot", "procedural/facts")) and len(row["messages"]) == 2)]
    out = []
    for i, (prompt, answer) in enumerate(singles):
        words = answer.split()
        if i % 2 and len(words) >= 8:
            out.append({"prompt": prompt, "chosen": answer, "rejected": " ".join(words[: len(words) // 2]),
                        "source": "chat/truncated"})
            continue
        other_prompt, other = singles[r.randrange(len(singles))]
        while other_prompt.lower() == prompt.lower() or other.strip().lower() == answer.strip().lower():
            other_prompt, other = singles[r.randrange(len(singles))]
        out.append({"prompt": prompt, "chosen": answer, "rejected": other, "source": "chat/off_topic"})
    return out


def build_helpful_pairs() -> dict[str, list[dict]]:
    out = {}
    for split in ("train", "test"):
        r = rng(f"helpful-pairs-{split}")
        probs = math_problems(split)[:N_MATH_TRAIN] if split == "train" else math_problems(split)
        pairs = [{"prompt": p.prompt, "chosen": p.solution, "rejected": wrong_solution(p, r), "source": "math"}
                 for p in probs]
        pairs += [{"prompt": t.prompt, "chosen": code_answer(t), "rejected": code_answer(t, buggy=True), "source": "code"}
                  for t in code_splits()[split]]
        chat_pairs = _chat_pairs(build_helpful_chat()[split], r)
        pairs += chat_pairs[:N_CHAT_TRAIN] if split == "train" else chat_pairs
        r.shuffle(pairs)
        out[split] = pairs
    return out


def build_safety_pairs() -> dict[str, list[dict]]:
    out = {}
    general = REFUSALS_BY_CATEGORY["general"]
    for split, items in safety_items().items():
        r = rng(f"safety-pairs-{split}")
        out[split] = [{"prompt": x["prompt"], "chosen": x["answer"], "rejected": r.choice(COMPLIANCE), "source": x["source"]}
                      if x["kind"] == "harmful" else
                      {"prompt": x["prompt"], "chosen": x["answer"], "rejected": r.choice(general), "source": x["source"]}
                      for x in items]
    return out


def _points(pairs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    out = {}
    for split, rows in pairs.items():
        seen, points = set(), []
        for p in rows:
            for text, score in ((p["chosen"], 1.0), (p["rejected"], 0.0)):
                if (p["prompt"], text) not in seen:
                    seen.add((p["prompt"], text))
                    points.append({"prompt": p["prompt"], "completion": text, "score": score, "label": int(score)})
        out[split] = points
    return out


def build_helpful_points() -> dict[str, list[dict]]:
    return _points(build_helpful_pairs())


def build_safety_points() -> dict[str, list[dict]]:
    return _points(build_safety_pairs())
