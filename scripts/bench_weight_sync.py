"""Weight sync, before and after: the whole model through Ray vs buckets over the sync group.

    .venv/bin/python scripts/bench_weight_sync.py [--model builtin:smollm2-135m] [--bucket-mb 64] [--repeats 3]

Starts what `align grpo` starts (one DeepSpeed trainer rank, one vLLM rollout engine, Ray actors)
and times, on the same model and in one run:
- ray:   rank 0 clones the weights, the driver pulls the list with ray.get and hands it to the
         engine (`rollout.sync_transport: ray`, the first design);
- group: rank 0 broadcasts `--bucket-mb` buckets over the gloo group, the engine loads each as it
         arrives (`rollout.sync_transport: group`, the default);
- plain: the same number of bytes, in the same bucket size, through the same group, with no
         packing and no loading: the floor a sync over this group can reach.
For each: seconds (median of --repeats), bytes, and the peak extra resident memory of the trainer,
the engine and the driver during the sync (sampled every 5 ms by a thread in each process).
Ends with one line:
  group_vs_plain=X group_vs_ray=Y trainer_extra_buckets=A engine_extra_buckets=B
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.device import RssWatch  # noqa: E402
from engine.rollout import RolloutEngine  # noqa: E402
from engine.trainer import TrainWorker  # noqa: E402


class _Watched:
    """Ray actor mixin: a resident-memory watch that runs while other calls do."""

    def watch_start(self) -> None:
        self._watch = RssWatch().__enter__()

    def watch_stop(self) -> float:
        self._watch.__exit__(None, None, None)
        return self._watch.extra_mb


class BenchTrainer(_Watched, TrainWorker):
    pass


class BenchEngine(_Watched, RolloutEngine):
    pass


def timed(trainer, engine, run) -> dict:
    import ray

    ray.get([trainer.watch_start.remote(), engine.watch_start.remote()])
    with RssWatch() as driver:
        t0 = time.perf_counter()
        nbytes = run()
        seconds = time.perf_counter() - t0
    extra = ray.get([trainer.watch_stop.remote(), engine.watch_stop.remote()])
    return {"seconds": seconds, "bytes": nbytes, "trainer_extra_mb": extra[0], "engine_extra_mb": extra[1],
            "driver_extra_mb": driver.extra_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="builtin:smollm2-135m")
    ap.add_argument("--bucket-mb", type=float, default=64.0)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    import ray

    from align.workflows.models import resolve_model
    from engine.cluster import free_port, start_ray

    path = resolve_model(a.model)
    start_ray(num_cpus=2)
    ds = {"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": 1, "zero_optimization": {"stage": 2},
          "zero_allow_untested_optimizer": True, "_optimizer": {"lr": 1e-6, "betas": [0.9, 0.999], "weight_decay": 0.0}}
    trainer = ray.remote(BenchTrainer).options(num_cpus=1).remote(0, 1, "127.0.0.1", free_port(), 1)
    engine = ray.remote(BenchEngine).options(num_cpus=1).remote(path, kv_cache_gib=1, max_model_len=512)
    ray.get([trainer.setup.remote(path, ds, 0), engine.info.remote()])
    host, port = ray.get(trainer.free_address.remote())
    ray.get([trainer.join_sync_group.remote(host, port, 2, 300.0), engine.join_sync_group.remote(host, port, 2, 1, 300.0)])
    bucket = int(a.bucket_mb * 2**20)

    def via_ray() -> int:
        named = ray.get(trainer.named_tensors.remote())
        ray.get(engine.update_weights.remote(named))
        return sum(t.numel() * t.element_size() for _, t in named)

    def via_group() -> int:
        ref = engine.receive_weights.remote()
        sent = ray.get(trainer.send_weights.remote(a.bucket_mb))
        ray.get(ref)
        return sent["bytes"]

    total = {}

    def plain() -> int:
        ref = engine.receive_plain.remote(total["bytes"], bucket)
        ray.get([trainer.send_plain.remote(total["bytes"], a.bucket_mb), ref])
        return total["bytes"]

    results = {}
    for name, run in (("group", via_group), ("ray", via_ray), ("plain", plain)):
        runs = []
        for _ in range(a.repeats):
            runs.append(timed(trainer, engine, run))
            total.setdefault("bytes", runs[-1]["bytes"])
        results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results[name]["seconds_all"] = [round(r["seconds"], 3) for r in runs]
        print(f"[bench] {name}: {json.dumps(results[name])}", flush=True)
    ray.shutdown()
    g, bucket_mb = results["group"], bucket / 2**20
    print(json.dumps({"model": a.model, "bucket_mb": a.bucket_mb, "bytes": total["bytes"], **results}, indent=1))
    print(f"group_vs_plain={g['seconds'] / results['plain']['seconds']:.2f} "
          f"group_vs_ray={g['seconds'] / results['ray']['seconds']:.2f} "
          f"trainer_extra_buckets={g['trainer_extra_mb'] / bucket_mb:.2f} "
          f"engine_extra_buckets={g['engine_extra_mb'] / bucket_mb:.2f}")


if __name__ == "__main__":
    main()
