"""In-sandbox harness: runs untrusted code and its unit tests, reports each result on its own.

This file is copied into every sandbox and run there as a script by a trusted
interpreter; the caller also imports it (standard library only, no `rewards`
import) so that both sides split a test file into the same units.

Protocol. The caller writes one ``marshal``-ed dict on stdin: ``{"nonce", "mode",
"code", "tests", "entry_point", "unit_timeout_s", "limits", "sys_path"}``. The
harness reads it whole and closes stdin *before* any untrusted code runs, so the
tests and the nonce are never in a file the code could open. Results go, one dict
literal a line prefixed by the nonce, to the file descriptor named on the command
line (a pipe opened by the caller, which parses them with ``ast.literal_eval``),
never to stdout: printing "passed" proves nothing.
A unit counts as passed only when the harness wrote its line after the unit
ran. So a program that exits early (``sys.exit``, ``os._exit``, a signal, a
crash) leaves its remaining units unreported, and they score 0.

Units. A top-level ``assert`` (or a loop/with/if/try holding an assert, or an
explicit ``check(...)`` call) is one unit; other top-level statements (imports,
helper functions, constants) are setup, run in order. With an ``entry_point``
and a ``check`` function defined by the tests (HumanEval), ``check(entry_point)``
is one more unit.

Start-up cost matters (a run per completion): this file imports only built-in C
modules (``_ast``, ``_signal``, ``marshal``, ``resource``), not ``ast``/``json``/``signal``,
which would pull in ``enum``, ``re`` and friends (~15 ms); the sandbox starts Python with
``-S`` and the harness adds the configured ``sys_path`` (site-packages) itself.

Limits. Resource limits are applied here, by trusted code, before the program
is compiled: CPU seconds, address space, processes, open files, file size, no
core dumps. Each unit also has a wall-clock timer (SIGALRM in the main thread);
the caller's kill is the backstop when the program blocks the timer.

Known limit (by design of any in-process test runner): the program shares this
interpreter, so a program that introspects the harness's frames or patches
builtins/``__eq__`` can forge passes. The sandbox protects the machine; it does
not make a deliberately adversarial program unable to game its own reward.
"""
from __future__ import annotations

import _ast
import _signal
import builtins
import marshal
import os
import resource
import sys

SOLUTION_NAME = "__solution__"
# Bound before any untrusted code runs: patching builtins, os or signal later does not
# reach the harness's own exec, writes and timers. (A program can still forge results through
# frame introspection; see the module docstring.)
_exec, _write, _repr, _setitimer = builtins.exec, os.write, builtins.repr, _signal.setitimer
_ITIMER_REAL = _signal.ITIMER_REAL
_DEFS = (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)


class UnitTimeout(BaseException):
    """Raised in the main thread when a unit runs past its wall-clock budget."""


def _parse(source: str):
    return compile(source, "<tests>", "exec", _ast.PyCF_ONLY_AST)


def _children(node):
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, _ast.AST):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, _ast.AST))


def _has_assert(node) -> bool:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, _ast.Assert):
            return True
        if not isinstance(cur, _DEFS + (_ast.Lambda,)):
            stack.extend(_children(cur))
    return False


def _is_check_call(stmt) -> bool:
    call = getattr(stmt, "value", None) if isinstance(stmt, _ast.Expr) else None
    return isinstance(call, _ast.Call) and isinstance(call.func, _ast.Name) and call.func.id == "check"


def plan(tests: str, entry_point: str | None) -> list:
    """Split test code into ordered ("setup" | "unit", module AST) steps. Raises SyntaxError."""
    steps = []
    defines_check = explicit_check = False
    for stmt in _parse(tests or "").body:
        if isinstance(stmt, _DEFS):
            defines_check |= stmt.name == "check"
            kind = "setup"
        elif _is_check_call(stmt):
            explicit_check, kind = True, "unit"
        else:
            kind = "unit" if _has_assert(stmt) else "setup"
        steps.append((kind, _ast.Module(body=[stmt], type_ignores=[])))
    if entry_point and defines_check and not explicit_check:
        if not entry_point.isidentifier():
            raise SyntaxError(f"entry_point {entry_point!r} is not an identifier")
        steps.append(("unit", _parse(f"check({entry_point})")))
    return steps


