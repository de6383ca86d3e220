"""Running the real `align` CLI from the workflow tests."""
import os
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]


def run_align(*args, timeout=900, env=None):
    """`python -m align.cli ARGS` in the repository, with the repo importable (dotted-path rewards);
    `env` adds variables (e.g. ALIGN_BENCHMARKS)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "align.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, env=env)


def weights(folder: Path) -> dict:
    """All tensors of an HF folder's safetensors files."""
    out = {}
    for f in sorted(Path(folder).glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def kill_once_saved(args: list, checkpoint: Path, timeout: float = 600) -> None:
    """Start `align ARGS` in its own process group and SIGKILL the group once `checkpoint` exists."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "align.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
