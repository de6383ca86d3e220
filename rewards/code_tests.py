"""`code_tests`: reward code by compiling it and running its unit tests in the sandbox.

DeepSeek-V2 rewards code in its first RL stage by "compiler feedback and unit tests".
Here: extract the program (the last fenced Python block, else the last fenced block,
else the whole completion), prepend the optional `code_prefix` column (HumanEval: the
prompt, so a completion that is only a function body works), compile it inside the
sandbox (a syntax error scores 0 and its message is kept), run every test unit on its
own and reward the fraction that passed (``all_or_nothing=True``: 1.0 only if all did).

The reward counts only units the in-sandbox harness reported *after running them* (see
`rewards/_harness.py`); the exit status is never used, so a program that exits early,
crashes or prints "OK" gets nothing for the units it skipped. Rows whose tests are
missing or do not parse get ``None`` ("no opinion": it is the dataset's fault, not the
model's). Failure of the sandbox itself raises, so the guard counts and logs it.

Columns: ``tests`` (Python test code with asserts, or HumanEval's ``def check(candidate)``),
optional ``entry_point`` and ``code_prefix``. Arguments (recipe ``kwargs``): ``all_or_nothing``,
``unit_timeout_s`` (wall time of one unit, default 5 s) and ``sandbox`` (a ``SandboxConfig``
or a mapping such as ``{wall_s: 10, memory_bytes: 536870912, max_workers: 4}``).
A batch runs in parallel on the shared sandbox for that configuration.

Departure from TRL: TRL has no code reward; details per sample go to TRL's ``log_extra``
when the trainer passes it.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence

from . import _harness
from ._text import completion_text
from .registry import register
from .sandbox import RunResult, SandboxConfig, get_sandbox

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PY_TAGS = {"python", "py", "python3", "py3"}


@dataclasses.dataclass
class CodeResult:
    passed: int
    total: int
    compile_error: str | None = None
    load_error: str | None = None
    timed_out: bool = False
    output_tail: str = ""
    note: str | None = None  # why the row has no reward (tests missing/invalid)

    def reward(self, all_or_nothing: bool = False) -> float | None:
        if self.note is not None or self.total <= 0:
            return None
        if self.compile_error is not None:
            return 0.0
        if all_or_nothing:
            return 1.0 if self.passed == self.total else 0.0
        return self.passed / self.total


def extract_code(text: str) -> str:
    """The last ```python block, else the last fenced block, else the whole text."""
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    python = [body for tag, body in blocks if tag in _PY_TAGS]
    if python:
        return python[-1]
    plain = [body for tag, body in blocks if not tag]
    if plain:
        return plain[-1]
    return blocks[-1][1] if blocks else text


def _result(run: RunResult, total: int) -> CodeResult:
    passed, seen = 0, set()
    out = CodeResult(passed=0, total=total, timed_out=run.timed_out, output_tail=run.output[-2000:])
    for msg in run.reports:
        if "compile_error" in msg:
            out.compile_error = str(msg["compile_error"])
        elif "load_error" in msg:
            out.load_error = str(msg["load_error"])
        elif "tests_error" in msg:
            out.note = f"tests do not parse: {msg['tests_error']}"
        elif isinstance(msg.get("unit"), int) and 0 <= msg["unit"] < total and msg["unit"] not in seen:
            seen.add(msg["unit"])
            passed += msg.get("ok") is True
    out.passed = passed
    return out


def run_code_tests(
    programs: Sequence[str],
    tests: Sequence[str | None],
    entry_points: Sequence[str | None] | None = None,
    unit_timeout_s: float = 5.0,
    sandbox: SandboxConfig | dict | None = None,
) -> list[CodeResult]:
    """Run each program against its tests in the sandbox, in parallel; one CodeResult each."""
    entry_points = entry_points or [None] * len(programs)
    box = get_sandbox(sandbox)
    results: list[CodeResult | None] = [None] * len(programs)
    jobs, where = [], []
    for i, (program, test, entry) in enumerate(zip(programs, tests, entry_points, strict=True)):
        total = _harness.count_units(test or "", entry)
        if not test or total <= 0:
            results[i] = CodeResult(0, max(total, 0), note="no tests" if total == 0 or not test else "tests do not parse")
            continue
        jobs.append({"mode": "tests", "code": program, "tests": test, "entry_point": entry, "unit_timeout_s": unit_timeout_s})
        where.append((i, total))
    for (i, total), run in zip(where, box.map(jobs)):
        results[i] = _result(run, total)
    return results  # type: ignore[return-value]


@register("code_tests")
def code_tests(
    prompts: Sequence | None = None,
    completions: Sequence = (),
    tests: Sequence[str | None] = (),
    entry_point: Sequence[str | None] | None = None,
    code_prefix: Sequence[str | None] | None = None,
    all_or_nothing: bool = False,
    unit_timeout_s: float = 5.0,
    sandbox: SandboxConfig | dict | None = None,
    log_extra: Callable[[str, list], None] | None = None,
    **_: object,
) -> list[float | None]:
    """Pass fraction (or all-or-nothing) of each completion's unit tests, run in the sandbox."""
    n = len(completions)
    if len(tests) != n:
        raise ValueError(f"code_tests: {n} completions but {len(tests)} rows in column 'tests'")
    prefixes = code_prefix or [None] * n
    programs = [(p or "") + extract_code(completion_text(c)) for p, c in zip(prefixes, completions, strict=True)]
    results = run_code_tests(programs, tests, entry_point, unit_timeout_s, sandbox)
    for r in results:
        if r.compile_error:
            logger.info("code_tests: compile error: %s", r.compile_error)
    if log_extra is not None:
        log_extra("tests_passed", [f"{r.passed}/{r.total}" for r in results])
        log_extra("compile_error", [r.compile_error or "" for r in results])
    return [r.reward(all_or_nothing) for r in results]


code_tests.default_timeout_s = 900.0  # the guard's limit for a whole batch (see rewards/spec.py)


