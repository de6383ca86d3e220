"""Run a command and report the peak resident memory of its whole process tree (Ray actors included).

    python scripts/peak_rss.py [--every 1.0] [--out FILE.json] -- align grpo recipes/smol_grpo.yaml ...

A local Ray cluster started by the command runs as its descendants, so the tree holds the driver, the
trainers, the rollout engines, the reference and the reward actors. The tree's RSS is sampled every `--every`
seconds; the peak and its split by process title (`ray::TrainWorker`, `ray::RolloutEngine`, ...) are printed
as one line and written to `--out`. RSS counts shared pages once per process, so the total is an upper bound;
compare runs measured the same way. The command's exit code is passed through.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psutil


def _title(p: psutil.Process) -> str:
    try:
        cmd = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"
    head = cmd[0] if cmd else p.name()
    return head.split()[0] if head.startswith("ray::") else p.name()


def sample(root: psutil.Process) -> tuple[float, dict[str, float]]:
    parts: dict[str, float] = {}
    for p in [root, *root.children(recursive=True)]:
        try:
            mb = p.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        key = _title(p)
        parts[key] = parts.get(key, 0.0) + mb
    return sum(parts.values()), parts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("give the command after --")
    proc = subprocess.Popen(cmd)
    root = psutil.Process(proc.pid)
    peak, at_peak = 0.0, {}
    while proc.poll() is None:
        total, parts = sample(root)
        if total > peak:
            peak, at_peak = total, parts
        time.sleep(args.every)
    result = {"peak_tree_rss_mb": round(peak, 1), "at_peak": {k: round(v, 1) for k, v in sorted(at_peak.items())},
              "returncode": proc.returncode}
    print(f"[peak_rss] {json.dumps(result)}", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