def count_units(tests: str, entry_point: str | None) -> int:
    """Number of test units, or -1 when the tests do not parse."""
    try:
        return sum(kind == "unit" for kind, _ in plan(tests, entry_point))
    except (SyntaxError, ValueError):
        return -1


def apply_limits(limits: dict) -> None:
    """Lower this process's rlimits (inherited by every child it starts)."""
    table = {
        "cpu_s": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "nproc": resource.RLIMIT_NPROC,
        "nofile": resource.RLIMIT_NOFILE,
        "fsize_bytes": resource.RLIMIT_FSIZE,
    }
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, which in table.items():
        value = limits.get(key)
        if value is None:
            continue
        soft = int(value)
        hard = soft + 1 if key == "cpu_s" else soft  # SIGXCPU first, SIGKILL one second later
        resource.setrlimit(which, (soft, hard))


class Reporter:
    """Writes nonce-tagged dict literals, one a line, to the result descriptor; never raises."""

    def __init__(self, fd: int, nonce: str):
        self._fd, self._nonce = fd, nonce

    def __call__(self, **msg) -> None:
        line = (self._nonce + " " + _repr(msg).replace("\n", "\\n") + "\n").encode()
        try:
            while line:
                line = line[_write(self._fd, line):]
        except OSError:
            pass


def _short(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # an exception whose __str__ fails (the program's own class)
        text = "unprintable exception"
    return text if len(text) <= 300 else text[:297] + "..."


def _on_alarm(signum, frame):
    raise UnitTimeout()


def _run_step(code, namespace: dict, timeout_s: float) -> str | None:
    """Exec one compiled step under a wall timer; return None on success, else the error."""
    _setitimer(_ITIMER_REAL, max(timeout_s, 0.001))
    try:
        _exec(code, namespace)
        return None
    except UnitTimeout:
        return "timeout"
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the unit failed
        return _short(exc)
    finally:
        _setitimer(_ITIMER_REAL, 0)


def run_tests(job: dict, report: Reporter) -> None:
    try:
        code = compile(job.get("code") or "", "<solution>", "exec")
    except (SyntaxError, ValueError) as exc:
        report(compile_error=_short(exc))
        return
    try:
        steps = [(kind, compile(mod, "<tests>", "exec")) for kind, mod in plan(job.get("tests", ""), job.get("entry_point"))]
    except (SyntaxError, ValueError) as exc:
        report(tests_error=_short(exc))
        return
    timeout_s = float(job.get("unit_timeout_s", 5.0))
    namespace = {"__name__": SOLUTION_NAME, "__builtins__": dict(builtins.__dict__)}
    report(start=sum(kind == "unit" for kind, _ in steps))
    load_error = _run_step(code, namespace, timeout_s)
    if load_error is not None:
        report(load_error=load_error)
        return
    unit = 0
    for kind, step in steps:
        error = _run_step(step, namespace, timeout_s)
        if kind == "unit":
            report(unit=unit, ok=error is None, error=error)
            unit += 1
        elif error is not None:
            report(setup_error=error)


def run_program(job: dict, report: Reporter) -> None:
    """Mode "exec": run the code as a program; report how it ended."""
    try:
        code = compile(job.get("code") or "", "<program>", "exec")
    except (SyntaxError, ValueError) as exc:
        report(compile_error=_short(exc))
        return
    namespace = {"__name__": "__main__", "__builtins__": dict(builtins.__dict__)}
    error = _run_step(code, namespace, float(job.get("unit_timeout_s", 1e6)))
    report(exit=error is None, error=error)


def main() -> None:
    fd = int(sys.argv[1])
    job = marshal.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    report = Reporter(fd, job.pop("nonce"))
    sys.path.extend(p for p in job.get("sys_path") or () if p not in sys.path)
    if not hasattr(builtins, "exit"):  # normally added by `site`, which -S skips
        builtins.exit = builtins.quit = sys.exit
    apply_limits(job.get("limits") or {})
    _signal.signal(_signal.SIGALRM, _on_alarm)
    (run_tests if job.get("mode", "tests") == "tests" else run_program)(job, report)
    report(done=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
