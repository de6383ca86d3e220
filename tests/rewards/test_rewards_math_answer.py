"""math_answer: extraction, exact and symbolic equivalence, a time limit that fires, GSM8K references."""
import json
import os
import pathlib
import threading
import time
from fractions import Fraction

import pytest

from rewards import GuardedReward, math_answer as ma
from rewards.math_answer import answers_match, extract_answer, gold_answer, math_answer, to_number, to_sympy_syntax

GSM8K = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"


@pytest.mark.parametrize("text, expected", [
    ("so the total is\n#### 72", "72"),
    ("#### 1,234\n", "1,234"),
    (r"The answer is $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"\boxed{\frac{\sqrt{2}}{\left(1+\frac{1}{2}\right)}} done", r"\frac{\sqrt{2}}{\left(1+\frac{1}{2}\right)}"),
    (r"first \boxed{3} then corrected: \boxed{4}", "4"),
    (r"\boxed{5} but finally #### 6", "6"),
    (r"#### 6 and then \boxed{7}", "7"),
    (r"\boxed 9 is it", "9"),
    (r"\fbox{10}", "10"),
    ("I think it is 42.", None),
    (r"\boxed{unclosed", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_fallback_last_number_is_opt_in():
    assert extract_answer("it is 1,200 apples") is None
    assert extract_answer("it is 1,200 apples", fallback_last_number=True) == "1,200"


@pytest.mark.parametrize("answer, expected", [
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),
    (r"so $\boxed{3\pi}$", r"3\pi"),
    ("  17 ", "17"),
])
def test_gold_answer(answer, expected):
    assert gold_answer(answer) == expected


@pytest.mark.parametrize("text, value", [
    ("72", Fraction(72)), ("1,000", Fraction(1000)), ("$18.00", Fraction(18)), (r"\$5", Fraction(5)),
    ("18 dollars", Fraction(18)), ("5cm", Fraction(5)), ("50%", Fraction(50)), (r"50\%", Fraction(50)),
    ("3/4", Fraction(3, 4)), (r"\frac{3}{4}", Fraction(3, 4)), (r"\dfrac{-3}{4}", Fraction(-3, 4)),
    (r"-\frac{1}{2}", Fraction(-1, 2)), (r"\frac12", Fraction(1, 2)), ("-0.5", Fraction(-1, 2)), (".5", Fraction(1, 2)),
    ("x = 5", Fraction(5)), (r"\text{5 apples}", Fraction(5)), ("90^\\circ", Fraction(90)), ("1e3", Fraction(1000)),
    ("1/0", None), ("2x", None), (r"\sqrt{2}", None), ("1, 2", None), ("abc", None),
])
def test_to_number(text, value):
    assert to_number(text) == value


@pytest.mark.parametrize("pred, gold, ok", [
    ("72", "72", True), ("72.0", "72", True), ("1,000", "1000", True), ("$18", "18", True), ("0.5", r"\frac{1}{2}", True),
    ("0.33", r"\frac{1}{3}", False), ("71", "72", False), ("-3", "3", False), ("Tuesday", r"\text{tuesday}", True),
    ("Monday", "Tuesday", False),
])
def test_numeric_and_string_matches(pred, gold, ok):
    before = ma.STATS["symbolic"]
    assert answers_match(pred, gold) is ok
    assert ma.STATS["symbolic"] == before  # decided without the worker process


@pytest.mark.parametrize("pred, gold, ok", [
    (r"2\sqrt{2}", r"\sqrt{8}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    (r"\frac{\pi}{2}", r"\pi/2", True),
    (r"\frac{\sqrt{2}}{2}", r"\sin(\pi/4)", True),
    (r"\sqrt[3]{27}", "3", True),
    ("(1, 2)", "(1,2)", True),
    ("(2, 1)", "(1,2)", False),
    ("x^2-1", "(x-1)(x+1)", True),
    ("x^2+1", "(x+1)^2", False),
    (r"3\pi", r"\pi", False),
])
def test_symbolic_matches(pred, gold, ok):
    assert answers_match(pred, gold, sympy_timeout_s=20) is ok


@pytest.mark.parametrize("payload", [
    "__import__('os').system('touch /tmp/rewards_scratch_pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd').read()",
    "lambda: 1",
    "x; import os",
])
def test_model_output_never_reaches_eval(payload):
    assert to_sympy_syntax(payload) is None
    assert math_answer(completions=[rf"\boxed{{{payload}}}"], answer=["1"]) == [0.0]
    assert not os.path.exists("/tmp/rewards_scratch_pwned")


def test_hard_time_limit_fires_even_from_a_worker_thread():
    before = ma.STATS["timeouts"]
    result = {}

    def work():
        start = time.monotonic()
        result["r"] = math_answer(completions=[r"\boxed{9^{9^{9}}}"], answer=["1"], sympy_timeout_s=1.0)
        result["t"] = time.monotonic() - start

    ma._POOL.equal("1", "1", 60)  # warm a worker so the limit measures the comparison, not sympy's import
    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert result["r"] == [0.0] and result["t"] < 5.0
    assert ma.STATS["timeouts"] == before + 1
    assert math_answer(completions=[r"\boxed{2\sqrt{2}}"], answer=[r"\sqrt{8}"]) == [1.0]  # a fresh worker serves


def test_math_answer_columns_and_none_for_missing_truth():
    completions = ["#### 5", [{"role": "assistant", "content": r"\boxed{6}"}], "no answer here", "#### 5"]
    assert math_answer(prompts=["q"] * 4, completions=completions, answer=["#### 5", "6", "7", ""]) == [1.0, 1.0, 0.0, None]
    with pytest.raises(ValueError, match="rows in column 'answer'"):
        math_answer(completions=["1"], answer=[])


def _gsm8k_rows():
    rows = []
    for split in ("train", "test"):
        path = GSM8K / f"{split}.jsonl"
        if path.exists():
            rows += [json.loads(line) for line in path.open()]
    return rows


@pytest.mark.skipif(not (GSM8K / "test.jsonl").exists(), reason="../shared/data/gsm8k not present in this checkout")
def test_gsm8k_reference_solutions_score_one():
    rows = _gsm8k_rows()
    assert len(rows) >= 1319
    answers = [r["answer"] for r in rows]
    guarded = GuardedReward(math_answer, timeout_s=120)
    start = time.monotonic()
    scores = guarded(prompts=[r["question"] for r in rows], completions=answers, answer=answers)
    elapsed = time.monotonic() - start
    bad = [(r["answer"][-40:], s) for r, s in zip(rows, scores) if s != 1.0]
    assert bad == [] and len(scores) == len(rows)
    assert elapsed < 30, elapsed
    # And the references are not trivially accepted: a wrong final number scores 0.
    wrong = [a.rsplit("####", 1)[0] + "#### " + str(int(a.rsplit("####", 1)[1].replace(",", "")) + 1) for a in answers[:300]]
    assert math_answer(completions=wrong, answer=answers[:300]) == [0.0] * 300
