"""TRL's own reward functions run unchanged through our registry and guard; ours take TRL's call."""
import pytest

import rewards
from rewards import GuardedReward, load_reward

trl_rewards = pytest.importorskip("trl.rewards")

CONVERSATIONS = [
    [{"role": "assistant", "content": "<think>\nreasoning\n</think>\nanswer"}],
    [{"role": "assistant", "content": "<think>\nno closing tag"}],
]


def _trl_style_call(fn, prompts, completions, **columns):
    """The keyword call TRL 1.x's GRPOTrainer._calculate_rewards makes."""
    logged = {}
    out = fn(prompts=prompts, completions=completions, completion_ids=[[1, 2, 3]] * len(completions),
             trainer_state=None, log_extra=lambda k, v: logged.setdefault(k, v),
             log_metric=lambda k, v: None, **columns)
    return out, logged


def test_think_format_reward_by_dotted_path():
    guarded = load_reward({"fn": "trl.rewards:think_format_reward", "weight": 0.2})
    assert guarded.name == "think_format_reward" and guarded.weight == 0.2
    out, _ = _trl_style_call(guarded, [[{"role": "user", "content": "q"}]] * 2, CONVERSATIONS)
    assert out == [1.0, 0.0]
    assert guarded.stats().scored == 2 and guarded.stats().failed_samples == 0


def test_trl_callable_objects_registered_unchanged():
    rep = trl_rewards.get_repetition_penalty_reward(ngram_size=2, max_penalty=-1.0)
    over = trl_rewards.get_soft_overlong_punishment(max_completion_len=100, soft_punish_cache=20)
    try:
        rewards.register("trl_repetition", rep)
        rewards.register("trl_overlong", over)
        g = load_reward("trl_repetition")
        assert g(prompts=["a", "b"], completions=["x", "y"], completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]]) == [0.0, -0.75]
        g = load_reward("trl_overlong")
        assert g(prompts=["a"], completions=["x"], completion_ids=[[1] * 90]) == [-0.5]
    finally:
        rewards.unregister("trl_repetition")
        rewards.unregister("trl_overlong")


def test_trl_accuracy_reward_unchanged():
    guarded = load_reward("trl.rewards:accuracy_reward")
    completions = [[{"role": "assistant", "content": r"so \boxed{\frac{1}{3}}"}],
                   [{"role": "assistant", "content": r"so \boxed{\frac{1}{2}}"}]]
    out = guarded(prompts=None, completions=completions, solution=[r"\frac{1}{3}"] * 2)
    from trl.import_utils import is_math_verify_available

    if is_math_verify_available():
        assert out == [1.0, 0.0]
    else:  # TRL raises ImportError without math_verify: the guard turns it into "no opinion", counted
        assert out == [None, None]
        assert guarded.stats().raised == 1
        assert "math_verify" in guarded.last_errors[-1][1]


def test_our_rewards_take_trls_call_and_log_extra():
    math = load_reward("math_answer")
    out, logged = _trl_style_call(math, ["q1", "q2"], [[{"role": "assistant", "content": "#### 72"}],
                                                         [{"role": "assistant", "content": r"\boxed{71}"}]],
                                  answer=["... so 72\n#### 72", "#### 72"])
    assert out == [1.0, 0.0] and logged["extracted_answer"] == ["72", "71"]
    code = load_reward({"fn": "code_tests", "timeout_s": 60})
    out, logged = _trl_style_call(code, ["q"], ["```python\ndef f(x):\n    return x + 1\n```"],
                                  tests=["assert f(1) == 2\nassert f(2) == 3\n"])
    assert out == [1.0] and logged["tests_passed"] == ["2/2"]


def test_guarded_reward_looks_like_a_trl_reward_function():
    g = load_reward("math_answer")
    assert isinstance(g, GuardedReward) and g.__name__ == "math_answer" and callable(g)
