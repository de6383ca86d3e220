"""The swap scheduler: which side of the hybrid engine holds the accelerator.

Placements:
- `split`: rollout engines and trainers on disjoint resources; nothing moves.
- `colocated`: they share accelerators. Before generation the trainers offload
  parameters and optimizer states to CPU memory, then the rollout engine wakes its
  weights, receives the new weights, and only then wakes its KV cache; before
  training the rollout engine sleeps (level 1: weights to CPU, KV cache dropped)
  and the trainers reload. The reference model is offloaded whenever it is idle.

On CPU the moves are no-ops (vLLM refuses sleep mode there and DeepSpeed has
nothing to offload to), but the same state machine runs, every transition is
logged with its duration, and the invariants below are checked on every move:
in colocated mode the two sides are never resident at once, and rollout weights
are resident before its KV cache.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

Action = Callable[[], object]


class ScheduleError(RuntimeError):
    """A transition would break the colocated residency invariants."""


@dataclass
class Sides:
    """The moves the scheduler can make; each is a zero-argument callable."""
    offload_trainer: Action
    reload_trainer: Action
    sleep_rollout: Action
    wake_rollout_weights: Action
    wake_rollout_kv: Action
    offload_reference: Action | None = None
    reload_reference: Action | None = None


@dataclass
class SwapScheduler:
    placement: str
    sides: Sides
    resident: set = field(default_factory=lambda: {"trainer", "rollout_weights", "rollout_kv", "reference"})
    events: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.placement not in ("split", "colocated"):
            raise ValueError(f"placement must be `split` or `colocated`, got {self.placement!r}")
        if self.sides.offload_reference is None and self.sides.reload_reference is None:
            self.resident.discard("reference")  # no reference of its own (LoRA: the trainer, adapters disabled)

    # ------------------------------------------------------------------ phases
    def start(self) -> None:
        """Everything is resident after creation; in colocated mode leave only the trainer.
        The invariants hold from the end of `start` on."""
        if self.placement == "colocated":
            self._offload_reference(check=False)
            self._move("sleep_rollout", self.sides.sleep_rollout, drop={"rollout_weights", "rollout_kv"}, check=False)

    def before_weight_sync(self) -> None:
        """Trainer off the device, rollout weights on (KV cache still asleep)."""
        if self.placement == "colocated":
            self._offload_reference()
            self._move("offload_trainer", self.sides.offload_trainer, drop={"trainer"})
            self._move("wake_rollout_weights", self.sides.wake_rollout_weights, add={"rollout_weights"})

    def before_generate(self) -> None:
        if self.placement == "colocated":
            if "rollout_weights" not in self.resident:
                self.before_weight_sync()
            self._move("wake_rollout_kv", self.sides.wake_rollout_kv, add={"rollout_kv"})

    def before_reference(self) -> None:
        if self.placement == "colocated":
            self._sleep_rollout()
            if self.sides.reload_reference:
                self._move("reload_reference", self.sides.reload_reference, add={"reference"})

    def before_train(self) -> None:
        if self.placement == "colocated":
            self._sleep_rollout()
            self._offload_reference()
            self._move("reload_trainer", self.sides.reload_trainer, add={"trainer"})

    # ------------------------------------------------------------------ internals
    def _sleep_rollout(self) -> None:
        if self.resident & {"rollout_weights", "rollout_kv"}:
            self._move("sleep_rollout", self.sides.sleep_rollout, drop={"rollout_weights", "rollout_kv"})

    def _offload_reference(self, check: bool = True) -> None:
        if self.sides.offload_reference and "reference" in self.resident:
            self._move("offload_reference", self.sides.offload_reference, drop={"reference"}, check=check)

    def _move(self, name: str, action: Action, add: set = frozenset(), drop: set = frozenset(), check: bool = True) -> None:
        after = (self.resident - set(drop)) | set(add)
        if check:
            self._check(name, after)
        t0 = time.perf_counter()
        detail = action()
        self.resident = after
        self.events.append({"action": name, "seconds": round(time.perf_counter() - t0, 4),
                            "resident": sorted(after), "detail": detail})

    def _check(self, name: str, after: set) -> None:
        rollout = after & {"rollout_weights", "rollout_kv"}
        if "trainer" in after and rollout:
            raise ScheduleError(f"`{name}` would leave trainer and rollout ({sorted(rollout)}) resident together")
        if "reference" in after and (rollout or "trainer" in after):
            raise ScheduleError(f"`{name}` would leave the reference model resident beside another side")
        if "rollout_kv" in after and "rollout_weights" not in after:
            raise ScheduleError(f"`{name}` would wake the rollout KV cache before its weights")
