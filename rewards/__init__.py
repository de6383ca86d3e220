"""rewards: the reward-function contract, registry, guard, and the verifiable rewards.

A reward function is TRL's: ``f(prompts, completions, **columns) -> list[float | None]``
(``None`` = no opinion; completions are strings or conversations; dataset columns arrive
as keyword lists). The engine loads recipe entries with ``load_reward(RewardSpec(...))``,
which returns a ``GuardedReward``: failures (raise, hang, NaN, wrong length) become
``None`` and are counted, never raised.

Built-ins: ``math_answer`` (column ``answer``) and ``code_tests`` (columns ``tests``,
``entry_point``, ``code_prefix``; runs code in ``rewards.sandbox``) and ``refusal`` (column
``kind``: refuse harmful requests, help with benign ones). They are imported on
first use. This package imports only the standard library (and sympy inside a worker
process); never ``align``, ``engine``, vllm, ray or deepspeed.
"""
from .guard import GuardedReward, GuardStats
from .registry import RewardLoadError, get, load, names, register, unregister
from .spec import RewardSpec, load_reward

__all__ = [
    "GuardStats", "GuardedReward", "RewardLoadError", "RewardSpec",
    "get", "load", "load_reward", "names", "register", "unregister",
]
