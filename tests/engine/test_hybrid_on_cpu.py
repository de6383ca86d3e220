"""HybridEngine's dead-actor diagnosis on real Ray actors: an actor removed with `ray.kill` is named, the others
are not (the whole-run test, a rollout engine SIGKILLed mid-run, is tests/workflows/test_actor_failure_cli.py)."""
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from engine.cluster import start_ray

    start_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def test_a_killed_actor_is_named_and_the_living_are_not(ray_local):
    from align.models.builtin import init_path
    from engine.hybrid import HybridEngine
    from engine.reference import ReferenceWorker
    from engine.reward_model import start_server

    ray = ray_local
    reference = ray.remote(ReferenceWorker).options(num_cpus=0).remote(str(init_path()))
    server = start_server(str(init_path()))
    hybrid = HybridEngine(SimpleNamespace(group=SimpleNamespace(actors=[])), [], reference,
                          reward_servers=[server])
    ray.get([reference.__ray_ready__.remote(), server.__ray_ready__.remote()])
    assert hybrid.dead_actors() == []  # negative control: nothing is reported while all live
    ray.kill(server)
    assert _once_settled(hybrid, 1) == ["reward-model server 0"]
    ray.kill(reference)
    assert _once_settled(hybrid, 2) == ["the KL reference", "reward-model server 0"]


def _once_settled(hybrid, n: int, timeout: float = 30.0) -> list:
    """`ray.kill` returns before the actor is gone: ask until `n` are reported (or time runs out)."""
    import time

    deadline = time.time() + timeout
    while len(dead := hybrid.dead_actors()) < n and time.time() < deadline:
        time.sleep(0.5)
    return dead
