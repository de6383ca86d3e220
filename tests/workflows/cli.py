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
