"""The device layer: the only place that decides between CUDA and CPU."""
from __future__ import annotations

import os


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def accelerator_env() -> dict[str, str]:
    """Environment a training worker needs before importing deepspeed."""
    return {} if has_cuda() else {"DS_ACCELERATOR": "cpu"}


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
