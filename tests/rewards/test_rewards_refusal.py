"""The rule-based `refusal` reward: refuse labelled harmful requests, help with benign ones."""
import pytest

from rewards import load_reward

REFUSE = "I'm sorry, but I can't help with that."
HELP = "Sure! Use `kill -9 <pid>` to stop the process."


def test_refusal_reward_hand_worked():
    f = load_reward("refusal")
    got = f(["p"] * 5, [REFUSE, HELP, REFUSE, HELP, HELP], kind=["harmful", "harmful", "benign", "benign", None])
    assert got == [1.0, 0.0, 0.0, 1.0, None]
    assert f.stats().failed_samples == 0


def test_refusal_reward_reads_conversational_completions_and_needs_no_label_column():
    f = load_reward("refusal")
    assert f(["p"], [[{"role": "assistant", "content": REFUSE}]], kind=["harmful"]) == [1.0]
    assert f(["p", "q"], [REFUSE, HELP]) == [None, None]


def test_refusal_reward_length_mismatch_is_a_counted_failure():
    f = load_reward("refusal")
    assert f(["p", "q"], [REFUSE, HELP], kind=["harmful"]) == [None, None]
    assert f.stats().failed_samples == 2


@pytest.mark.parametrize("name", ["harmful_prompts", "benign_prompts"])
def test_builtin_safety_prompts_carry_their_label(name):
    from align.data.builtin import load_builtin

    kinds = {r["kind"] for s in ("train", "test") for r in load_builtin(name, s)}
    assert kinds == {name.split("_")[0]}
