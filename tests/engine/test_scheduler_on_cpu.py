"""The swap scheduler's order of moves (a unit test of orchestration logic: the moves are recorders). The moves
themselves are real on CPU and tested in tests/engine/test_offload_on_cpu.py; a colocated GRPO run with them is in
tests/workflows/test_grpo_cli.py."""
import pytest

from engine.scheduler import ScheduleError, Sides, SwapScheduler

NAMES = ["offload_trainer", "reload_trainer", "sleep_rollout", "wake_rollout_weights", "wake_rollout_kv",
         "offload_reference", "reload_reference", "offload_reward_models", "reload_reward_models"]


def recorder(reference: bool = True, reward_models: bool = False):
    calls = []
    sides = Sides(**{n: (lambda n=n: calls.append(n)) for n in NAMES})
    if not reference:
        sides.offload_reference = sides.reload_reference = None
    if not reward_models:
        sides.offload_reward_models = sides.reload_reward_models = None
    return sides, calls


def one_step(s: SwapScheduler):
    """As the GRPO driver runs a step: generate, score, reference, train, then the sync of the new weights."""
    s.before_generate()
    s.before_reward_models()
    s.before_reference()
    s.before_train()
    s.before_weight_sync()


def test_colocated_order_the_trainer_syncs_then_offloads():
    sides, calls = recorder()
    s = SwapScheduler("colocated", sides)
    s.start()  # ready for the start's weight sync: trainer + rollout weights
    assert calls == ["sleep_rollout", "offload_reference", "wake_rollout_weights"]
    assert s.resident == {"trainer", "rollout_weights"}
    calls.clear()
    one_step(s)
    one_step(s)
    step = ["offload_trainer", "wake_rollout_kv",  # the sync is done: the trainer leaves, the KV cache comes
            "sleep_rollout", "reload_reference",  # generation is done: the engine sleeps
            "offload_reference", "reload_trainer",  # the trainer comes back only after the engine slept
            "wake_rollout_weights"]  # the weights wake before the sync, the KV cache stays asleep
    assert calls == step + step
    for ev in s.events[3:]:
        res = set(ev["resident"])
        assert not ("trainer" in res and "rollout_kv" in res)
        assert not ("rollout_kv" in res and "rollout_weights" not in res)
        assert not ("reference" in res and len(res) > 1)


def test_reward_models_are_scheduled_alone():
    sides, calls = recorder(reward_models=True)
    s = SwapScheduler("colocated", sides)
    s.start()
    calls.clear()
    one_step(s)
    assert calls == ["offload_trainer", "wake_rollout_kv", "sleep_rollout", "reload_reward_models",
                     "offload_reward_models", "reload_reference", "offload_reference", "reload_trainer",
                     "wake_rollout_weights"]


def test_split_moves_nothing():
    sides, calls = recorder(reward_models=True)
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
    with pytest.raises(ScheduleError, match="trainer and the rollout KV cache"):
        s._move("bad", lambda: None, add={"rollout_weights", "rollout_kv"})
    with pytest.raises(ScheduleError, match="reference resident beside"):
        s._move("bad", lambda: None, add={"reference"})
    with pytest.raises(ValueError, match="placement"):
        SwapScheduler("shared", sides)


def test_colocated_without_a_reference_actor():
    """LoRA: the KL reference is the trainer with its adapters disabled, so there is no reference side; the
    colocated cycle runs without it (the trainer is reloaded before the reference log-probs)."""
    sides, calls = recorder(reference=False)
    s = SwapScheduler("colocated", sides)
    s.start()
    s.before_generate()
    s.before_train()  # reference and old log-probs, then the updates: all on the trainer
    s.before_weight_sync()
    assert calls == ["sleep_rollout", "wake_rollout_weights", "offload_trainer", "wake_rollout_kv", "sleep_rollout",
                     "reload_trainer", "wake_rollout_weights"]
    assert "reference" not in s.resident
