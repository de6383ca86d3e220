"""Weight sync over a torch.distributed group of its own: trainer rank 0 broadcasts buckets of
weights, and every vLLM worker loads each bucket as it arrives (the design of OpenRLHF's and
verl's vLLM weight update: gloo on CPU, NCCL on GPU).

The group:
    rank 0                 trainer rank 0 (it holds, or under ZeRO-3 gathers, the full weights)
    rank 1 + i * W + w     worker w (its tensor-parallel rank) of rollout engine i, W workers each
It is built on a TCPStore of its own, hosted by rank 0 on its node, so neither DeepSpeed's
default group nor vLLM's is touched, and a sync never passes through the Ray object store or
the driver.

The wire, per bucket, every message a broadcast from rank 0:
    header   int64[2]                          (meta_bytes, data_bytes); (0, 0) ends the stream
    payload  uint8[meta_bytes + data_bytes]    JSON [[name, dtype, shape, offset], ...], then
                                               the tensors' bytes, each at a 64-byte aligned offset
A receiver turns a payload into views of it (no copy): one bucket is in flight while vLLM loads
the one before, so a sync holds about two buckets beyond the model on either side.

Every wait is bounded by the group's timeout (`rollout.sync_timeout_s`): a peer that never
joins or dies mid-sync raises SyncTimeout naming the group rank, instead of hanging the run.
"""
from __future__ import annotations

import datetime
import json
import time
from typing import Iterable, Iterator

import torch

from engine.weight_sync import Named, WeightSyncError

ALIGN = 64  # byte alignment of every tensor in a payload (a dtype view needs an aligned offset)
END = (0, 0)


class SyncTimeout(WeightSyncError):
    """A peer of the sync group did not take part in time."""


def _gloo(store, rank: int, size: int, timeout: datetime.timedelta):
    return torch.distributed.ProcessGroupGloo(store, rank, size, timeout)


def _nccl(store, rank: int, size: int, timeout: datetime.timedelta):
    opts = torch.distributed.ProcessGroupNCCL.Options()
    opts._timeout = timeout
    return torch.distributed.ProcessGroupNCCL(store, rank, size, opts)


BACKENDS = {"gloo": _gloo, "nccl": _nccl}


class SyncGroup:
    """One member of the sync group: `broadcast` / `receive` of flat tensors with a bounded wait."""

    def __init__(self, host: str, port: int, world_size: int, rank: int, timeout_s: float, backend: str = "gloo",
                 name: str = "align-weight-sync") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"sync group backend {backend!r}: choose one of {sorted(BACKENDS)}")
        self.rank, self.world_size, self.timeout_s, self.backend = rank, world_size, float(timeout_s), backend
        self.device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        timeout = datetime.timedelta(seconds=timeout_s)
        try:
            store = torch.distributed.TCPStore(host, port, world_size, is_master=rank == 0, timeout=timeout)
            self.pg = BACKENDS[backend](torch.distributed.PrefixStore(name, store), rank, world_size, timeout)
        except RuntimeError as exc:  # the store's rendezvous timed out or the port is taken
            raise SyncTimeout(f"the weight-sync group ({host}:{port}, {world_size} members) did not form within "
                              f"{timeout_s:g} s at rank {rank}: {_first_line(exc)}. Every rollout worker must reach "
                              f"trainer rank 0's node at that address (raise rollout.sync_timeout_s if engines start "
                              f"slowly)") from exc
        self.store = store  # the store must outlive the group

    def broadcast(self, tensor: torch.Tensor, what: str) -> None:
        """Rank 0 sends `tensor`, every other rank receives into it (in place)."""
        try:
            self.pg.broadcast(tensor, 0).wait()
        except RuntimeError as exc:
            raise SyncTimeout(f"weight sync: the broadcast of {what} did not complete within {self.timeout_s:g} s "
                              f"(group rank {self.rank} of {self.world_size}; rank 0 is trainer rank 0, ranks 1.. "
                              f"the rollout workers): {_first_line(exc)}. A member stopped or never joined the sync; "
                              f"check that every rollout engine is alive") from exc

    def close(self) -> None:
        self.pg, self.store = None, None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ---------------------------------------------------------------------- the wire
