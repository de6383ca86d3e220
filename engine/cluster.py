"""Ray placement: start or join a cluster, create groups of actors, call them.

The driver talks to workers through `WorkerGroup.call(method, ...)`: one RPC per
worker per call, arguments either shared or one per rank, results in rank order.
"""
from __future__ import annotations

import os
import socket
from typing import Any, Sequence


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start a local Ray (default) or join the cluster at `address`."""
    import ray

    if ray.is_initialized():
        return
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
                        "TOKENIZERS_PARALLELISM": "false", "RAY_DEDUP_LOGS": "0"}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=True)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, runtime_env=env,
                 log_to_driver=True, logging_level="ERROR")


def free_port() -> int:
    """A TCP port free on every interface of this node (others may connect to it)."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class WorkerGroup:
    """N actors of one class, addressed together."""

    def __init__(self, actor_cls, n: int, num_cpus: float, num_gpus: float, make_args) -> None:
        import ray

        remote = ray.remote(actor_cls).options(num_cpus=num_cpus, num_gpus=num_gpus)
        self.actors = [remote.remote(*make_args(rank)) for rank in range(n)]

    def __len__(self) -> int:
        return len(self.actors)

    def call(self, method: str, *args: Any, per_rank: Sequence[tuple] | None = None, timeout: float | None = None, **kwargs: Any) -> list:
        """Call `method` on every actor; `per_rank[i]` are rank i's positional args."""
        import ray

        refs = [getattr(a, method).remote(*(per_rank[i] if per_rank else args), **kwargs) for i, a in enumerate(self.actors)]
        return ray.get(refs, timeout=timeout)

    def call_rank0(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import ray

        return ray.get(getattr(self.actors[0], method).remote(*args, **kwargs))

    def kill(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
