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
        # address="local": a Ray of its own, even when a cluster already runs on this machine (`ray.init()` would join it)
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, runtime_env=env,
                 log_to_driver=True, logging_level="ERROR")


def free_port() -> int:
    """A TCP port free on every interface of this node (others may connect to it)."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class PlacementError(RuntimeError):
    """The cluster cannot place a worker group."""


class WorkerGroup:
    """N actors of one class, addressed together, placed by a Ray placement group of N bundles.

    `strategy` is Ray's: PACK (as few nodes as possible, the default), SPREAD (over as many as possible),
    STRICT_PACK (one node), STRICT_SPREAD (one per node). The group waits `place_timeout_s` for the cluster to
    have room and then fails, naming what it asked for, instead of waiting forever.
    """

    def __init__(self, actor_cls, n: int, num_cpus: float, num_gpus: float, make_args, strategy: str = "PACK",
                 place_timeout_s: float = 120.0) -> None:
        import ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        bundle = {k: v for k, v in (("CPU", num_cpus), ("GPU", num_gpus)) if v}
        self.pg = placement_group([bundle or {"CPU": 0.001}] * n, strategy=strategy)
        ready, _ = ray.wait([self.pg.ready()], timeout=place_timeout_s)
        if not ready:
            ray.util.remove_placement_group(self.pg)
            raise PlacementError(f"Ray could not place {n} x {actor_cls.__name__} ({bundle}, strategy {strategy}) "
                                 f"within {place_timeout_s:g} s; the cluster has {ray.available_resources()} free. "
                                 f"Lower trainer.num_workers / cpus_per_worker / gpus_per_worker, choose another "
                                 f"trainer.placement, or add nodes")
        self.actors = [ray.remote(actor_cls).options(
            num_cpus=num_cpus, num_gpus=num_gpus,
            scheduling_strategy=PlacementGroupSchedulingStrategy(self.pg, placement_group_bundle_index=rank),
        ).remote(*make_args(rank)) for rank in range(n)]

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
        ray.util.remove_placement_group(self.pg)


def dead_actors(named: Sequence[tuple[str, Any]], timeout_s: float = 10.0) -> list[str]:
    """The names of the actors in `named` [(name, handle)] that are dead (Ray says so) or do not answer a
    ping within `timeout_s` (said as "<name> (not responding)")."""
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError

    pings = [(name, h.__ray_ready__.remote()) for name, h in named]
    out = []
    for name, ref in pings:
        try:
            ray.get(ref, timeout=timeout_s)
        except RayActorError:
            out.append(name)
        except GetTimeoutError:
            out.append(f"{name} (not responding)")
    return out
