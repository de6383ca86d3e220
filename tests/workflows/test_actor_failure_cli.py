"""A rollout engine killed mid-run (SIGKILL of its process) must not hang the run: it stops within a bounded
time, names the engine, leaves its last checkpoint intact, and `run.resume=true` continues to the end with every
step logged once."""
import pytest
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.workflows.cli import REPO, run_align as align
from tests.workflows.test_grpo_cli import SHORT

pytestmark = pytest.mark.slow  # two CLI runs, ~2.5 min: run with -m slow

ARGS = [a for a in SHORT if not a.startswith(("stage1.grpo.steps", "stage1.grpo.routing_replay"))]
ARGS += ["stage1.grpo.steps=3", "stage1.grpo.save_every=1", "rollout.sync_timeout_s=30"]


def _descendants_titled(root: int, title: str) -> list[int]:
    """PIDs below `root` whose command line starts with `title` (Ray names actor processes `ray::<Class>`)."""
    def parent(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return 0

    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(title):
            pid = int(d.name)
            p = parent(pid)
            while p > 1 and p != root:
                p = parent(p)
            if p == root:
                out.append(pid)
    return out


def test_a_killed_rollout_engine_stops_the_run_by_name_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    args = ["grpo", "recipes/v2_grpo.yaml", f"run.output_dir={out}", *ARGS]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "align.cli", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        checkpoint, deadline = out / "stage1" / "checkpoints" / "step_1", time.time() + 600
        while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        engines = _descendants_titled(proc.pid, "ray::RolloutEngine")
        assert checkpoint.exists() and len(engines) == 1, (engines, proc.poll())
        os.kill(engines[0], signal.SIGKILL)
        t0 = time.time()
        _, stderr = proc.communicate(timeout=300)  # a hang fails here
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, stderr[-3000:]
    assert time.time() - t0 < 200
    assert "rollout engine 0 died during stage 1" in stderr and "run.resume=true" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr.split("align: run stopped:")[-1]
    assert (out / "stage1" / "checkpoints" / "step_1").exists() and not (out / "stage1" / "summary.json").exists()

    done = align(*args, "run.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert sorted(r["step"] for r in rows if "reward_mean" in r) == [1, 2, 3]
