"""GuardedReward: raise / hang / NaN / wrong length / bad types never stop the caller, and are counted."""
import asyncio
import logging
import math
import sys
import time

import pytest

from rewards import GuardedReward

COMPLETIONS = ["a", "bb", "ccc"]


def test_ok_values_and_no_opinion_pass_through():
    g = GuardedReward(lambda prompts, completions, **kw: [1, None, True], name="ok")
    assert g(prompts=None, completions=COMPLETIONS) == [1.0, None, 1.0]
    s = g.stats()
    assert (s.calls, s.samples, s.scored, s.no_opinion, s.failed_samples, s.failed_calls) == (1, 3, 2, 1, 0, 0)


def test_raise_gives_none_counted_and_logged_with_traceback(caplog):
    def boom(prompts, completions, **kw):
        raise ZeroDivisionError("division by zero in my reward")

    g = GuardedReward(boom, name="boom")
    with caplog.at_level(logging.WARNING, logger="rewards.guard"):
        assert g(None, COMPLETIONS) == [None, None, None]
        assert g(None, ["x"]) == [None]
    s = g.stats()
    assert (s.calls, s.raised, s.failed_samples, s.samples, s.scored) == (2, 2, 4, 4, 0)
    record = caplog.records[0]
    assert "boom" in record.getMessage() and "ZeroDivisionError: division by zero in my reward" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError
    assert g.last_errors[-1][0] == "raised"


def test_system_exit_and_keyboard_interrupt_in_reward_do_not_escape():
    g = GuardedReward(lambda prompts, completions, **kw: sys.exit(3), name="exit")
    assert g(None, COMPLETIONS) == [None] * 3
    g2 = GuardedReward(lambda prompts, completions, **kw: sys.exit(3), name="exit_inline", timeout_s=None)
    assert g2(None, COMPLETIONS) == [None] * 3
    assert g.stats().raised == 1 and g2.stats().raised == 1


def test_hang_times_out_quickly_and_is_counted():
    def hang(prompts, completions, **kw):
        time.sleep(3)
        return [1.0] * len(completions)

    g = GuardedReward(hang, name="hang", timeout_s=0.3)
    start = time.monotonic()
    assert g(None, COMPLETIONS) == [None] * 3
    assert time.monotonic() - start < 1.5
    s = g.stats()
    assert (s.timeouts, s.failed_samples, s.abandoned_threads) == (1, 3, 1)


@pytest.mark.parametrize("out, expected, nonfinite, bad", [
    ([1.0, float("nan"), 2.0], [1.0, None, 2.0], 1, 0),
    ([float("inf"), -float("inf"), 0.5], [None, None, 0.5], 2, 0),
    (["1.0", object(), 3], [None, None, 3.0], 0, 2),
])
def test_nonfinite_and_non_numeric_values(out, expected, nonfinite, bad):
    g = GuardedReward(lambda prompts, completions, **kw: out, name="vals")
    assert g(None, COMPLETIONS) == expected
    s = g.stats()
    assert (s.nonfinite, s.bad_value, s.failed_samples, s.scored) == (nonfinite, bad, nonfinite + bad, 3 - nonfinite - bad)


@pytest.mark.parametrize("out, kind", [([1.0, 2.0], "wrong_length"), ([1.0] * 4, "wrong_length"),
                                       (1.0, "bad_type"), ("abc", "bad_type"), (None, "bad_type")])
def test_wrong_length_and_wrong_type(out, kind):
    g = GuardedReward(lambda prompts, completions, **kw: out, name="shape")
    assert g(None, COMPLETIONS) == [None] * 3
    s = g.stats()
    assert getattr(s, kind) == 1 and s.failed_samples == 3 and s.failed_calls == 1


def test_numpy_and_torch_scalars_accepted():
    torch = pytest.importorskip("torch")
    g = GuardedReward(lambda prompts, completions, **kw: torch.tensor([0.25, float("nan"), 1.0]), name="tensor")
    assert g(None, COMPLETIONS) == [0.25, None, 1.0]


def test_async_reward_and_async_timeout():
    async def good(prompts, completions, **kw):
        await asyncio.sleep(0.01)
        return [0.5] * len(completions)

    async def slow(prompts, completions, **kw):
        await asyncio.sleep(5)
        return [0.5] * len(completions)

    assert GuardedReward(good)(None, COMPLETIONS) == [0.5] * 3
    g = GuardedReward(slow, timeout_s=0.2)
    start = time.monotonic()
    assert g(None, COMPLETIONS) == [None] * 3
    assert time.monotonic() - start < 1.5 and g.stats().timeouts == 1


def test_acall_from_running_event_loop():
    g = GuardedReward(lambda prompts, completions, **kw: [1.0] * len(completions), name="x")

    async def main():
        return await g.acall(None, COMPLETIONS)

    assert asyncio.run(main()) == [1.0] * 3


def test_columns_passed_as_keywords_and_filtered_for_strict_functions():
    seen = {}

    def strict(completions, answer):
        seen["answer"] = answer
        return [float(c == a) for c, a in zip(completions, answer)]

    g = GuardedReward(strict)
    assert g(prompts=["p"] * 2, completions=["1", "2"], answer=["1", "3"], trainer_state=None) == [1.0, 0.0]
    assert seen["answer"] == ["1", "3"]


def test_counters_accumulate_and_reset():
    calls = iter([[1.0, 1.0, 1.0], [1.0], RuntimeError("x")])

    def fn(prompts, completions, **kw):
        v = next(calls)
        if isinstance(v, Exception):
            raise v
        return v

    g = GuardedReward(fn, name="mixed")
    assert g(None, COMPLETIONS) == [1.0] * 3
    assert g(None, COMPLETIONS) == [None] * 3
    assert g(None, COMPLETIONS) == [None] * 3
    s = g.stats()
    assert (s.calls, s.samples, s.scored, s.failed_samples, s.wrong_length, s.raised) == (3, 9, 3, 6, 1, 1)
    g.reset_stats()
    assert g.stats().calls == 0


def test_invalid_timeout():
    with pytest.raises(ValueError):
        GuardedReward(lambda prompts, completions: [], timeout_s=0)
    assert math.isclose(GuardedReward(lambda prompts, completions: [], weight=2).weight, 2.0)
