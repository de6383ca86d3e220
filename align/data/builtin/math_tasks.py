"""Integer math problems with exact answers and GSM8K-style step-by-step solutions.

Sources (all synthetic, generated with fixed seeds):
- reasoning-gym `chain_sum` and `basic_arithmetic` (Apache-2.0) generate the expressions
  and their answers; we keep 1-3 term problems without negative literals and with small
  products/quotients, recompute each answer and write the steps ourselves. If
  reasoning-gym is not installed, an equivalent procedural expression generator is used.
- Our own procedural expressions ("What is 23 + 58?") and 1-2 step word problems
  ("Tom has 12 apples and buys 7 more...").
- An easy tier of one-step problems on single-digit numbers ("What is 7 + 5?", "Mia has 3
  apples and gets 4 more..."): the built-in ~12 M model learns these sums and products
  as facts, so the SFT model solves some of them and GRPO's groups have variance.

Every solution is a few lines containing equations "a op b = c" and ends with a final
line "#### <answer>". One shuffled, deduplicated pool is cut into test (200), train
(2,000) and an extra slice used only by the pretraining corpus, so the three never share
a prompt. The `helpful_chat` math conversations come from the train slice.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from ._common import rng

N_TEST, N_TRAIN, N_EXTRA = 200, 2000, 2000


@dataclass(frozen=True)
class MathProblem:
    prompt: str
    answer: str  # the exact final integer, as a string
    solution: str  # step lines, then "#### <answer>"
    source: str


# ----------------------------------------------------------------- expressions, evaluated step by step
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def expression_steps(expr: str) -> tuple[int, list[str]] | None:
    """Evaluate `expr` (+ - * / on non-negative integer literals, parentheses) innermost
    first; return (value, ["a op b = c", ...]) or None if a step leaves small integers."""
    steps: list[str] = []

    def ev(node) -> Fraction:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = ev(node.left), ev(node.right)
            op = _OPS[type(node.op)]
            if op == "/" and (b == 0 or (a / b).denominator != 1 or b > 12):
                raise ValueError
            if op == "*" and min(abs(a), abs(b)) > 12:
                raise ValueError
            c = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else a}[op]
            if abs(c) > 999:
                raise ValueError
            steps.append(f"{a} {op} {b} = {c}")
            return c
        raise ValueError

    try:
        value = ev(ast.parse(expr, mode="eval").body)
    except (ValueError, SyntaxError):
        return None
    return (int(value), steps) if steps else None


def _solution(lines: list[str], answer: int) -> str:
    return "\n".join(lines + [f"#### {answer}"])


def _expr_solution(steps: list[str], answer: int) -> str:
    if len(steps) == 1:
        return _solution([steps[0] + "."], answer)
    words = ["First"] + ["Then"] * (len(steps) - 2) + ["Finally" if len(steps) > 2 else "Then"]
    return _solution([f"{w}, {s}." for w, s in zip(words, steps)], answer)


def _from_expression(prompt: str, expr: str, source: str, expected: str | None = None) -> MathProblem | None:
    got = expression_steps(expr)
    if got is None or (expected is not None and str(got[0]) != expected.strip()):
        return None
    return MathProblem(prompt, str(got[0]), _expr_solution(got[1], got[0]), source)


def _reasoning_gym() -> list[MathProblem]:
    try:
        import reasoning_gym
    except ImportError:  # fallback: the same shapes, procedurally
        return _fallback_expressions()
    out = []
    for name, kwargs in (("chain_sum", dict(size=1200, seed=11, min_terms=2, max_terms=3, min_digits=1, max_digits=2)),
                         ("basic_arithmetic", dict(size=3000, seed=12, min_terms=2, max_terms=3, min_digits=1,
                                                   max_digits=2, operators=("+", "-", "*", "/"),
                                                   allow_negation=False, format_style="natural"))):
        for item in reasoning_gym.create_dataset(name, **kwargs):
            p = _from_expression(item["question"], item["metadata"]["expression"], f"reasoning_gym/{name}", item["answer"])
            if p is not None:
                out.append(p)
    return out


def _fallback_expressions() -> list[MathProblem]:
    r, out = rng("math-fallback"), []
    for _ in range(1500):
        n = r.choice((2, 2, 3))
        terms = [str(r.randint(1, 99))] + [f"{r.choice('+-*/')} {r.randint(1, 12)}" for _ in range(n - 1)]
        expr = " ".join(terms)
        p = _from_expression(r.choice(("Calculate {}.", "What is {}?", "Evaluate: {}.")).format(expr), expr,
                             "procedural/expression")
        if p is not None:
            out.append(p)
    return out


def _expressions() -> list[MathProblem]:
    r, out = rng("math-expr"), []
    words = {"+": ("plus", "+"), "-": ("minus", "-"), "*": ("times", "*", "multiplied by"), "/": ("divided by", "/")}
    forms = ("What is {}?", "What is {}? Give the answer.", "Compute {}.", "Find the value of {}.", "How much is {}?")
    for _ in range(1200):
        op = r.choice("++--*/")
        if op == "+":
            a, b = r.randint(2, 99), r.randint(2, 99)
        elif op == "-":
            a = r.randint(10, 99)
            b = r.randint(1, a)
        elif op == "*":
            a, b = r.randint(2, 12), r.randint(2, 12)
        else:
            b = r.randint(2, 12)
            a = b * r.randint(2, 12)
        shown = f"{a} {r.choice(words[op])} {b}"
        p = _from_expression(r.choice(forms).format(shown), f"{a} {op} {b}", "procedural/expression")
        if p is not None:
            out.append(p)
    return out


# ----------------------------------------------------------------- easy tier
_EASY_FORMS = ("What is {a} {o} {b}?", "Compute {a} {o} {b}.", "How much is {a} {o} {b}?", "Find the value of {a} {o} {b}.")
_EASY_WORDS = {
    "+": ("{n} has {a} {it} and gets {b} more. How many {it} does {n} have now?", "{n} has {e} {it}."),
    "-": ("{n} has {a} {it} and gives away {b}. How many {it} does {n} have left?", "{n} has {e} {it} left."),
    "*": ("{n} has {a} {c} with {b} {it} in each. How many {it} does {n} have?", "{n} has {e} {it}."),
}


def _easy_operands(r, op: str) -> tuple[int, int]:
    if op == "-":
        a = r.randint(2, 18)
        return a, r.randint(1, min(a - 1, 9))
    return r.randint(1 if op == "+" else 2, 9), r.randint(1 if op == "+" else 2, 9)


def _easy() -> list[MathProblem]:
    r, out = rng("math-easy"), []
    for i in range(3000):
        op = r.choice("+-*")
        a, b = _easy_operands(r, op)
        c, e = _eq(a, op, b)
        if i % 3:
            ask, say = _EASY_WORDS[op]
            fill = {"n": r.choice(NAMES), "it": r.choice(ITEMS), "c": r.choice(CONTAINERS), "a": a, "b": b}
            out.append(MathProblem(ask.format(**fill), str(c), _solution([say.format(e=e, **fill)], c), "procedural/easy_word"))
        else:
            prompt = r.choice(_EASY_FORMS).format(a=a, o=op, b=b)
            out.append(MathProblem(prompt, str(c), _solution([e + "."], c), "procedural/easy_expression"))
    return out


# ----------------------------------------------------------------- word problems
NAMES = ("Tom", "Anna", "Liam", "Mia", "Noah", "Emma", "Omar", "Sara", "Ravi", "Lena", "Ben", "Zoe", "Kai", "Ava",
         "Leo", "Nina", "Sam", "Ella", "Max", "Ivy", "Jack", "Lucy", "Hugo", "Maya", "Finn", "Rosa", "Yuki", "Amir",
         "Chloe", "Pedro")
ITEMS = ("apples", "oranges", "pencils", "stickers", "marbles", "cookies", "books", "cards", "balloons", "eggs",
         "candies", "shells", "stamps", "toy cars", "beads", "crayons", "buttons", "coins", "flowers", "cupcakes")
CONTAINERS = ("bags", "boxes", "packs", "jars", "baskets")


def _eq(a: int, op: str, b: int) -> tuple[int, str]:
    c = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
    return c, f"{a} {op} {b} = {c}"


def _word_problem(r) -> tuple[str, list[str], int]:
    n, m = r.sample(NAMES, 2)
    it = r.choice(ITEMS)
    kind = r.randrange(12)
    if kind == 0:
        a, b = r.randint(2, 60), r.randint(2, 40)
        c, e = _eq(a, "+", b)
        return (f"{n} has {a} {it}. {n} buys {b} more. How many {it} does {n} have now?",
                [f"{n} starts with {a} {it} and buys {b} more, so {e}."], c)
    if kind == 1:
        a = r.randint(10, 80)
        b = r.randint(1, a - 1)
        c, e = _eq(a, "-", b)
        return (f"{n} has {a} {it} and gives {b} of them to {m}. How many {it} does {n} have left?",
                [f"{n} gives away {b} of {a} {it}, so {e}."], c)
    if kind == 2:
        a, b = r.randint(2, 12), r.randint(2, 12)
        box = r.choice(CONTAINERS)
        c, e = _eq(a, "*", b)
        return (f"{n} buys {a} {box} of {it}. Each of the {box} holds {b} {it}. How many {it} does {n} buy in total?",
                [f"{a} {box} with {b} {it} each make {e}."], c)
    if kind == 3:
        b, q = r.randint(2, 10), r.randint(2, 12)
        a = b * q
        c, e = _eq(a, "/", b)
        return (f"{n} shares {a} {it} equally among {b} friends. How many {it} does each friend get?",
                [f"Each friend gets {e}."], c)
    if kind == 4:
        a, b = r.randint(5, 50), r.randint(2, 30)
        s, e1 = _eq(a, "+", b)
        cc = r.randint(1, s - 1)
        c, e2 = _eq(s, "-", cc)
        return (f"{n} has {a} {it}, finds {b} more, and then loses {cc}. How many {it} does {n} have now?",
                [f"After finding more, {n} has {e1}.", f"After losing {cc}, {n} has {e2}."], c)
    if kind == 5:
        a, b = r.randint(2, 9), r.randint(2, 12)
        s, e1 = _eq(a, "*", b)
        cc = r.randint(1, s - 1)
        c, e2 = _eq(s, "-", cc)
        box = r.choice(CONTAINERS)
        return (f"{n} has {a} {box} with {b} {it} in each. {n} gives away {cc} {it}. How many {it} are left?",
                [f"In total there are {e1} {it}.", f"After giving away {cc}, {e2}."], c)
    if kind == 6:
        a, b, cc = r.randint(2, 12), r.randint(2, 10), r.randint(1, 20)
        s, e1 = _eq(a, "*", b)
        c, e2 = _eq(s, "+", cc)
        return (f"A hall has {a} rows of {b} chairs. Then {cc} more chairs are added. How many chairs are there now?",
                [f"The rows hold {e1} chairs.", f"With the extra chairs there are {e2}."], c)
    if kind == 7:
        a, b = r.randint(2, 9), r.randint(1, 9)
        s, e1 = _eq(a, "*", b)
        bill = r.choice([x for x in (5, 10, 20, 50, 100) if x > s])
        c, e2 = _eq(bill, "-", s)
        return (f"{n} buys {a} pens that cost {b} dollars each and pays with a {bill}-dollar bill. "
                f"How much change does {n} get?", [f"The pens cost {e1} dollars.", f"The change is {e2} dollars."], c)
    if kind == 8:
        a, b = r.randint(20, 90), r.randint(2, 9)
        c, e = _eq(a, "*", b)
        return (f"A train travels {a} km every hour. How far does it travel in {b} hours?",
                [f"It travels {e} km."], c)
    if kind == 9:
        a, b = r.randint(5, 40), r.randint(2, 30)
        c, e = _eq(a, "+", b)
        return (f"{n} is {a} years old. {m} is {b} years older than {n}. How old is {m}?",
                [f"{m} is {e} years old."], c)
    if kind == 10:
        a, b = r.randint(10, 90), r.randint(5, 90)
        if a < b:
            a, b = b, a
        if a == b:
            a += 1
        c, e = _eq(a, "-", b)
        return (f"{n} has {a} {it} and {m} has {b} {it}. How many more {it} does {n} have than {m}?",
                [f"The difference is {e}."], c)
    a, b = r.randint(2, 15), r.randint(2, 10)
    s, e1 = _eq(a, "*", b)
    cc = r.randint(1, s - 1)
    c, e2 = _eq(s, "-", cc)
    return (f"{n} saves {a} dollars every week for {b} weeks, then spends {cc} dollars on a gift. "
            f"How much money does {n} have left?", [f"{n} saves {e1} dollars.", f"After the gift, {n} has {e2} dollars."], c)


def _word_problems() -> list[MathProblem]:
    r = rng("math-word")
    out = []
    for _ in range(2400):
        prompt, lines, answer = _word_problem(r)
        out.append(MathProblem(prompt, str(answer), _solution(lines, answer), "procedural/word_problem"))
    return out


@lru_cache(maxsize=1)
def math_pool() -> tuple[MathProblem, ...]:
    seen, pool = set(), []
    for p in _reasoning_gym() + _expressions() + _word_problems() + _easy():
        if p.prompt not in seen:
            seen.add(p.prompt)
            pool.append(p)
    rng("math-pool").shuffle(pool)
    if len(pool) < N_TEST + N_TRAIN + N_EXTRA:
        raise RuntimeError(f"math pool too small: {len(pool)}")
    return tuple(pool)


def math_problems(split: str) -> tuple[MathProblem, ...]:
    """'test' (200), 'train' (2,000) or 'extra' (pretraining corpus only); disjoint by prompt."""
    pool = math_pool()
    return {"test": pool[:N_TEST], "train": pool[N_TEST:N_TEST + N_TRAIN],
            "extra": pool[N_TEST + N_TRAIN:N_TEST + N_TRAIN + N_EXTRA]}[split]


def build_math() -> dict[str, list[dict]]:
    return {s: [{"prompt": p.prompt, "answer": p.answer} for p in math_problems(s)] for s in ("train", "test")}
