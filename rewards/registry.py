"""Reward-function registry: names for built-in and user functions, and dotted-path loading.

A reward function is any callable ``f(prompts, completions, **columns) -> list[float | None]``,
TRL's contract, so TRL's own functions (``trl.rewards``) load unchanged by dotted path,
for example ``trl.rewards:think_format_reward``.

- ``@register("name")`` registers a function; registering a *different* function under a
  taken name raises (re-registering the same object, or the same module-level function
  after a module reload, is allowed).
- ``get("name")`` returns it; the built-ins (``math_answer``, ``code_tests``) are imported
  on first use, so ``import rewards`` stays cheap.
- ``load("name" | "pkg.module:attr")`` does either; every failure is a ``RewardLoadError``
  (a ``ValueError``) whose message names the path, what is wrong and how to fix it.
"""
from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable

_REGISTRY: dict[str, Callable] = {}
_LOCK = threading.RLock()
_BUILTIN_MODULES = {"math_answer": "rewards.math_answer", "code_tests": "rewards.code_tests",
                    "refusal": "rewards.refusal"}


class RewardLoadError(ValueError):
    """A reward function could not be registered or loaded; the message says why and what to do."""


def _same_function(a: Callable, b: Callable) -> bool:
    if a is b:
        return True
    key = lambda f: (getattr(f, "__module__", None), getattr(f, "__qualname__", None))  # noqa: E731
    return key(a) == key(b) and key(a)[1] is not None and "<locals>" not in key(a)[1]


def register(name: str, fn: Callable | None = None):
    """Register `fn` under `name`; usable as ``@register("name")`` or ``register("name", fn)``."""
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise RewardLoadError(f"reward name {name!r} is invalid: use a non-empty name without ':' or spaces around it.")

    def decorate(func: Callable) -> Callable:
        if not callable(func):
            raise RewardLoadError(f"cannot register reward {name!r}: {func!r} is not callable.")
        check_signature(func, name)
        with _LOCK:
            old = _REGISTRY.get(name)
            if old is not None and not _same_function(old, func):
                raise RewardLoadError(
                    f"reward name {name!r} is already registered to {_describe(old)}; refusing to register "
                    f"{_describe(func)} under the same name. Pick another name, or unregister the old one first.")
            _REGISTRY[name] = func
        return func

    return decorate if fn is None else decorate(fn)


def unregister(name: str) -> None:
    with _LOCK:
        _REGISTRY.pop(name, None)


def names() -> list[str]:
    with _LOCK:
        return sorted(set(_REGISTRY) | set(_BUILTIN_MODULES))


def get(name: str) -> Callable:
    """The function registered under `name` (built-ins are imported on demand)."""
    with _LOCK:
        if name not in _REGISTRY and name in _BUILTIN_MODULES:
            importlib.import_module(_BUILTIN_MODULES[name])
        fn = _REGISTRY.get(name)
    if fn is not None:
        return fn
    hint = ""
    if "." in name:
        module, _, attr = name.rpartition(".")
        hint = f" If {name!r} is a function in a module, write it as a dotted path with a colon: '{module}:{attr}'."
    raise RewardLoadError(
        f"unknown reward {name!r}: it is not a registered name (registered: {', '.join(names())}). "
        f"Register it with @rewards.register({name!r}) or give a dotted path 'package.module:function'.{hint}")


def load(name_or_path: str) -> Callable:
    """A registered name, or a dotted path ``package.module:function`` (attributes may nest: ``mod:Cls.fn``)."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise RewardLoadError(f"reward {name_or_path!r} is not a name or a dotted path like 'package.module:function'.")
    if ":" not in name_or_path:
        return get(name_or_path.strip())
    return load_path(name_or_path.strip())


def load_path(path: str) -> Callable:
    module_name, attr_path = _split_path(path)
    module = _import_module(path, module_name)
    obj = module
    for i, part in enumerate(attr_path.split(".")):
        if not hasattr(obj, part):
            where = module_name + (":" + ".".join(attr_path.split(".")[:i]) if i else "")
            candidates = ", ".join(n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None)))[:400]
            raise RewardLoadError(
                f"cannot load reward {path!r}: {where!r} has no attribute {part!r}. Check the spelling; "
                f"callables it does have: {candidates or 'none'}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise RewardLoadError(
            f"cannot load reward {path!r}: it is a {type(obj).__name__}, not callable. Point the path at a function "
            f"f(prompts, completions, **columns) -> list[float | None], or at a callable object.")
    check_signature(obj, path)
    return obj


def _split_path(path: str) -> tuple[str, str]:
    module_name, sep, attr_path = path.partition(":")
    parts_ok = all(p.isidentifier() for p in module_name.split(".")) and all(p.isidentifier() for p in attr_path.split("."))
    if not sep or ":" in attr_path or not parts_ok:
        raise RewardLoadError(
            f"cannot load reward {path!r}: malformed dotted path. Write 'package.module:function' (one colon; "
            f"dot-separated Python identifiers on each side), e.g. 'my_pkg.rewards:length_penalty'.")
    return module_name, attr_path


def _import_module(path: str, module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            hint = " Write a module name, not a file name: drop the '.py'." if module_name.endswith(".py") else ""
            raise RewardLoadError(
                f"cannot load reward {path!r}: module {module_name!r} not found (no module named {missing!r}). "
                f"Install the package that provides it, or make it importable (PYTHONPATH, or run from its "
                f"directory).{hint}") from exc
        raise RewardLoadError(
            f"cannot load reward {path!r}: module {module_name!r} exists but importing it failed because it needs "
            f"{missing!r}, which is not installed. Install it or remove that import.") from exc
    except Exception as exc:
        raise RewardLoadError(
            f"cannot load reward {path!r}: importing module {module_name!r} raised {type(exc).__name__}: {exc}. "
            f"Fix the error in that module.") from exc


def check_signature(fn: Callable, where: str) -> None:
    """Refuse callables that cannot take the keyword ``completions`` (TRL passes everything by keyword)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return  # builtins without a signature: trust them
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    if any(p.name == "completions" and p.kind is not p.POSITIONAL_ONLY for p in params):
        return
    raise RewardLoadError(
        f"reward {where!r} is not a reward function: its signature {inspect.signature(fn)} cannot take the keyword "
        f"argument 'completions'. Use f(prompts, completions, **columns) -> list[float | None].")


def _describe(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
