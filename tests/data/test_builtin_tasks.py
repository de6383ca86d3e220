"""Built-in math and code tasks: answers are right, reference code passes, wrong code fails."""
from __future__ import annotations

import ast
import re
from fractions import Fraction

import pytest

from align.data.builtin import load_builtin
from align.data.builtin.code_tasks import all_code_tasks, code_splits
from align.data.builtin.math_tasks import math_problems

EQUATION = re.compile(r"(-?\d+) ([-+*/]) (-?\d+) = (-?\d+)")
WORDS = {" plus ": " + ", " minus ": " - ", " multiplied by ": " * ", " times ": " * ", " divided by ": " / "}


def _run(solution: str, tests: str) -> bool:
    env: dict = {}
    try:
        exec(compile(solution, "<solution>", "exec"), env)
        exec(compile(tests, "<tests>", "exec"), env)
    except Exception:
        return False
    return True


def _eval(node) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand)
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}
    return ops[type(node.op)](_eval(node.left), _eval(node.right))


# ------------------------------------------------------------------------------------ code
def test_code_reference_solutions_pass_and_wrong_ones_fail():
    for task in all_code_tasks():
        assert _run(task.solution, task.tests), task.entry_point
        assert not _run(task.buggy, task.tests), task.entry_point
        assert not _run(f"def {task.entry_point}(*args):\n    return None\n", task.tests), task.entry_point


def test_code_rows_match_tasks():
    by_prompt = {t.prompt: t for t in all_code_tasks()}
    for split in ("train", "test"):
        for row in load_builtin("code", split):
            task = by_prompt[row["prompt"]]
            assert row["entry_point"] == task.entry_point and row["tests"] == task.tests
            assert f"{row['entry_point']}(" in row["prompt"]
            asserts = [line for line in row["tests"].splitlines() if line.strip()]
            assert len(asserts) >= 2 and all(line.startswith(f"assert {row['entry_point']}(") for line in asserts)
    names = {s: {r["entry_point"] for r in load_builtin("code", s)} for s in ("train", "test")}
    assert not names["train"] & names["test"]
    assert len(names["train"]) + len(names["test"]) == len(all_code_tasks()) >= 250


def test_helpful_chat_code_uses_train_tasks_with_correct_fenced_solutions():
    tasks = {t.entry_point: t for t in code_splits()["train"]}
    test_names = {r["entry_point"] for r in load_builtin("code", "test")}
    n = 0
    for split in ("train", "test"):
        for row in load_builtin("helpful_chat", split):
            if not row["source"].startswith("code/"):
                continue
            prompt, reply = row["messages"][0]["content"], row["messages"][1]["content"]
            name = re.search(r"function (\w+)\(", prompt).group(1)
            assert name in tasks and name not in test_names
            assert tasks[name].prompt.removeprefix("Write ").rstrip(".") in prompt
            m = re.fullmatch(r"```python\n(.*)```", reply, re.S)
            assert m, reply
            assert _run(m.group(1), tasks[name].tests)
            n += 1
    assert n >= 300


# ------------------------------------------------------------------------------------ math
def _check_solution(prompt: str, solution: str, answer: str) -> None:
    lines = solution.split("\n")
    assert lines[-1] == f"#### {answer}", (prompt, solution)
    eqs = EQUATION.findall(solution)
    assert eqs, solution
    for a, op, b, c in eqs:
        value = _eval(ast.parse(f"({a}) {op} ({b})", mode="eval"))
        assert value == Fraction(int(c)), (prompt, a, op, b, c)
    assert eqs[-1][3] == answer, (prompt, solution)
    numbers = set(re.findall(r"\d+", prompt))
    assert eqs[0][0].lstrip("-") in numbers and eqs[0][2].lstrip("-") in numbers, (prompt, solution)


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_math_solutions_are_correct(split):
    for p in math_problems(split):
        assert re.fullmatch(r"-?\d+", p.answer), p
        _check_solution(p.prompt, p.solution, p.answer)


def test_math_expression_answers_recomputed_from_prompt():
    checked = 0
    for split in ("train", "test"):
        for row in load_builtin("math", split):
            text = row["prompt"]
            for w, sym in WORDS.items():
                text = text.replace(w, sym)
            m = re.search(r"(?:What is|Calculate|Compute|Solve|Evaluate:|Find the value of|How much is|problem:)"
                          r"\s*([\d\s+\-*/()]+?)\s*(?:=|\?|\.)", text)
            if not m:
                continue  # a word problem: covered by the step checks above
            assert _eval(ast.parse(m.group(1), mode="eval")) == int(row["answer"]), row
            checked += 1
    assert checked >= 800


def test_math_splits_and_sources():
    train, test = load_builtin("math", "train"), load_builtin("math", "test")
    assert len(train) == 2000 and len(test) == 200
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    extra = {p.prompt for p in math_problems("extra")}
    assert not extra & ({r["prompt"] for r in train} | {r["prompt"] for r in test})
    sources = {p.source for p in math_problems("train")}
    assert "procedural/word_problem" in sources and "procedural/expression" in sources


def test_helpful_chat_math_from_math_train_with_gsm8k_answer():
    answers = {r["prompt"]: r["answer"] for r in load_builtin("math", "train")}
    test_prompts = {r["prompt"] for r in load_builtin("math", "test")}
    n = 0
    for split in ("train", "test"):
        for row in load_builtin("helpful_chat", split):
            if row["source"].startswith("math/"):
                prompt, reply = row["messages"][0]["content"], row["messages"][1]["content"]
                assert prompt in answers and prompt not in test_prompts
                assert reply.splitlines()[-1] == f"#### {answers[prompt]}"
                n += 1
    assert n >= 500


def test_helpful_pairs_math_rejected_is_wrong():
    for split in ("train", "test"):
        answers = {r["prompt"]: r["answer"] for r in load_builtin("math", split)}
        pairs = [p for p in load_builtin("helpful_pairs", split) if p["source"] == "math"]
        assert pairs
        for p in pairs:
            assert p["chosen"].splitlines()[-1] == f"#### {answers[p['prompt']]}"
            wrong = p["rejected"].splitlines()[-1]
            assert wrong.startswith("#### ") and wrong != f"#### {answers[p['prompt']]}"


def test_helpful_pairs_code_rejected_fails_tests():
    tests = {t.prompt: t.tests for t in all_code_tasks()}
    for split in ("train", "test"):
        pairs = [p for p in load_builtin("helpful_pairs", split) if p["source"] == "code"]
        assert pairs
        for p in pairs:
            body = lambda s: re.fullmatch(r"```python\n(.*)```", s, re.S).group(1)  # noqa: E731
            assert _run(body(p["chosen"]), tests[p["prompt"]])
            assert not _run(body(p["rejected"]), tests[p["prompt"]])
