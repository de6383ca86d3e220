"""The safe wrapper around a reward function: a failure costs its samples, never the run.

``GuardedReward(fn, name, weight, timeout_s)`` is itself a reward function (same contract,
same keyword call as TRL's trainer makes). Whatever ``fn`` does, the caller gets a list of
``len(completions)`` values, each a finite float or ``None``:

- raises                          -> every sample None, ``raised`` += 1, logged with traceback
- runs past ``timeout_s``         -> every sample None, ``timeouts`` += 1
- returns a non-list / wrong length -> every sample None, ``bad_type`` / ``wrong_length`` += 1
- NaN/inf or non-numeric values   -> that sample None, ``nonfinite`` / ``bad_value`` += 1 each
- ``None`` from the function       -> kept ("no opinion"), counted in ``no_opinion``

Async callables (``async def`` or returning an awaitable) are run to completion on an
event loop of their own, so the guard can be called from sync code or (``acall``) from
async code. The guard does not decide when failures are too many: the engine reads
``stats()`` and decides.

Departure from TRL: TRL lets a raising reward function crash the step and turns ``None``
into NaN; here failures become ``None`` and are counted. Limit: Python cannot kill a
thread, so a sync function that hangs keeps its (daemon) thread until it returns; the
count of such threads is ``abandoned_threads``. The built-in rewards do their risky work
in child processes that are killed, so they never leave one behind.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import logging
import math
import numbers
import threading
import time
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class GuardStats:
    calls: int = 0
    samples: int = 0
    scored: int = 0  # samples that got a finite float
    no_opinion: int = 0  # samples the function itself answered None
    failed_samples: int = 0  # samples the guard set to None
    raised: int = 0  # calls
    timeouts: int = 0  # calls
    wrong_length: int = 0  # calls
    bad_type: int = 0  # calls: the result was not a sequence
    nonfinite: int = 0  # samples: NaN or inf
    bad_value: int = 0  # samples: not a number
    abandoned_threads: int = 0  # hung calls whose thread is still running
    seconds: float = 0.0

    @property
    def failed_calls(self) -> int:
        return self.raised + self.timeouts + self.wrong_length + self.bad_type


class _Timeout(Exception):
    pass


class GuardedReward:
    """A reward function that never raises, never hangs past `timeout_s`, and counts what went wrong."""

    def __init__(self, fn: Callable, name: str | None = None, weight: float = 1.0, timeout_s: float | None = 30.0):
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.__name__ = self.name  # TRL names reward functions by __name__
        self.weight = float(weight)
        self.timeout_s = timeout_s
        self._accepts = _accepted_keywords(fn)
        self._lock = threading.Lock()
        self._stats = GuardStats()
        self._hung: list[threading.Thread] = []
        self.last_errors: collections.deque[tuple[str, str]] = collections.deque(maxlen=20)

    # ------------------------------------------------------------------ calling
    def __call__(self, prompts: Sequence | None = None, completions: Sequence = (), **columns) -> list[float | None]:
        n = len(completions)
        kwargs = {"prompts": prompts, "completions": completions, **columns}
        if self._accepts is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in self._accepts}
        start = time.monotonic()
        try:
            out = self._invoke(kwargs)
        except _Timeout:
            return self._fail("timeouts", n, f"no result after {self.timeout_s} s")
        except Exception as exc:  # noqa: BLE001 - the point of the guard
            return self._fail("raised", n, f"{type(exc).__name__}: {exc}", exc)
        finally:
            with self._lock:
                self._stats.seconds += time.monotonic() - start
        return self._validate(out, n)

    async def acall(self, prompts: Sequence | None = None, completions: Sequence = (), **columns) -> list[float | None]:
        """The same, for callers inside an event loop (runs on a worker thread)."""
        return await asyncio.to_thread(self, prompts, completions, **columns)

    def _invoke(self, kwargs: dict):
        if self.timeout_s is None:
            try:
                return _resolve(self.fn(**kwargs), None)
            except (SystemExit, GeneratorExit) as exc:
                raise RuntimeError(f"reward function raised {exc!r}") from exc
        box: dict = {}
        done = threading.Event()

        def target():
            try:
                box["value"] = _resolve(self.fn(**kwargs), self.timeout_s)
            except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
                box["error"] = exc
            finally:
                done.set()

        thread = threading.Thread(target=target, name=f"reward-{self.name}", daemon=True)
        thread.start()
        if not done.wait(self.timeout_s):
            with self._lock:
                self._hung.append(thread)
            raise _Timeout()
        if "error" in box:
            error = box["error"]
            raise error if isinstance(error, Exception) else RuntimeError(f"reward function raised {error!r}")
        return box["value"]

    # ------------------------------------------------------------------ results
    def _validate(self, out, n: int) -> list[float | None]:
        if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__") or not hasattr(out, "__iter__"):
            return self._fail("bad_type", n, f"returned {type(out).__name__}, expected a list of {n} floats or None")
        values = list(out)
        if len(values) != n:
            return self._fail("wrong_length", n, f"returned {len(values)} values for {n} completions")
        rewards, nonfinite, bad = [], 0, 0
        for v in values:
            r, kind = _to_reward(v)
            rewards.append(r)
            nonfinite += kind == "nonfinite"
            bad += kind == "bad_value"
        with self._lock:
            s = self._stats
            s.calls += 1
            s.samples += n
            s.no_opinion += sum(v is None for v in values)
            s.nonfinite += nonfinite
            s.bad_value += bad
            s.failed_samples += nonfinite + bad
            s.scored += sum(r is not None for r in rewards)
        if nonfinite or bad:
            self._log("nonfinite" if nonfinite else "bad_value",
                      f"{nonfinite} NaN/inf and {bad} non-numeric values out of {n} set to None")
        return rewards

    def _fail(self, kind: str, n: int, message: str, exc: BaseException | None = None) -> list[None]:
        with self._lock:
            s = self._stats
            s.calls += 1
            s.samples += n
            s.failed_samples += n
            setattr(s, kind, getattr(s, kind) + 1)
        self._log(kind, f"{message}; {n} samples get None", exc)
        return [None] * n

    def _log(self, kind: str, message: str, exc: BaseException | None = None) -> None:
        self.last_errors.append((kind, message))
        logger.warning("reward %r: %s: %s", self.name, kind, message, exc_info=exc)

    # ------------------------------------------------------------------ counters
    def stats(self) -> GuardStats:
        with self._lock:
            self._hung = [t for t in self._hung if t.is_alive()]
            self._stats.abandoned_threads = len(self._hung)
            return dataclasses.replace(self._stats)

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = GuardStats()

    def __repr__(self) -> str:
        return f"GuardedReward({self.name!r}, weight={self.weight}, timeout_s={self.timeout_s})"


def _resolve(out, timeout_s: float | None):
    """Run an awaitable result to completion (on a fresh loop in this thread)."""
    if not inspect.isawaitable(out):
        return out

    async def wait():
        return await asyncio.wait_for(out, timeout_s)

    try:
        return asyncio.run(wait())
    except asyncio.TimeoutError as exc:
        raise _Timeout() from exc


def _to_reward(v) -> tuple[float | None, str | None]:
    if v is None:
        return None, None
    if isinstance(v, (str, bytes)):
        return None, "bad_value"
    try:
        f = float(v) if isinstance(v, numbers.Real) or hasattr(v, "__float__") else None
    except (TypeError, ValueError, RuntimeError):
        f = None
    if f is None:
        return None, "bad_value"
    if not math.isfinite(f):
        return None, "nonfinite"
    return f, None


def _accepted_keywords(fn: Callable) -> set[str] | None:
    """None if `fn` takes **kwargs (pass every column, as TRL does); else the names it takes."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