def pack(bucket: list[Named], device: torch.device | str = "cpu", out: torch.Tensor | None = None
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A bucket -> (header int64[2], payload uint8[meta + data]); the tensors are copied into the payload.
    `out`: a buffer to pack into when it is large enough (the sender reuses one: no fresh pages per bucket)."""
    meta, offset = [], 0
    for name, t in bucket:
        meta.append([name, str(t.dtype).removeprefix("torch."), list(t.shape), offset])
        offset += -(-t.numel() * t.element_size() // ALIGN) * ALIGN
    head = json.dumps(meta).encode()
    start = -(-len(head) // ALIGN) * ALIGN
    if out is None or out.numel() < start + offset or out.device != torch.device(device):
        out = torch.empty(start + offset, dtype=torch.uint8, device=device)
    payload = out[: start + offset]
    payload[:start] = 0  # the JSON is read up to its padding
    payload[: len(head)] = torch.frombuffer(bytearray(head), dtype=torch.uint8)
    for (_, t), (_, _, _, off) in zip(bucket, meta):
        n = t.numel() * t.element_size()
        payload[start + off : start + off + n] = t.detach().contiguous().reshape(-1).view(torch.uint8)
    return torch.tensor([start, offset], dtype=torch.int64), payload


def unpack(header: torch.Tensor, payload: torch.Tensor) -> list[Named]:
    """The inverse of `pack`: (name, tensor) views of `payload`."""
    start = int(header[0])
    meta = json.loads(bytes(payload[:start].cpu().numpy()).rstrip(b"\0"))
    out = []
    for name, dtype, shape, off in meta:
        dt = getattr(torch, dtype)
        n = _numel(shape) * torch.empty((), dtype=dt).element_size()
        out.append((name, payload[start + off : start + off + n].view(dt).view(shape)))
    return out


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------------- both ends
def send(group: SyncGroup, buckets: Iterable[list[Named]]) -> dict:
    """Rank 0: broadcast every bucket, then the end marker; returns {'seconds', 'bytes', 'buckets'}."""
    t0, sent, count, buf = time.perf_counter(), 0, 0, None
    for bucket in buckets:
        header, payload = pack(bucket, group.device, buf)
        buf = payload if buf is None or payload.numel() > buf.numel() else buf
        group.broadcast(header, f"bucket {count} header")
        group.broadcast(payload, f"bucket {count} ({len(bucket)} tensors, {payload.numel() / 1e6:.1f} MB)")
        sent += int(header[1])
        count += 1
    group.broadcast(torch.tensor(END, dtype=torch.int64), "the end marker")
    return {"seconds": time.perf_counter() - t0, "bytes": sent, "buckets": count}


def receive(group: SyncGroup) -> Iterator[Named]:
    """Ranks >= 1: (name, tensor) pairs, bucket by bucket, until rank 0's end marker.

    A thread receives bucket k + 1 while the caller (vLLM's loader) consumes bucket k, and no further:
    transfer and loading overlap, and at most two buckets are held. Iterate it to the end (the reader
    thread would otherwise take the next sync's first bucket).
    """
    import queue
    import threading

    ready, taken = queue.Queue(maxsize=1), threading.Semaphore(0)

    def reader() -> None:
        count = 0
        try:
            while True:
                header = torch.zeros(2, dtype=torch.int64)
                group.broadcast(header, f"bucket {count} header")
                if tuple(header.tolist()) == END:
                    ready.put(None)
                    return
                payload = torch.empty(int(header.sum()), dtype=torch.uint8, device=group.device)
                group.broadcast(payload, f"bucket {count} ({payload.numel() / 1e6:.1f} MB)")
                ready.put((header, payload))
                taken.acquire()  # the caller has started on it: receive the next one meanwhile
                count += 1
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            ready.put(exc)

    thread = threading.Thread(target=reader, name="align-sync-receive", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            taken.release()
            yield from unpack(*item)
            del item
    finally:
        taken.release()  # never leave the reader blocked; a caller must still drain the stream (receive_worker)


def plain(group: SyncGroup, nbytes: int, bucket_bytes: int) -> float:
    """Benchmark baseline: `nbytes` of raw uint8 in `bucket_bytes` pieces through the group, no packing and no
    loading (rank 0 sends, the others receive: a broadcast is the same call on every rank); seconds."""
    t0, left = time.perf_counter(), nbytes
    buf = torch.zeros(min(bucket_bytes, nbytes), dtype=torch.uint8, device=group.device)
    while left > 0:
        group.broadcast(buf[: min(left, buf.numel())], "a plain buffer")
        left -= buf.numel()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------- inside a vLLM worker
def join_worker(worker, host: str, port: int, world_size: int, first_rank: int, timeout_s: float,
                backend: str) -> int:
    """`collective_rpc` target: this vLLM worker joins as rank `first_rank + its tensor-parallel rank`."""
    rank = first_rank + int(getattr(worker, "rank", 0) or 0)
    worker._align_sync_group = SyncGroup(host, port, world_size, rank, timeout_s, backend)
    return rank


def receive_worker(worker, expected: dict, config: dict, cpu_workarounds: bool) -> dict:
    """`collective_rpc` target: load the weights rank 0 broadcasts (engine.weight_sync.load_worker)."""
    from engine.weight_sync import load_worker

    group = getattr(worker, "_align_sync_group", None)
    if group is None:
        raise WeightSyncError("this rollout engine never joined the weight-sync group (RolloutEngine.join_sync_group)")
    stream = receive(group)
    try:
        return load_worker(worker, stream, expected, config, cpu_workarounds)
    finally:
        for _ in stream:  # a refused tensor stops loading: take the rest, so rank 0 is not left waiting
            pass


def plain_worker(worker, nbytes: int, bucket_bytes: int) -> float:
    return plain(worker._align_sync_group, nbytes, bucket_bytes)
