"""The colocated swap's offload on a machine without an accelerator: spill storages to a file and back.

On GPU a DeepSpeed engine offloads with its own `offload_states` / `reload_states` (parameters, gradients and
optimizer states to host memory). On CPU host memory is where they already are, so that call has nothing to
do, and a colocated schedule whose moves do nothing cannot show a wrong order. `Spill` makes the move real on
CPU: every storage behind the given tensors is written to a file and resized to zero bytes (its memory is
returned), and `reload` resizes it back and reads the bytes in. Tensor objects, views and the flat buffers
ZeRO keeps parameters in stay the same Python objects, so the reload is exact to the bit (tests/engine/
test_offload_on_cpu.py) and nothing needs relinking. FSDP frees parameter storage the same way
(`storage.resize_(0)`).

A tensor whose storage is spilled must not be read: that would read freed memory. The owner (TrainWorker,
ReferenceWorker, RewardModelServer) refuses every call that reads its weights while offloaded.
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Iterable

import torch


class Spill:
    """Storages of a set of tensors, moved between memory and one file."""

    def __init__(self, tensors: Iterable[torch.Tensor], folder: str | None = None) -> None:
        seen, self.storages, self.kept_bytes = set(), [], 0
        for t in tensors:
            st = t.untyped_storage()
            if st.device.type == "cpu" and st.nbytes() and st.data_ptr() not in seen:
                seen.add(st.data_ptr())
                if st.resizable():
                    self.storages.append(st)
                else:  # memory torch does not own (a memory-mapped checkpoint, a numpy array): it stays
                    self.kept_bytes += st.nbytes()
        self.sizes = [st.nbytes() for st in self.storages]
        fd, self.path = tempfile.mkstemp(prefix="align-offload-", suffix=".bin", dir=folder)
        os.close(fd)
        self.offloaded = False

    @staticmethod
    def _chunk() -> tuple[bytearray, torch.Tensor]:
        raw = bytearray(CHUNK)
        return raw, torch.frombuffer(raw, dtype=torch.uint8)

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)

    def offload(self) -> dict:
        """Write every storage to the file, then free it; returns {'bytes' freed, 'kept_bytes', 'seconds'}."""
        t0 = time.perf_counter()
        self.freed, stage = [], self._chunk()
        with open(self.path, "wb") as f:
            for st, n in zip(self.storages, self.sizes):
                _write(f, _bytes(st, n), stage)
                try:
                    st.resize_(0)
                    self.freed.append(True)
                except RuntimeError:  # memory torch does not own (a memory-mapped checkpoint tensor): it stays
                    self.freed.append(False)
        self.offloaded = True
        kept = self.kept_bytes + sum(n for n, ok in zip(self.sizes, self.freed) if not ok)
        return {"bytes": self.nbytes + self.kept_bytes - kept, "kept_bytes": kept, "seconds": time.perf_counter() - t0}

    def reload(self) -> dict:
        """Re-allocate every freed storage and read its bytes back; returns {'bytes', 'seconds'}."""
        t0, stage = time.perf_counter(), self._chunk()
        with open(self.path, "rb") as f:
            for st, n, ok in zip(self.storages, self.sizes, self.freed):
                if ok:
                    st.resize_(n)
                    _read(f, _bytes(st, n), stage)
                else:
                    f.seek(n, os.SEEK_CUR)
        os.truncate(self.path, 0)
        self.offloaded = False
        return {"bytes": sum(n for n, ok in zip(self.sizes, self.freed) if ok), "seconds": time.perf_counter() - t0}

    def close(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)


CHUNK = 64 << 20  # bytes copied through one staging buffer at a time


def _bytes(storage, n: int) -> torch.Tensor:
    return torch.empty(0, dtype=torch.uint8).set_(storage, 0, (n,), (1,))


# Through a staging buffer, not `tensor.numpy()`: a storage that was ever exported to numpy cannot be resized.
def _write(f, src: torch.Tensor, stage: tuple[bytearray, torch.Tensor]) -> None:
    raw, buf = stage
    for i in range(0, src.numel(), CHUNK):
        n = min(CHUNK, src.numel() - i)
        buf[:n].copy_(src[i : i + n])
        f.write(memoryview(raw)[:n])


def _read(f, dst: torch.Tensor, stage: tuple[bytearray, torch.Tensor]) -> None:
    raw, buf = stage
    for i in range(0, dst.numel(), CHUNK):
        n = min(CHUNK, dst.numel() - i)
        f.readinto(memoryview(raw)[:n])
        dst[i : i + n].copy_(buf[:n])


def tensors_of(*objects: Any, depth: int = 4) -> list[torch.Tensor]:
    """Every tensor reachable from `objects` through modules, optimizers, attributes, lists and dicts, to `depth`
    levels (a DeepSpeed engine: the module's parameters, buffers and gradients, ZeRO's flat fp16/fp32 partitions
    and the inner optimizer's state)."""
    out, seen = [], set()

    def walk(x: Any, d: int) -> None:
        if id(x) in seen or d < 0:
            return
        seen.add(id(x))
        if isinstance(x, torch.Tensor):
            out.append(x)
            if x.grad is not None:
                out.append(x.grad)
        elif isinstance(x, torch.nn.Module):
            for t in [*x.parameters(), *x.buffers()]:
                walk(t, d)
        elif isinstance(x, torch.optim.Optimizer):
            walk(x.state, d)  # param_groups hold the parameters, reached elsewhere
            walk([p for g in x.param_groups for p in g["params"]], d)
        elif isinstance(x, dict):
            for v in list(x.values()):
                walk(v, d - 1)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, d - 1)
        elif hasattr(x, "__dict__") and type(x).__module__.startswith(("deepspeed", "torch.optim")):
            for v in list(vars(x).values()):
                walk(v, d - 1)

    for o in objects:
        walk(o, depth)
    return out


class FrozenModelSwap:
    """`offload` / `reload` for an actor holding a frozen `self.model` (the KL reference, a reward-model server):
    to host memory on GPU, to a file on CPU (`Spill`); `_resident(what)` refuses reads while offloaded."""
    offloaded = False
    _spill: Spill | None = None

    def offload(self) -> dict:
        from engine import device

        if self.offloaded:
            raise RuntimeError(f"{type(self).__name__}.offload: offloaded already (the swap order is wrong)")
        self.offloaded = True
        if device.has_cuda():
            self.model.to("cpu")
            return {"bytes_after": device.memory_allocated()}
        if self._spill is None:
            with torch.no_grad():  # own the memory: weights loaded from a checkpoint may be memory-mapped
                for t in [*self.model.parameters(), *self.model.buffers()]:
                    t.data = t.data.clone()
            self._spill = Spill(tensors_of(self.model))
        return self._spill.offload()

    def reload(self) -> dict:
        from engine import device

        if not self.offloaded:
            raise RuntimeError(f"{type(self).__name__}.reload: not offloaded (the swap order is wrong)")
        self.offloaded = False
        if device.has_cuda():
            self.model.to(device.torch_device())
            return {"bytes_after": device.memory_allocated()}
        return self._spill.reload()

    def _resident(self, what: str) -> None:
        if self.offloaded:
            raise RuntimeError(f"{type(self).__name__}.{what}: the model is offloaded (colocated swap); the scheduler "
                               f"must reload it first. This is a wrong swap order.")
