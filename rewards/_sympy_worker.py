"""Symbolic equivalence in a killable process: the worker script and its client pool.

Run as a script (``main``), the worker reads JSON lines ``{"a": expr, "b": expr}`` on stdin
and writes ``{"eq": bool | null, "error": str | null}``. Both expressions arrive translated
from LaTeX and checked against a token whitelist (`rewards/_latex.py`); parsing still uses a
global namespace without builtins. ``SympyPool`` (the parent's side) keeps a few workers
alive and kills one whose answer takes longer than its limit (``signal.alarm`` in a worker
thread never fires; a process can always be killed). The worker is started with
``python -I`` from this file's path, so it imports neither `rewards` nor the caller's
``__main__`` (unlike multiprocessing's spawn). Standard library and sympy only.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import select
import subprocess
import sys
import threading
import time
import weakref

logger = logging.getLogger("rewards.math_answer")

NAMES = ("Symbol", "Integer", "Float", "Rational", "Function", "Mul", "Add", "Pow",
         "sqrt", "root", "pi", "E", "I", "oo", "sin", "cos", "tan", "log", "exp", "Abs")


def _setup():
    import sympy
    from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations

    namespace = {"__builtins__": {}}
    namespace.update({name: getattr(sympy, name) for name in NAMES})
    transformations = standard_transformations + (implicit_multiplication_application,)

    def parse(text: str):
        return parse_expr(text, local_dict={}, global_dict=dict(namespace), transformations=transformations, evaluate=True)

    def equal(a: str, b: str) -> bool:
        x, y = parse(a), parse(b)
        if x == y:
            return True
        diff = sympy.simplify(x - y)
        if diff == 0:
            return True
        if not diff.free_symbols:
            value = complex(sympy.N(diff, 30))
            return abs(value) <= 1e-9 * max(1.0, abs(complex(sympy.N(y, 30))))
        return False

    return equal


class SympyPool:
    """Up to `size` persistent worker processes; a call past its time limit kills its worker."""

    def __init__(self, size: int = 2, memory_bytes: int = 2 << 30, start_timeout_s: float = 120.0):
        self._idle: list[subprocess.Popen] = []
        self._all: weakref.WeakSet = weakref.WeakSet()
        self._sem = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._memory, self._start_timeout = memory_bytes, start_timeout_s

    def equal(self, a: str, b: str, timeout_s: float) -> bool | None:
        """True/False; None when the worker timed out or failed (it is then killed)."""
        with self._sem:
            proc = self._take()
            reply = None
            try:
                os.write(proc.stdin.fileno(), (json.dumps({"a": a, "b": b}) + "\n").encode())
                line = _read_line(proc, timeout_s)
                reply = json.loads(line) if line else None
            except (OSError, ValueError):
                reply = None
            if reply is None:
                self._kill(proc)
                return None
            with self._lock:
                self._idle.append(proc)
            if reply.get("error"):
                logger.debug("math_answer: sympy could not compare %r and %r: %s", a, b, reply["error"])
            return bool(reply.get("eq"))

    def _take(self) -> subprocess.Popen:
        with self._lock:
            while self._idle:
                proc = self._idle.pop()
                if proc.poll() is None:
                    return proc
        proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), str(self._memory)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, start_new_session=True)
        self._all.add(proc)
        if _read_line(proc, self._start_timeout) is None:
            self._kill(proc)
            raise RuntimeError(f"math_answer: the sympy worker did not start within {self._start_timeout} s")
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            stream.close()

    def close(self) -> None:
        for proc in list(self._all):
            if proc.poll() is None:
                self._kill(proc)
        self._idle.clear()


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str | None:
    fd, buf = proc.stdout.fileno(), b""
    poller = select.poll()  # not select.select: it fails on descriptors >= 1024 (busy reward workers)
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout_s
    while not buf.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buf += chunk
    return buf.decode()


def main() -> None:
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 2 << 30
    equal = _setup()
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            reply = {"eq": bool(equal(req["a"], req["b"])), "error": None}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which scores 0
            reply = {"eq": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
