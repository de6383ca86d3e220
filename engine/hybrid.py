"""The hybrid engine: every actor call of a GRPO step behind one surface (verl's single controller).

`HybridEngine` holds the DeepSpeed trainer ranks, the vLLM rollout engines, the frozen KL reference (None
when the reference is the trainers' own base with LoRA adapters disabled), the stage-2 reward-model servers
and the swap scheduler. Each call enters its scheduler phase first (engine/scheduler.py), so in colocated
placement the driver never moves anything itself:

    generate(prompt_ids, n, ...)         per prompt, n completions; the prompts are dealt to the engines in turn
    routes(sequences)                    R3: the engines' experts for every token
    reward_models()                      the phase in which reward-model servers score (they are rewards)
    logprobs(per_rank, ...)              the reference's and the old policy's log-probs of the batch
    train(per_rank, lr, **objective)     one optimizer step on every rank
    sync()                               the trainers' weights into every engine (engine.sync_group, or Ray)
    check(sequences, prompt_lens)        per engine, max |log-prob of vLLM - trainer's| on fixed sequences
plus checkpoints, `dead_actors` (which actor stopped) and `stop`. The algorithm stays in the driver
(align/workflows/grpo.py); this module knows actors, phases and transports, and no GRPO math.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class HybridEngine:
    trainers: Any  # align.workflows.common.Trainers: the WorkerGroup of TrainWorker ranks and its micro-batch size
    engines: list  # RolloutEngine actors
    reference: Any = None  # a ReferenceWorker actor, or None: the trainers with adapters disabled
    rollout: Any = None  # the recipe's `rollout` section (placement, sync transport, bucket size, timeout)
    reward_servers: list = field(default_factory=list)
    scheduler: Any = None

    @classmethod
    def launch(cls, trainers, policy_path: str, ref_path: str | None, rollout, *, dtype: str, seed: int,
               max_model_len: int, prefix_caching: bool, ref_threads: int, ref_gpus: float) -> "HybridEngine":
        """Start the rollout engines (and the reference unless `ref_path` is None) beside started trainers, and
        form the weight-sync group."""
        import ray

        from engine.reference import ReferenceWorker
        from engine.rollout import RolloutEngine

        r = rollout
        engine_cls = ray.remote(RolloutEngine).options(num_cpus=r.cpus_per_engine, num_gpus=r.gpus_per_engine)
        engines = [engine_cls.remote(policy_path, dtype=dtype, seed=seed + i, kv_cache_gib=r.kv_cache_gib,
                                     attention_backend=r.attention_backend, max_model_len=max_model_len,
                                     enable_sleep=r.placement == "colocated" and r.gpus_per_engine > 0,
                                     prefix_caching=prefix_caching, cpu_threads=r.cpu_threads,
                                     cpu_offset=i * (r.cpu_threads or 0))
                   for i in range(r.num_engines)]
        # num_cpus=0: the reference only runs while the trainers wait, so it must not hold a CPU slot
        reference = None if ref_path is None else ray.remote(ReferenceWorker).options(
            num_cpus=0, num_gpus=ref_gpus).remote(ref_path, dtype, threads=ref_threads)
        ray.get([e.info.remote() for e in engines])  # engines up before the first sync is timed
        hybrid = cls(trainers, engines, reference, rollout)
        if r.sync_transport == "group":
            hybrid._open_sync_group(on_gpu=r.gpus_per_engine > 0)
        return hybrid

    def start_schedule(self, reward_servers: list) -> None:
        """The swap scheduler over every side, reward-model servers included (they start with the stage's rewards)."""
        from engine.scheduler import SwapScheduler

        self.reward_servers = list(reward_servers)
        self.scheduler = SwapScheduler(self.rollout.placement, self._sides())
        self.scheduler.start()

    # ------------------------------------------------------------------ rollouts
    def generate(self, prompt_ids: list[list[int]], n: int, **sampling) -> tuple[list[list[dict]], float]:
        """n completions per prompt (RolloutEngine.generate's dicts) in prompt order, and the seconds it took."""
        return self.generate_later(prompt_ids, n, **sampling)()

    def generate_later(self, prompt_ids: list[list[int]], n: int, **sampling):
        """Start generating now and return a function that waits for (outputs, seconds): the engines work while
        the caller trains (one-step-off async). The engines keep the weights they have until the next sync,
        which runs after they finish (an actor takes one call at a time)."""
        self.scheduler.before_generate()
        t0 = time.perf_counter()
        collect = submit_over(self.engines, prompt_ids, n, **sampling)
        return lambda: (collect(), time.perf_counter() - t0)

    def engine_seconds(self) -> float:
        """How long the engines' last `generate` ran, on their own clocks (the slowest engine)."""
        import ray

        return max(ray.get([e.last_generate_seconds.remote() for e in self.engines]))

    def routes(self, sequences: list[list[int]]) -> list:
        """R3: the experts vLLM routes every token of each sequence to ([len, L, k] each), spread over the engines
        (which hold the same synced weights)."""
        import ray

        self.scheduler.before_generate()
        k = len(self.engines)
        parts = [(i, sequences[i::k]) for i in range(k) if sequences[i::k]]
        got = ray.get([self.engines[i].routes.remote(seqs) for i, seqs in parts])
        out: list = [None] * len(sequences)
        for (i, _), routes in zip(parts, got):
            out[i::k] = routes
        return out

    def reward_models(self) -> None:
        self.scheduler.before_reward_models()

    # ------------------------------------------------------------------ training
    def logprobs(self, per_rank: list[list[dict]], *, old: bool, lp: dict, lp_old: dict) -> tuple[list, list | None]:
        """The reference's log-probs of every micro-batch (a flat list in rank order) and, with `old`, each rank's
        old-policy results (trainer `logprobs` with `lp_old`). In split placement the two run at once."""
        import ray

        def old_policy():
            return self.trainers.call("logprobs", per_rank=[(m,) for m in per_rank], **lp_old, **lp) if old else None

        if self.reference is None:  # LoRA: the trainers' base with the adapters disabled is the reference
            self.scheduler.before_train()
            ref = [x for vals in self.trainers.call("logprobs", per_rank=[(m,) for m in per_rank], adapters=False,
                                                    **lp) for x in vals]
            return ref, old_policy()
        keys = ("input_ids", "attention_mask", "loss_mask", "routes")
        flat = [{k: mb[k] for k in keys if k in mb} for mbs in per_rank for mb in mbs]
        if self.rollout.placement == "colocated":  # one side at a time
            self.scheduler.before_reference()
            ref = ray.get(self.reference.logprobs.remote(flat, **lp))
            self.scheduler.before_train()
            return ref, old_policy()
        pending = self.reference.logprobs.remote(flat, **lp)
        got = old_policy()
        return ray.get(pending), got

    def train(self, per_rank: list[list[dict]], lr: float, **objective) -> list[dict]:
        """One optimizer step of objective "grpo" on every rank; each rank's summed results."""
        self.scheduler.before_train()
        return self.trainers.call("train_step", per_rank=[(m, lr, "grpo") for m in per_rank], **objective)

    # ------------------------------------------------------------------ weights
    def sync(self) -> dict:
        """Rank 0's full weights (in-memory layout) into every rollout engine: over the sync group in buckets of
        `rollout.sync_bucket_mb`, or (`sync_transport: ray`) as one list through the driver."""
        import ray

        r = self.rollout
        self.scheduler.before_weight_sync()
        t0 = time.perf_counter()
        if r.sync_transport == "ray":
            named = self.trainers.call("named_tensors")[0]  # every rank joins (ZeRO-3 gathers collectively)
            stats = ray.get([e.update_weights.remote(named) for e in self.engines], timeout=r.sync_timeout_s)
            sent = {"bytes": sum(t.numel() * t.element_size() for _, t in named), "rss_extra_mb": 0.0}
        else:  # the engines wait for the broadcast while every trainer rank gathers and rank 0 sends
            refs = [e.receive_weights.remote(r.sync_timeout_s) for e in self.engines]
            sent = self.trainers.call("send_weights", r.sync_bucket_mb, timeout=r.sync_timeout_s + 30)[0]
            stats = ray.get(refs, timeout=r.sync_timeout_s + 30)
        return {"sync_seconds": time.perf_counter() - t0, "sync_bytes": sent["bytes"],
                "sync_engine_seconds": max(float(s.get("seconds", 0.0)) for s in stats),
                "memory/sync_trainer_extra_mb": sent["rss_extra_mb"],
                "memory/sync_rollout_extra_mb": max(float(s.get("rss_extra_mb", 0.0)) for s in stats),
                "memory/rollout_peak_mb": max(float(s.get("rss_peak_mb", 0.0)) for s in stats)}

    def check(self, sequences: list[list[int]], prompt_lens: list[int], pad_id: int) -> list[float]:
        """Per engine, the max |log p_vLLM - log p_trainer| over the completion tokens of fixed sequences (the
        engines score in the generate phase, the trainers in the train phase; temperature 1: vLLM's prompt
        log-probs are raw)."""
        import ray

        from align.data.chat import Encoded
        from engine.trainer import collate

        self.scheduler.before_generate()
        scored = ray.get([e.score.remote(sequences, prompt_lens) for e in self.engines])
        self.scheduler.before_train()
        enc = [Encoded(tuple(s), (0,) * p + (1,) * (len(s) - p)) for s, p in zip(sequences, prompt_lens)]
        mb = collate(enc, pad_id)
        # every rank runs the batch (a ZeRO-3 forward is collective)
        train_lp = self.trainers.call("logprobs", per_rank=[([mb],)] * len(self.trainers))[0][0]
        out = []
        for vllm_lp in scored:
            diff = 0.0
            for i, (s, p) in enumerate(zip(sequences, prompt_lens)):
                ours = train_lp[i, p - 1 : len(s) - 1]
                diff = max(diff, float((ours - torch.tensor(vllm_lp[i][: len(ours)])).abs().max()))
            out.append(diff)
        return out

    def _open_sync_group(self, on_gpu: bool) -> None:
        """Trainer rank 0 and every vLLM worker form the weight-sync group (engine.sync_group), at rank 0's node."""
        import ray

        r, rank0 = self.rollout, self.trainers.group.actors[0]
        host, port = ray.get(rank0.free_address.remote())
        workers = [info["workers"] for info in ray.get([e.info.remote() for e in self.engines])]
        first = [1 + sum(workers[:i]) for i in range(len(self.engines))]
        world, backend = 1 + sum(workers), "nccl" if on_gpu else "gloo"
        refs = [rank0.join_sync_group.remote(host, port, world, r.sync_timeout_s, backend)]
        refs += [e.join_sync_group.remote(host, port, world, f, r.sync_timeout_s, backend)
                 for e, f in zip(self.engines, first)]
        ray.get(refs, timeout=r.sync_timeout_s + 30)

    # ------------------------------------------------------------------ lifecycle
    def trainers_ready(self):
        """The trainers, resident (train phase): for checkpoints and the final save."""
        self.scheduler.before_train()
        return self.trainers

    def named_actors(self) -> list[tuple[str, Any]]:
        named = [(f"trainer rank {i}", a) for i, a in enumerate(self.trainers.group.actors)]
        named += [(f"rollout engine {i}", e) for i, e in enumerate(self.engines)]
        named += [("the KL reference", self.reference)] * (self.reference is not None)
        return named + [(f"reward-model server {i}", a) for i, a in enumerate(self.reward_servers)]

    def dead_actors(self) -> list[str]:
        from engine.cluster import dead_actors

        return dead_actors(self.named_actors())

    def events(self) -> list:
        return self.scheduler.events if self.scheduler else []

    def stop(self) -> None:
        """Kill the trainers, engines and reference (the reward-model servers belong to the stage's rewards)."""
        import ray

        self.trainers.kill()
        for a in self.engines + [self.reference] * (self.reference is not None):
            ray.kill(a)

    def _sides(self):
        import ray

        from engine.scheduler import Sides

        def every(group, method, *a, **kw):
            return (lambda: ray.get([getattr(x, method).remote(*a, **kw) for x in group])) if group else None

        refs = [self.reference] if self.reference is not None else []
        return Sides(offload_trainer=lambda: self.trainers.call("offload"),
                     reload_trainer=lambda: self.trainers.call("reload"),
                     sleep_rollout=every(self.engines, "sleep", level=1),
                     wake_rollout_weights=every(self.engines, "wake_up", tags=["weights"]),
                     wake_rollout_kv=every(self.engines, "wake_up", tags=["kv_cache"]),
                     offload_reference=every(refs, "offload"), reload_reference=every(refs, "reload"),
                     offload_reward_models=every(self.reward_servers, "offload"),
                     reload_reward_models=every(self.reward_servers, "reload"))


def generate_over(engines: list, prompt_ids: list[list[int]], n: int, **sampling) -> list[list[dict]]:
    """n completions per prompt from a pool of RolloutEngine actors: prompt j goes to engine j mod len(engines)
    (every request carries its seed, so the split does not change the samples); results in prompt order."""
    return submit_over(engines, prompt_ids, n, **sampling)()


def submit_over(engines: list, prompt_ids: list[list[int]], n: int, **sampling):
    """`generate_over`, started: returns the function that waits for its results."""
    import ray

    k = len(engines)
    parts = [(i, prompt_ids[i::k]) for i in range(k) if prompt_ids[i::k]]
    refs = [engines[i].generate.remote(ids, n=n, **sampling) for i, ids in parts]

    def collect() -> list[list[dict]]:
        out: list = [None] * len(prompt_ids)
        for (i, _), outs in zip(parts, ray.get(refs)):
            out[i::k] = outs
        return out
    return collect
