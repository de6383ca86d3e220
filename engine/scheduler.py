"""The swap scheduler: which parts of the hybrid engine hold the accelerator, phase by phase.

Placements:
- `split`: rollout engines and trainers on disjoint resources; nothing moves.
- `colocated`: they share accelerators, and each phase of a GRPO step keeps resident only what it uses:

    phase            resident                          (what runs)
    sync             trainer + rollout weights         rank 0 sends its weights into the engine's weights
    generate         rollout weights + KV cache        vLLM samples (and scores, for the sync check)
    reward_models    reward-model servers              stage-2 reward models score the samples
    reference        the KL reference                  its log-probs
    train            trainer                           old log-probs, the updates

  Entering a phase first drops what the phase does not use (vLLM sleeps: weights to host memory, KV cache
  dropped; the trainer, the reference and the reward models offload), then brings in what it needs, weights
  before the KV cache. So in a step: the trainer syncs, then offloads; the engine's weights wake before the
  sync and its KV cache after it; the engine sleeps, then the trainer reloads (as verl's and OpenRLHF's hybrid
  engines order it). Sides that do not exist (no reference actor under LoRA, no reward models in stage 1) are
  left out.

Invariants, checked on every move: the trainer is never resident with the rollout KV cache; the reference and
the reward models are never resident beside anything else; the KV cache never without the weights.

On CPU, vLLM has no sleep mode (its moves are logged no-ops), but the trainer's, the reference's and the
reward models' offloads are real (engine.offload.Spill: their storage is freed), and a read of an offloaded
side is refused: a wrong order fails the run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

Action = Callable[[], object]

PHASES = {
    "sync": {"trainer", "rollout_weights"},
    "generate": {"rollout_weights", "rollout_kv"},
    "reward_models": {"reward_models"},
    "reference": {"reference"},
    "train": {"trainer"},
}
ADD_ORDER = ("trainer", "rollout_weights", "rollout_kv", "reference", "reward_models")


class ScheduleError(RuntimeError):
    """A transition would break the colocated residency invariants."""


@dataclass
class Sides:
    """The moves the scheduler can make; each is a zero-argument callable (None: that side does not exist)."""
    offload_trainer: Action
    reload_trainer: Action
    sleep_rollout: Action  # weights to host memory and KV cache dropped, together (vLLM sleep level 1)
    wake_rollout_weights: Action
    wake_rollout_kv: Action
    offload_reference: Action | None = None
    reload_reference: Action | None = None
    offload_reward_models: Action | None = None
    reload_reward_models: Action | None = None


@dataclass
class SwapScheduler:
    placement: str
    sides: Sides
    resident: set = field(default_factory=set)
    events: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.placement not in ("split", "colocated"):
            raise ValueError(f"placement must be `split` or `colocated`, got {self.placement!r}")
        s = self.sides
        self.present = {"trainer", "rollout_weights", "rollout_kv"}
        self.present |= {side for side, move in (("reference", s.offload_reference),
                                                 ("reward_models", s.offload_reward_models)) if move is not None}
        self.resident = set(self.present)  # everything is resident after creation

    # ------------------------------------------------------------------ phases
    def start(self) -> None:
        """Colocated: leave only what the first phase (the start's weight sync) needs. Unchecked: the invariants
        hold from the end of `start` on."""
        if self.placement == "colocated":
            self._enter("sync", check=False)

    def before_weight_sync(self) -> None:
        self._enter("sync")

    def before_generate(self) -> None:
        self._enter("generate")

    def before_reward_models(self) -> None:
        if "reward_models" in self.present:
            self._enter("reward_models")

    def before_reference(self) -> None:
        self._enter("reference")

    def before_train(self) -> None:
        self._enter("train")

    # ------------------------------------------------------------------ moves
    def _enter(self, phase: str, check: bool = True) -> None:
        if self.placement != "colocated":
            return
        want = PHASES[phase] & self.present
        s = self.sides
        if self.resident & {"rollout_weights", "rollout_kv"} - want:  # vLLM drops both at once
            self._move("sleep_rollout", s.sleep_rollout, drop={"rollout_weights", "rollout_kv"}, check=check)
        for side, action in (("trainer", s.offload_trainer), ("reference", s.offload_reference),
                             ("reward_models", s.offload_reward_models)):
            if side in self.resident - want:
                self._move(f"offload_{side}", action, drop={side}, check=check)
        adds = {"trainer": ("reload_trainer", s.reload_trainer),
                "rollout_weights": ("wake_rollout_weights", s.wake_rollout_weights),
                "rollout_kv": ("wake_rollout_kv", s.wake_rollout_kv),
                "reference": ("reload_reference", s.reload_reference),
                "reward_models": ("reload_reward_models", s.reload_reward_models)}
        for side in ADD_ORDER:
            if side in want - self.resident:
                self._move(*adds[side], add={side})

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
        if "trainer" in after and "rollout_kv" in after:
            raise ScheduleError(f"`{name}` would leave the trainer and the rollout KV cache resident together")
        for alone in ("reference", "reward_models"):
            if alone in after and len(after) > 1:
                raise ScheduleError(f"`{name}` would leave the {alone.replace('_', ' ')} resident beside "
                                    f"{sorted(after - {alone})}")
        if "rollout_kv" in after and "rollout_weights" not in after:
            raise ScheduleError(f"`{name}` would wake the rollout KV cache before its weights")
