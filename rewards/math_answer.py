"""`math_answer`: 1.0 when the completion's final answer equals the ground truth, else 0.0.

DeepSeek-V2 rewards math "by the ground-truth label". Here:

1. Extract the final answer: the content of the last ``\\boxed{...}`` (nested braces
   allowed) or the text after the last ``####``, whichever comes later. No answer: 0.0
   (``fallback_last_number=True`` takes the last number in the text instead; off by default
   because it rewards lucky numbers in the reasoning).
2. The ground truth (column ``answer``) may be a bare answer or a GSM8K solution
   ("... #### 72"); an empty one gives ``None`` (no opinion).
3. Compare as exact numbers first (``fractions.Fraction``: ``1,000``, ``$18.00``, ``18 dollars``,
   ``50%``, ``3/4``, ``\\frac{3}{4}``, ``-0.5``): no process is spawned for this common case.
4. Otherwise translate both from LaTeX to sympy syntax, refuse anything outside a small
   whitelist of tokens (model output must never reach ``eval`` unchecked), and test
   symbolic equivalence in a separate worker process that is killed at ``sympy_timeout_s``
   (a ``signal.alarm`` in a worker thread never fires; a process always dies). A timeout
   scores 0.0 and is counted in ``STATS``.
5. Answers that are neither numbers nor expressions (e.g. "Tuesday") are compared as
   normalised strings.

Departure from TRL's ``accuracy_reward``: no ``math_verify``/``latex2sympy`` dependency
(only sympy), GSM8K ``####`` answers are understood, and the time limit is a process kill.
A percent sign is dropped ("50%" equals 50, not 0.5), as GSM8K answers are in the unit asked.
"""
from __future__ import annotations

import collections
import logging
import re
from collections.abc import Callable, Sequence

from ._latex import braced, clean, split_top, to_number, to_sympy_syntax
from ._sympy_worker import SympyPool
from ._text import completion_text
from .registry import register

logger = logging.getLogger(__name__)
STATS: collections.Counter = collections.Counter()  # "numeric", "symbolic", "timeouts", "string", ...

# ----------------------------------------------------------------------------- extraction


def last_boxed(text: str) -> tuple[str, int] | None:
    """(content, position) of the last \\boxed{...} / \\fbox{...} (or ``\\boxed 5``)."""
    for m in reversed(list(re.finditer(r"\\(?:boxed|fbox)\b\s*", text))):
        end = m.end()
        if text[end:end + 1] == "{":
            group = braced(text, end)
            if group is not None:
                return group[0].strip(), m.start()
        else:
            token = re.match(r"[^\s$]+", text[end:])
            if token:
                return token.group(0), m.start()
    return None


def extract_answer(text: str, fallback_last_number: bool = False) -> str | None:
    """The final answer of a completion, or None when it states none."""
    boxed = last_boxed(text)
    hashes = text.rfind("####")
    if hashes >= 0 and (boxed is None or hashes > boxed[1]):
        lines = [line.strip() for line in text[hashes + 4:].splitlines() if line.strip()]
        if lines:
            return lines[0]
    if boxed is not None:
        return boxed[0]
    if fallback_last_number:
        numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
        return numbers[-1] if numbers else None
    return None


def gold_answer(answer: str) -> str:
    """Ground truth from a bare answer, a GSM8K solution ("... #### 72") or a boxed solution."""
    answer = str(answer)
    if "####" in answer:
        return answer.rsplit("####", 1)[1].strip()
    boxed = last_boxed(answer)
    return boxed[0] if boxed else answer.strip()


# ----------------------------------------------------------------------------- comparison

_POOL = SympyPool()


def _symbolic_equal(pred: str, gold: str, timeout_s: float) -> bool:
    a, b = to_sympy_syntax(pred), to_sympy_syntax(gold)
    if a is None or b is None:
        return False
    pa, pb = split_top(a), split_top(b)
    if len(pa) != len(pb):
        return False
    for x, y in zip(pa, pb):
        result = _POOL.equal(x, y, timeout_s)
        if result is None:
            STATS["timeouts"] += 1
            logger.warning("math_answer: symbolic check of %r against %r gave no answer within %s s; scored 0",
                           x[:80], y[:80], timeout_s)
            return False
        if not result:
            return False
    return True


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", clean(text)).lower()


def answers_match(pred: str, gold: str, sympy_timeout_s: float = 5.0) -> bool:
    """Do a predicted answer and a ground-truth answer (both already extracted) agree?"""
    x, y = to_number(pred), to_number(gold)
    if x is not None and y is not None:
        STATS["numeric"] += 1
        return x == y
    if _plain(pred) == _plain(gold):
        STATS["string"] += 1
        return True
    if to_sympy_syntax(gold) is None:
        STATS["string"] += 1
        return False
    STATS["symbolic"] += 1
    return _symbolic_equal(pred, gold, sympy_timeout_s)


@register("math_answer")
def math_answer(
    prompts: Sequence | None = None,
    completions: Sequence = (),
    answer: Sequence[str | None] = (),
    sympy_timeout_s: float = 5.0,
    fallback_last_number: bool = False,
    log_extra: Callable[[str, list], None] | None = None,
    **_: object,
) -> list[float | None]:
    """1.0 if the final answer matches column `answer` (number or expression), 0.0 if not, None if no truth."""
    if len(answer) != len(completions):
        raise ValueError(f"math_answer: {len(completions)} completions but {len(answer)} rows in column 'answer'")
    rewards, extracted = [], []
    for completion, truth in zip(completions, answer):
        gold = gold_answer(truth) if truth is not None else ""
        pred = extract_answer(completion_text(completion), fallback_last_number)
        extracted.append(pred or "")
        if not gold:
            rewards.append(None)
        elif pred is None:
            rewards.append(0.0)
        else:
            rewards.append(1.0 if answers_match(pred, gold, sympy_timeout_s) else 0.0)
    if log_extra is not None:
        log_extra("extracted_answer", extracted)
    return rewards
