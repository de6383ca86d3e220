"""Answer normalisation for `math_answer`: exact numbers, and LaTeX -> whitelisted sympy syntax.

``to_number`` reads plain numeric answers exactly (``fractions.Fraction``): thousands
separators, currency, units, percent, ``a/b``, ``\\frac{a}{b}``. ``to_sympy_syntax``
rewrites LaTeX (``\\frac``, ``\\sqrt``, ``\\cdot``, ``^``, ``\\pi`` ...) into sympy syntax and
accepts the result only if every token is a number, an operator, a bracket, a single-letter
variable or one of a few function names: model output reaches sympy's ``parse_expr``
(which calls ``eval``) only through this whitelist.
"""
from __future__ import annotations

import re
from fractions import Fraction


def braced(text: str, open_at: int) -> tuple[str, int] | None:
    """Content of the brace group opening at text[open_at] == '{', and the index after it."""
    depth = 0
    for i in range(open_at, len(text)):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            continue
        if c == "{" and text[i - 1:i] != "\\":
            depth += 1
        elif c == "}" and text[i - 1:i] != "\\":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
    return None


_UNWRAP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DROP = [r"\\(?:left|right)(?![a-zA-Z])", r"\\[!,;: ]", r"\\displaystyle", r"\\\$", r"\$", r"\\[()\[\]]",
         r"\^\s*\{?\\circ\}?", "°", r"\\%", "%", r"\{,\}"]
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


def clean(text: str) -> str:
    t = _UNWRAP.sub(r" \1 ", str(text))
    for pattern in _DROP:
        t = re.sub(pattern, "", t)
    t = re.sub(r"\\[dt]frac", r"\\frac", t)
    t = re.sub(r"^\s*[A-Za-z]\s*=\s*(?=\S)", "", t)  # "x = 5" -> "5"
    return t.strip().rstrip(".").strip()


def _strip_unit(t: str) -> str:
    m = re.fullmatch(rf"({_NUMBER}|[-+]?\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?)(\s*)([A-Za-z][A-Za-z .]*)", t)
    if m and (m.group(2) or len(m.group(3).strip()) >= 2):
        return m.group(1)
    return t


def to_number(text: str) -> Fraction | None:
    """Exact value of a plain numeric answer, or None when it is not one."""
    t = _strip_unit(clean(text))
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        t = t.replace(",", "")
    frac = re.fullmatch(r"([-+]?)\\frac\s*\{\s*([^{}]+?)\s*\}\s*\{\s*([^{}]+?)\s*\}", t) or \
        re.fullmatch(r"([-+]?)\\frac(\d)(\d)", t)
    try:
        if frac:
            value = Fraction(frac.group(2).replace(" ", "")) / Fraction(frac.group(3).replace(" ", ""))
            return -value if frac.group(1) == "-" else value
        if re.fullmatch(rf"{_NUMBER}(?:\s*/\s*{_NUMBER})?", t):
            return Fraction(t.replace(" ", ""))
    except (ValueError, ZeroDivisionError):
        return None
    return None


_COMMANDS = {r"\cdot": "*", r"\times": "*", r"\div": "/", r"\pi": " pi ", r"\infty": " oo ", r"\ln": " log ",
             r"\log": " log ", r"\exp": " exp ", r"\sin": " sin ", r"\cos": " cos ", r"\tan": " tan "}
_ALLOWED_NAMES = {"sqrt", "root", "pi", "oo", "E", "I", "sin", "cos", "tan", "log", "exp", "Abs"}
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/(),]))")
_MAX_EXPR = 400


def _replace_command(t: str, command: str, arity: int, template: str) -> str | None:
    """Rewrite ``\\command{a}{b}`` groups (nested) with `template`.format(*args)."""
    while True:
        m = re.search(re.escape(command) + r"(?![a-zA-Z])\s*", t)
        if not m:
            return t
        pos, args = m.end(), []
        for _ in range(arity):
            while t[pos:pos + 1] == " ":
                pos += 1
            if t[pos:pos + 1] == "{":
                group = braced(t, pos)
                if group is None:
                    return None
                args.append(group[0])
                pos = group[1]
            elif pos < len(t) and (t[pos].isalnum()):
                args.append(t[pos])
                pos += 1
            else:
                return None
        t = t[:m.start()] + template.format(*args) + t[pos:]


def to_sympy_syntax(text: str) -> str | None:
    """A whitelisted sympy-parsable string for a LaTeX/plain answer, or None."""
    t = clean(text)
    if len(t) > _MAX_EXPR:
        return None
    t = re.sub(r"\\sqrt\s*\[([^\[\]]+)\]\s*\{", r"\\nroot{\1}{", t)
    for command, arity, template in ((r"\frac", 2, "(({0})/({1}))"), (r"\nroot", 2, "root(({1}),({0}))"),
                                     (r"\sqrt", 1, "sqrt({0})")):
        t = _replace_command(t, command, arity, template)
        if t is None:
            return None
    for command, repl in sorted(_COMMANDS.items(), key=lambda kv: -len(kv[0])):
        t = re.sub(re.escape(command) + r"(?![a-zA-Z])", repl, t)
    t = t.replace("^", "**").replace("{", "(").replace("}", ")")
    if "=" in t:
        t = t.rsplit("=", 1)[1]
    return t if _whitelisted(t) else None


def _whitelisted(t: str) -> bool:
    pos, depth = 0, 0
    while pos < len(t.rstrip()):
        m = _TOKEN.match(t, pos)
        if not m:
            return False
        name, op = m.group(2), m.group(3)
        if name and not (name in _ALLOWED_NAMES or (len(name) == 1 and name.isalpha())):
            return False
        depth += (op == "(") - (op == ")")
        if depth < 0:
            return False
        pos = m.end()
    return depth == 0 and pos > 0


def split_top(t: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(t):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            parts.append(t[start:i])
            start = i + 1
    return parts + [t[start:]]
