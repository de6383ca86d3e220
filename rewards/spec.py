"""`RewardSpec`: how a recipe names one reward function, and `load_reward` to get it guarded.

A recipe entry such as ``{fn: math_answer, weight: 1.0, timeout_s: 10}`` or
``{fn: "my_pkg.mod:my_reward", kwargs: {scale: 2}}`` becomes a frozen ``RewardSpec``;
``load_reward(spec)`` resolves the name or dotted path, binds ``kwargs`` (checked against
the function's signature when it has no ``**kwargs``) and returns a ``GuardedReward``
carrying the weight and the time limit. Combining several rewards is `rewards/combine.py`'s job.

``timeout_s`` left unset takes the function's own ``default_timeout_s`` attribute when it
has one (``code_tests`` sets 900 s: a batch of hundreds of sandbox runs, each bounded by its
own limits, needs longer than a pure-Python reward), else 30 s.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
from collections.abc import Mapping
from types import MappingProxyType

from .guard import GuardedReward
from .registry import RewardLoadError, load

logger = logging.getLogger(__name__)
_KEYS = {"fn", "name_or_path", "weight", "timeout_s", "kwargs", "name"}
DEFAULT_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True)
class RewardSpec:
    name_or_path: str
    weight: float = 1.0
    timeout_s: float | None = None  # None: fn.default_timeout_s, else DEFAULT_TIMEOUT_S
    kwargs: Mapping = dataclasses.field(default_factory=dict)
    name: str | None = None  # for logs and metrics; defaults to the name or the function's name

    def __post_init__(self):
        if not isinstance(self.name_or_path, str) or not self.name_or_path.strip():
            raise RewardLoadError(f"reward spec needs a name or dotted path, got {self.name_or_path!r}")
        if not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight):
            raise RewardLoadError(f"reward {self.name_or_path!r}: weight must be a finite number, got {self.weight!r}")
        if self.timeout_s is not None and (not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0):
            raise RewardLoadError(f"reward {self.name_or_path!r}: timeout_s must be > 0, got {self.timeout_s!r}")
        if not isinstance(self.kwargs, Mapping):
            raise RewardLoadError(f"reward {self.name_or_path!r}: kwargs must be a mapping, got {type(self.kwargs).__name__}")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @classmethod
    def from_dict(cls, data: Mapping | str) -> "RewardSpec":
        """From a recipe entry: a bare string, or a mapping with `fn` (or `name_or_path`)."""
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, Mapping):
            raise RewardLoadError(f"reward entry must be a string or a mapping, got {type(data).__name__}: {data!r}")
        unknown = set(data) - _KEYS
        if unknown:
            raise RewardLoadError(f"reward entry {dict(data)!r} has unknown keys {sorted(unknown)}; allowed: "
                                  f"fn, weight, timeout_s, kwargs, name")
        target = data.get("fn", data.get("name_or_path"))
        if target is None:
            raise RewardLoadError(f"reward entry {dict(data)!r} needs 'fn': a registered name or 'package.module:function'")
        rest = {k: data[k] for k in ("weight", "timeout_s", "kwargs", "name") if k in data}
        return cls(target, **rest)

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return self.name_or_path.rpartition(":")[2] or self.name_or_path


def load_reward(spec: RewardSpec | Mapping | str) -> GuardedReward:
    """Resolve, bind kwargs and guard one reward function."""
    if not isinstance(spec, RewardSpec):
        spec = RewardSpec.from_dict(spec)
    fn = load(spec.name_or_path)
    timeout_s = spec.timeout_s if spec.timeout_s is not None else getattr(fn, "default_timeout_s", DEFAULT_TIMEOUT_S)
    if spec.kwargs:
        _check_kwargs(fn, spec)
        fn = functools.update_wrapper(functools.partial(fn, **spec.kwargs), fn)
    return GuardedReward(fn, name=spec.display_name, weight=spec.weight, timeout_s=timeout_s)


def _check_kwargs(fn, spec: RewardSpec) -> None:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    unknown = [k for k in spec.kwargs if k not in params]
    if unknown and any(p.kind is p.VAR_KEYWORD for p in params.values()):
        logger.warning("reward %r: kwargs %s are not named parameters of %s; they only reach it through "
                       "**kwargs (a typo would be silently ignored)", spec.name_or_path, unknown, inspect.signature(fn))
        return
    if unknown:
        raise RewardLoadError(f"reward {spec.name_or_path!r} does not take argument(s) {unknown}; "
                              f"its signature is {inspect.signature(fn)}.")
