"""The swap scheduler's order of moves (a unit test of orchestration logic: the moves are recorders)."""
import pytest

from engine.scheduler import ScheduleError, Sides, SwapScheduler


def recorder():
    calls = []
    names = ["offload_trainer", "reload_trainer", "sleep_rollout", "wake_rollout_weights", "wake_rollout_kv",
             "offload_reference", "reload_reference"]
    sides = Sides(**{n: (lambda n=n: calls.append(n)) for n in names})
    return sides, calls


def one_step(s: SwapScheduler):
    s.before_weight_sync()
    s.before_generate()
    s.before_reference()
    s.before_train()


def test_colocated_order_and_invariants():
    sides, calls = recorder()
    s = SwapScheduler("colocated", sides)
    s.start()
    one_step(s)
    one_step(s)
    step = ["offload_trainer", "wake_rollout_weights", "wake_rollout_kv", "sleep_rollout", "reload_reference",
            "offload_reference", "reload_trainer"]
    assert calls == ["offload_reference", "sleep_rollout"] + step + step
    for ev in s.events[2:]:  # after start: never two sides resident at once
        res = set(ev["resident"])
        assert not ("trainer" in res and res & {"rollout_weights", "rollout_kv"})
        assert not ("rollout_kv" in res and "rollout_weights" not in res)
    assert all(ev["seconds"] >= 0 for ev in s.events)


def test_split_moves_nothing():
    sides, calls = recorder()
    s = SwapScheduler("split", sides)
    s.start()
    one_step(s)
    assert calls == [] and s.events == []


def test_invariant_violation_is_refused():
    sides, _ = recorder()
    s = SwapScheduler("colocated", sides)
    s.start()
    s.before_train()
    with pytest.raises(ScheduleError, match="KV cache before its weights"):
        s._move("bad", lambda: None, add={"rollout_kv"}, drop={"trainer"})
    with pytest.raises(ScheduleError, match="trainer and rollout"):
        s._move("bad", lambda: None, add={"rollout_weights"})
    with pytest.raises(ValueError, match="placement"):
        SwapScheduler("shared", sides)


def test_colocated_without_a_reference_actor():
    """LoRA: the KL reference is the trainer with its adapters disabled, so there is no reference side; the
    colocated cycle runs without it (the trainer is reloaded before the reference log-probs)."""
    sides, calls = recorder()
    sides.offload_reference = sides.reload_reference = None
    s = SwapScheduler("colocated", sides)
    s.start()
    s.before_weight_sync()
    s.before_generate()
    s.before_train()  # reference and old log-probs, then the updates: all on the trainer
    assert calls == ["sleep_rollout", "offload_trainer", "wake_rollout_weights", "wake_rollout_kv", "sleep_rollout",
                     "reload_trainer"]
    assert "reference" not in s.resident
