"""Small Python function-writing tasks with `assert` unit tests (all synthetic, hand-written).

Two kinds, ~300 tasks in all:
- parameterised families ("Write a Python function add_7(x) that returns x plus 7."):
  templates x parameters; the expected test values come from an independent Python
  oracle (a lambda), not from the reference solution;
- single tasks (reverse a string, max of a list, is_prime, ...) whose test cases are
  written out by hand.

Every task has a correct reference solution and a plausible buggy one (used for reward-model
pairs); `tests/data/test_builtin_tasks.py` runs both against the tests. Train/test are
disjoint by task (function name): 60 tasks are held out at random, so many test tasks are new
parameters of a family seen in training (in-family generalisation) and some are unseen singles.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._common import split_groups

N_TEST = 60


@dataclass(frozen=True)
class CodeTask:
    entry_point: str
    prompt: str
    solution: str
    buggy: str
    tests: str
    family: str


def _function(name: str, args: str, body: str) -> str:
    lines = body.split("\n") if ("\n" in body or body.startswith("return ")) else [f"return {body}"]
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in lines)


def _task(family, name, args, desc, body, buggy, cases) -> CodeTask:
    tests = "\n".join(f"assert {name}({call}) == {expected}" for call, expected in cases)
    return CodeTask(name, f"Write a Python function {name}({args}) that {desc}.",
                    _function(name, args, body), _function(name, args, buggy), tests, family)


LETTERS = "abcdefghijklmnopqrstuvwxyz"
# name, args, description, body, buggy body, parameter values, oracle(k) -> f(*inputs), inputs(k)
FAMILIES = (
    ("add_{k}", "x", "returns x plus {k}", "x + {k}", "x + {k1}", range(1, 26),
     lambda k: lambda x: x + k, lambda k: [(0,), (5,), (-3,)]),
    ("times_{k}", "x", "returns x multiplied by {k}", "x * {k}", "x + {k}", range(2, 16),
     lambda k: lambda x: x * k, lambda k: [(0,), (3,), (-4,), (7,)]),
    ("subtract_{k}", "x", "returns x minus {k}", "x - {k}", "{k} - x", range(1, 16),
     lambda k: lambda x: x - k, lambda k: [(0,), (10,), (-2,)]),
    ("is_divisible_by_{k}", "n", "returns True if n is divisible by {k}, otherwise False", "n % {k} == 0",
     "n % {k} == 1", range(2, 14), lambda k: lambda n: n % k == 0,
     lambda k: [(0,), (k,), (k + 1,), (3 * k,), (2 * k - 1,)]),
    ("count_letter_{k}", "s", "returns how many times the letter '{k}' appears in the string s", "s.count('{k}')",
     "int('{k}' in s)", LETTERS, lambda k: lambda s: sum(ch == k for ch in s),
     lambda k: [("",), (f"{k}-{k}-{k}",), ("123",), (f"{k.upper()}{k}",)]),
    ("add_{k}_to_all", "nums", "takes a list of numbers and returns a new list with {k} added to each element",
     "[x + {k} for x in nums]", "[x + {k} for x in nums[1:]]", range(1, 11),
     lambda k: lambda nums: list(map(lambda x: x + k, nums)), lambda k: [([],), ([1, 2, 3],), ([-5],)]),
    ("count_greater_than_{k}", "nums", "returns how many numbers in the list nums are greater than {k}",
     "sum(1 for x in nums if x > {k})", "sum(1 for x in nums if x >= {k})", range(0, 11),
     lambda k: lambda nums: len([x for x in nums if x > k]), lambda k: [([],), ([k - 1, k, k + 1, k + 5],)]),
    ("filter_greater_than_{k}", "nums",
     "returns a list of the numbers in nums that are greater than {k}, in their original order",
     "[x for x in nums if x > {k}]", "[x for x in nums if x >= {k}]", range(0, 11),
     lambda k: lambda nums: list(filter(lambda x: x > k, nums)), lambda k: [([],), ([k + 3, k, k - 2, k + 1],)]),
    ("contains_{k}", "nums", "returns True if the list nums contains the number {k}, otherwise False",
     "{k} in nums", "{k} in nums[:-1]", range(1, 11),
     lambda k: lambda nums: any(x == k for x in nums), lambda k: [([],), ([k],), ([k + 1, k + 2],), ([0, k],)]),
    ("multiply_all_by_{k}", "nums", "returns a new list with every number in nums multiplied by {k}",
     "[x * {k} for x in nums]", "[x * {k1} for x in nums]", range(2, 11),
     lambda k: lambda nums: [k * x for x in nums], lambda k: [([],), ([1, 2, 3],), ([-4, 0],)]),
    ("power_{k}", "x", "returns x raised to the power {k}", "x ** {k}", "x * {k}", range(2, 7),
     lambda k: lambda x: pow(x, k), lambda k: [(0,), (1,), (3,), (-2,)]),
    ("remainder_{k}", "n", "returns the remainder when the non-negative integer n is divided by {k}", "n % {k}",
     "n // {k}", range(2, 13), lambda k: lambda n: n - k * (n // k), lambda k: [(0,), (k + 1,), (3 * k - 1,), (7,)]),
    ("is_greater_than_{k}", "x", "returns True if x is greater than {k}, otherwise False", "x > {k}", "x >= {k}",
     range(0, 21, 2), lambda k: lambda x: x - k > 0, lambda k: [(k - 1,), (k,), (k + 1,)]),
    ("repeat_{k}_times", "s", "takes a string s and returns it repeated {k} times", "s * {k}", "s * {k1}",
     range(2, 7), lambda k: lambda s: "".join([s] * k), lambda k: [("ab",), ("",), ("x",)]),
    ("first_{k}_chars", "s", "returns the first {k} characters of the string s (all of s if it is shorter)",
     "s[:{k}]", "s[{k}:]", range(1, 7), lambda k: lambda s: "".join(s[i] for i in range(min(k, len(s)))),
     lambda k: [("abcdefgh",), ("",), ("hi",)]),
    ("last_{k}_chars", "s", "returns the last {k} characters of the string s (all of s if it is shorter)",
     "s[-{k}:]", "s[:{k}]", range(1, 7), lambda k: lambda s: s[max(0, len(s) - k):],
     lambda k: [("abcdefgh",), ("",), ("hi",)]),
    ("starts_with_{k}", "s", "returns True if the string s starts with the letter '{k}', otherwise False",
     "s.startswith('{k}')", "'{k}' in s", "abcdefghijklmnoprstw",
     lambda k: lambda s: len(s) > 0 and s[0] == k, lambda k: [(f"{k}at",), (f"z{k}",), ("",)]),
    ("ends_with_{k}", "s", "returns True if the string s ends with the letter '{k}', otherwise False",
     "s.endswith('{k}')", "s.startswith('{k}')", "abcdefghijklmnoprstw",
     lambda k: lambda s: len(s) > 0 and s[-1] == k, lambda k: [(f"ta{k}",), (f"{k}z",), ("",)]),
)


def _family_tasks() -> list[CodeTask]:
    out = []
    for name, args, desc, body, buggy, params, oracle, inputs in FAMILIES:
        for k in params:
            fmt = dict(k=k, k1=k + 1 if isinstance(k, int) else k)
            f = oracle(k)
            cases = [(", ".join(map(repr, xs)), repr(f(*xs))) for xs in inputs(k)]
            out.append(_task(name, name.format(**fmt), args, desc.format(**fmt),
                             body.format(**fmt), buggy.format(**fmt), cases))
    return out


# name, args, description, body, buggy body, [(call arguments, expected)]
SINGLES = (
    ("sum_list", "nums", "returns the sum of the numbers in the list nums", "sum(nums)", "sum(nums[1:])",
     [("[1, 2, 3]", "6"), ("[]", "0"), ("[-4, 4, 10]", "10")]),
    ("max_list", "nums", "returns the largest number in the non-empty list nums", "max(nums)", "nums[-1]",
     [("[3, 9, 2]", "9"), ("[-5, -2, -8]", "-2"), ("[7]", "7")]),
    ("min_list", "nums", "returns the smallest number in the non-empty list nums", "min(nums)", "nums[0]",
     [("[3, 9, 2]", "2"), ("[-5, -2, -8]", "-8"), ("[7]", "7")]),
    ("product_list", "nums", "returns the product of the numbers in the list nums (1 for an empty list)",
     "result = 1\nfor x in nums:\n    result *= x\nreturn result",
     "result = 0\nfor x in nums:\n    result *= x\nreturn result",
     [("[2, 3, 4]", "24"), ("[]", "1"), ("[5, -1]", "-5")]),
    ("count_even", "nums", "returns how many even numbers are in the list nums",
     "sum(1 for x in nums if x % 2 == 0)", "sum(1 for x in nums if x % 2 == 1)",
     [("[1, 2, 3, 4]", "2"), ("[]", "0"), ("[0, 6, 7]", "2")]),
    ("count_odd", "nums", "returns how many odd numbers are in the list nums",
     "sum(1 for x in nums if x % 2 == 1)", "len(nums) // 2",
     [("[1, 2, 3, 4, 5]", "3"), ("[]", "0"), ("[2, 4]", "0")]),
    ("count_positive", "nums", "returns how many numbers in the list nums are greater than zero",
     "sum(1 for x in nums if x > 0)", "sum(1 for x in nums if x >= 0)",
     [("[1, -2, 0, 5]", "2"), ("[]", "0"), ("[-1, -3]", "0")]),
    ("count_negative", "nums", "returns how many numbers in the list nums are less than zero",
     "sum(1 for x in nums if x < 0)", "sum(1 for x in nums if x <= 0)",
     [("[1, -2, 0, -5]", "2"), ("[]", "0"), ("[4]", "0")]),
    ("first_element", "items", "returns the first element of the non-empty list items", "items[0]", "items[-1]",
     [("[4, 5, 6]", "4"), ("['a']", "'a'"), ("[0, 1]", "0")]),
    ("last_element", "items", "returns the last element of the non-empty list items", "items[-1]", "items[0]",
     [("[4, 5, 6]", "6"), ("['a']", "'a'"), ("[0, 1]", "1")]),
    ("sum_of_squares", "nums", "returns the sum of the squares of the numbers in the list nums",
     "sum(x * x for x in nums)", "sum(x * 2 for x in nums)", [("[1, 2, 3]", "14"), ("[]", "0"), ("[-2]", "4")]),
    ("list_range", "nums", "returns the difference between the largest and the smallest number in the non-empty list nums",
     "max(nums) - min(nums)", "max(nums) - nums[0]", [("[3, 9, 2]", "7"), ("[5]", "0"), ("[-1, 4]", "5")]),
    ("count_zeros", "nums", "returns how many zeros are in the list nums", "nums.count(0)", "int(0 in nums)",
     [("[0, 1, 0, 0]", "3"), ("[]", "0"), ("[5, 0]", "1")]),
    ("double_all", "nums", "returns a new list with every number in nums doubled", "[x * 2 for x in nums]",
     "[x ** 2 for x in nums]", [("[1, 2, 3]", "[2, 4, 6]"), ("[]", "[]"), ("[-4]", "[-8]")]),
    ("square_all", "nums", "returns a new list with the square of every number in nums", "[x * x for x in nums]",
     "[x * 2 for x in nums]", [("[1, 2, 3]", "[1, 4, 9]"), ("[]", "[]"), ("[-3]", "[9]")]),
    ("negate_all", "nums", "returns a new list with the sign of every number in nums flipped", "[-x for x in nums]",
     "[abs(x) for x in nums]", [("[1, -2, 0]", "[-1, 2, 0]"), ("[]", "[]"), ("[5]", "[-5]")]),
    ("filter_even", "nums", "returns a list of the even numbers in nums, in their original order",
     "[x for x in nums if x % 2 == 0]", "[x for x in nums if x % 2]",
     [("[1, 2, 3, 4]", "[2, 4]"), ("[]", "[]"), ("[7, 9]", "[]")]),
    ("filter_odd", "nums", "returns a list of the odd numbers in nums, in their original order",
     "[x for x in nums if x % 2 == 1]", "[x for x in nums if x % 2 == 0]",
     [("[1, 2, 3, 4]", "[1, 3]"), ("[]", "[]"), ("[2, 6]", "[]")]),
    ("filter_positive", "nums", "returns a list of the numbers in nums that are greater than zero, in order",
     "[x for x in nums if x > 0]", "[x for x in nums if x >= 0]",
     [("[3, -1, 0, 5]", "[3, 5]"), ("[]", "[]"), ("[-2]", "[]")]),
    ("reverse_list", "items", "returns a new list with the elements of items in reverse order", "items[::-1]",
     "sorted(items)", [("[1, 2, 3]", "[3, 2, 1]"), ("[]", "[]"), ("['b', 'a', 'c']", "['c', 'a', 'b']")]),
    ("sort_list", "nums", "returns a new list with the numbers in nums sorted from smallest to largest",
     "sorted(nums)", "sorted(nums, reverse=True)", [("[3, 1, 2]", "[1, 2, 3]"), ("[]", "[]"), ("[5, -1, 5]", "[-1, 5, 5]")]),
    ("sort_descending", "nums", "returns a new list with the numbers in nums sorted from largest to smallest",
     "sorted(nums, reverse=True)", "sorted(nums)", [("[3, 1, 2]", "[3, 2, 1]"), ("[]", "[]"), ("[0, 9]", "[9, 0]")]),
    ("remove_duplicates", "items",
     "returns a new list without duplicate elements, keeping the first occurrence of each in order",
     "result = []\nfor x in items:\n    if x not in result:\n        result.append(x)\nreturn result",
     "return sorted(set(items))", [("[3, 1, 3, 2, 1]", "[3, 1, 2]"), ("[]", "[]"), ("['a', 'a']", "['a']")]),
    ("running_total", "nums", "returns a list whose i-th element is the sum of nums[0] to nums[i]",
     "result, total = [], 0\nfor x in nums:\n    total += x\n    result.append(total)\nreturn result",
     "result, total = [], 0\nfor x in nums:\n    result.append(total)\n    total += x\nreturn result",
     [("[1, 2, 3]", "[1, 3, 6]"), ("[]", "[]"), ("[5, -5]", "[5, 0]")]),
    ("reverse_string", "s", "returns the string s reversed", "s[::-1]", "s",
     [("'abc'", "'cba'"), ("''", "''"), ("'racecar'", "'racecar'")]),
    ("to_upper", "s", "returns the string s in upper case", "s.upper()", "s.capitalize()",
     [("'hello'", "'HELLO'"), ("''", "''"), ("'aBc1'", "'ABC1'")]),
    ("to_lower", "s", "returns the string s in lower case", "s.lower()", "s.swapcase()",
     [("'HeLLo'", "'hello'"), ("''", "''"), ("'ABC'", "'abc'")]),
    ("count_vowels", "s", "returns how many vowels (a, e, i, o, u, in upper or lower case) are in the string s",
     "sum(1 for ch in s.lower() if ch in 'aeiou')", "sum(1 for ch in s if ch in 'aeiou')",
     [("'hello'", "2"), ("''", "0"), ("'AEIOU xyz'", "5")]),
    ("count_words", "s", "returns the number of words in the string s, where words are separated by whitespace",
     "len(s.split())", "s.count(' ') + 1", [("'the cat sat'", "3"), ("''", "0"), ("'  hello   world '", "2")]),
    ("is_palindrome", "s", "returns True if the string s reads the same forwards and backwards, otherwise False",
     "s == s[::-1]", "s[0] == s[-1]", [("'racecar'", "True"), ("'abca'", "False"), ("'x'", "True")]),
    ("remove_spaces", "s", "returns the string s with all spaces removed", "s.replace(' ', '')", "s.strip()",
     [("'a b c'", "'abc'"), ("''", "''"), ("' hi there '", "'hithere'")]),
    ("first_char", "s", "returns the first character of the non-empty string s", "s[0]", "s[-1]",
     [("'hello'", "'h'"), ("'x'", "'x'"), ("'ab'", "'a'")]),
    ("last_char", "s", "returns the last character of the non-empty string s", "s[-1]", "s[0]",
     [("'hello'", "'o'"), ("'x'", "'x'"), ("'ab'", "'b'")]),
    ("capitalize_first", "s", "returns s with its first character in upper case and the rest unchanged",
     "s[:1].upper() + s[1:]", "s.capitalize()", [("'hello World'", "'Hello World'"), ("''", "''"), ("'a'", "'A'")]),
    ("string_length", "s", "returns the number of characters in the string s", "len(s)", "len(s.strip())",
     [("'hello'", "5"), ("''", "0"), ("' a '", "3")]),
    ("swap_case", "s", "returns s with upper-case letters made lower case and lower-case letters made upper case",
     "s.swapcase()", "s.upper()", [("'Hello'", "'hELLO'"), ("''", "''"), ("'ABc'", "'abC'")]),
    ("first_word", "s", "returns the first word of the string s, or '' if s has no words",
     "s.split()[0] if s.split() else ''", "s.split()[-1] if s.split() else ''",
     [("'good morning all'", "'good'"), ("''", "''"), ("'one'", "'one'")]),
    ("last_word", "s", "returns the last word of the string s, or '' if s has no words",
     "s.split()[-1] if s.split() else ''", "s.split()[0] if s.split() else ''",
     [("'good morning all'", "'all'"), ("''", "''"), ("'one'", "'one'")]),
    ("join_with_dash", "words", "takes a list of strings and returns them joined with '-' between them",
     "'-'.join(words)", "'-'.join(words) + '-'", [("['a', 'b', 'c']", "'a-b-c'"), ("[]", "''"), ("['x']", "'x'")]),
    ("count_uppercase", "s", "returns how many upper-case letters are in the string s",
     "sum(1 for ch in s if ch.isupper())", "sum(1 for ch in s if ch.islower())",
     [("'Hello World'", "2"), ("''", "0"), ("'ABC'", "3")]),
    ("is_all_digits", "s", "returns True if s is not empty and contains only the digits 0-9, otherwise False",
     "s != '' and all(ch in '0123456789' for ch in s)", "all(ch in '0123456789' for ch in s)",
     [("'12345'", "True"), ("''", "False"), ("'12a'", "False")]),
    ("repeat_string", "s, n", "returns the string s repeated n times", "s * n", "s * (n - 1)",
     [("'ab', 3", "'ababab'"), ("'x', 0", "''"), ("'', 5", "''")]),
    ("is_even", "n", "returns True if n is even, otherwise False", "n % 2 == 0", "n % 2 == 1",
     [("4", "True"), ("7", "False"), ("0", "True")]),
    ("is_odd", "n", "returns True if n is odd, otherwise False", "n % 2 == 1", "n % 2 == 0",
     [("3", "True"), ("8", "False"), ("-1", "True")]),
    ("absolute_value", "x", "returns the absolute value of x", "x if x >= 0 else -x", "-x",
     [("5", "5"), ("-3", "3"), ("0", "0")]),
    ("square", "x", "returns the square of x", "x * x", "x * 2", [("3", "9"), ("0", "0"), ("-4", "16")]),
    ("cube", "x", "returns the cube of x", "x ** 3", "x * 3", [("2", "8"), ("-3", "-27"), ("0", "0")]),
    ("factorial", "n", "returns n factorial (1 * 2 * ... * n), where factorial(0) is 1",
     "result = 1\nfor i in range(2, n + 1):\n    result *= i\nreturn result",
     "result = 1\nfor i in range(2, n):\n    result *= i\nreturn result", [("0", "1"), ("5", "120"), ("1", "1")]),
    ("fibonacci", "n", "returns the n-th Fibonacci number, where fibonacci(0) is 0 and fibonacci(1) is 1",
     "a, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nreturn a",
     "a, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nreturn b", [("0", "0"), ("1", "1"), ("10", "55")]),
    ("is_prime", "n", "returns True if n is a prime number, otherwise False",
     "if n < 2:\n    return False\nfor d in range(2, int(n ** 0.5) + 1):\n    if n % d == 0:\n        return False\nreturn True",
     "if n < 2:\n    return False\nfor d in range(2, n // 2):\n    if n % d == 0:\n        return False\nreturn True",
     [("2", "True"), ("15", "False"), ("4", "False"), ("13", "True"), ("1", "False")]),
    ("sum_to_n", "n", "returns the sum 1 + 2 + ... + n for a non-negative integer n", "n * (n + 1) // 2",
     "n * (n - 1) // 2", [("0", "0"), ("4", "10"), ("100", "5050")]),
    ("digit_sum", "n", "returns the sum of the decimal digits of the non-negative integer n",
     "sum(int(d) for d in str(n))", "len(str(n))", [("123", "6"), ("0", "0"), ("9999", "36")]),
    ("count_digits", "n", "returns how many decimal digits the non-negative integer n has", "len(str(n))",
     "len(str(n)) - 1", [("0", "1"), ("12345", "5"), ("7", "1")]),
    ("max_of_two", "a, b", "returns the larger of a and b", "a if a > b else b", "a if a < b else b",
     [("3, 7", "7"), ("-1, -5", "-1"), ("4, 4", "4")]),
    ("min_of_three", "a, b, c", "returns the smallest of a, b and c", "min(a, b, c)", "min(a, b)",
     [("3, 1, 2", "1"), ("5, 6, -7", "-7"), ("0, 0, 0", "0")]),
    ("sign", "x", "returns 1 if x is positive, -1 if x is negative and 0 if x is zero",
     "if x > 0:\n    return 1\nif x < 0:\n    return -1\nreturn 0", "return 1 if x > 0 else -1",
     [("5", "1"), ("-2", "-1"), ("0", "0")]),
    ("is_leap_year", "year", "returns True if year is a leap year in the Gregorian calendar, otherwise False",
     "year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)", "year % 4 == 0",
     [("2024", "True"), ("1900", "False"), ("2000", "True"), ("2023", "False")]),
    ("celsius_to_fahrenheit", "c", "converts a temperature c from Celsius to Fahrenheit (F = C * 9 / 5 + 32)",
     "c * 9 / 5 + 32", "c * 5 / 9 + 32", [("0", "32"), ("100", "212"), ("-40", "-40")]),
    ("gcd", "a, b", "returns the greatest common divisor of the positive integers a and b",
     "while b:\n    a, b = b, a % b\nreturn a", "return min(a, b)", [("12, 18", "6"), ("7, 5", "1"), ("10, 5", "5")]),
    ("power", "base, exp", "returns base raised to the power exp, for a non-negative integer exp", "base ** exp",
     "base * exp", [("2, 10", "1024"), ("5, 0", "1"), ("3, 2", "9")]),
    ("is_positive", "x", "returns True if x is greater than zero, otherwise False", "x > 0", "x >= 0",
     [("5", "True"), ("0", "False"), ("-3", "False")]),
    ("last_digit", "n", "returns the last decimal digit of the non-negative integer n", "n % 10", "n // 10",
     [("123", "3"), ("7", "7"), ("40", "0")]),
    ("average", "nums", "returns the average (mean) of the non-empty list nums", "sum(nums) / len(nums)",
     "sum(nums) // 2", [("[2, 4, 6]", "4"), ("[5]", "5"), ("[1, 2]", "1.5")]),
    ("is_sorted", "nums", "returns True if the list nums is sorted from smallest to largest, otherwise False",
     "all(nums[i] <= nums[i + 1] for i in range(len(nums) - 1))", "len(nums) < 2 or nums[0] <= nums[-1]",
     [("[1, 2, 2, 5]", "True"), ("[3, 1, 4]", "False"), ("[]", "True")]),
    ("count_occurrences", "items, x", "returns how many times x appears in the list items", "items.count(x)",
     "int(x in items)", [("[1, 2, 1, 1], 1", "3"), ("[], 5", "0"), ("['a', 'b'], 'b'", "1")]),
    ("index_of", "items, x", "returns the index of the first occurrence of x in the list items, or -1 if x is not in it",
     "items.index(x) if x in items else -1", "items.index(x) if x in items else 0",
     [("[4, 5, 6], 5", "1"), ("[4, 5, 6], 9", "-1"), ("[7, 7], 7", "0")]),
    ("merge_lists", "a, b", "returns a new list with the elements of a followed by the elements of b", "a + b", "b + a",
     [("[1, 2], [3]", "[1, 2, 3]"), ("[], []", "[]"), ("['x'], []", "['x']")]),
)


@lru_cache(maxsize=1)
def all_code_tasks() -> tuple[CodeTask, ...]:
    tasks = _family_tasks() + [_task(name, name, *rest) for name, *rest in SINGLES]
    names = [t.entry_point for t in tasks]
    assert len(names) == len(set(names)), "duplicate task names"
    return tuple(tasks)


@lru_cache(maxsize=1)
def code_splits() -> dict[str, tuple[CodeTask, ...]]:
    train, test = split_groups(list(all_code_tasks()), lambda t: t.entry_point, N_TEST, "code-split")
    return {"train": tuple(train), "test": tuple(test)}


def code_answer(task: CodeTask, buggy: bool = False) -> str:
    """The assistant reply for a task: its solution in a fenced python block."""
    return f"```python\n{task.buggy if buggy else task.solution}```"


def build_code() -> dict[str, list[dict]]:
    return {s: [{"prompt": t.prompt, "tests": t.tests, "entry_point": t.entry_point} for t in ts]
            for s, ts in code_splits().items()}
