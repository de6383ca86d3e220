"""The DeepSpeed training worker: one Ray actor per data-parallel rank.

The same worker trains SFT, reward models and the GRPO policy: the driver names an
objective (engine.objectives) and sends each rank its micro-batches. The worker owns
the model, the DeepSpeed engine (ZeRO stage from the recipe), checkpoints, HF
export, and (for colocated GRPO) offload/reload of its states.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

from engine import device
from engine import weight_sync as ws


def collate(encoded: list, pad_id: int) -> dict:
    """Right-pad a list of Encoded(input_ids, loss_mask) into tensors [B, T]."""
    import torch

    width = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    att = torch.zeros((len(encoded), width), dtype=torch.long)
    lm = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, e in enumerate(encoded):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        att[i, :n] = 1
        lm[i, :n] = torch.tensor(e.loss_mask)
    return {"input_ids": ids, "attention_mask": att, "loss_mask": lm}


def _causal_lm(path: str, dtype):
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype)


def _reward_model(path: str, dtype):
    """The causal LM backbone plus a fresh scalar head (a reward-model folder loads as saved)."""
    import transformers

    from engine.seq_cls import register_for

    register_for(path)  # families transformers ships without a sequence-classification class (GLM-4-MoE)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = transformers.AutoTokenizer.from_pretrained(path).pad_token_id
    return model


MODEL_KINDS = {"causal_lm": _causal_lm, "reward_model": _reward_model}


class TrainWorker:
    def __init__(self, rank: int, world_size: int, master_addr: str | None = None, master_port: int | None = None,
                 threads: int = 1) -> None:
        """The rendezvous (`master_addr`, `master_port`) may come later, through `set_rendezvous`: the group
        learns rank 0's node address only once rank 0 is placed (WorkerGroup, several nodes)."""
        os.environ.update(device.accelerator_env())
        # LOCAL_RANK 0 on every node: Ray hands each worker its own GPU through CUDA_VISIBLE_DEVICES, in which that
        # GPU is device 0 (the global rank would name a device the worker cannot see)
        os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": "0"})
        self.rank, self.world_size = rank, world_size
        if master_addr is not None:
            self.set_rendezvous(master_addr, master_port)
        device.set_threads(threads)
        _quiet()
        self.engine, self.lora, self.offloaded, self.spill = None, False, False, None

    def set_rendezvous(self, master_addr: str, master_port: int) -> dict:
        """torch.distributed's rendezvous: rank 0's node IP and a port free there. Returns where this worker runs."""
        os.environ.update({"MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port)})
        return {"rank": self.rank, "node": _node_id()}

    # ------------------------------------------------------------------ setup
    def setup(self, model_path: str, ds_config: dict, seed: int, dtype: str = "float32", model_kind: str = "causal_lm",
              freeze_router: bool = False, lora: Any = None) -> dict:
        """`lora` (align.config.LoraConfig or None): train peft LoRA adapters only (engine.lora)."""
        import deepspeed
        import torch

        torch.manual_seed(seed)
        deepspeed.init_distributed(dist_backend=device.dist_backend(), verbose=False)
        model = MODEL_KINDS[model_kind](model_path, getattr(torch, dtype))
        frozen = freeze_routers(model) if freeze_router else []
        if lora is not None:
            from engine.lora import apply_lora

            model = apply_lora(model, lora, task="SEQ_CLS" if model_kind == "reward_model" else "CAUSAL_LM")
        self.lora = lora is not None
        opt_cfg = ds_config.pop("_optimizer")
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=opt_cfg["lr"], betas=tuple(opt_cfg["betas"]), weight_decay=opt_cfg["weight_decay"])
        self.engine, self.optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=ds_config)
        self.top_k = getattr(model.config, "num_experts_per_tok", None) or 1
        return {"rank": self.rank, "params": sum(p.numel() for p in model.parameters()), "frozen": frozen,
                "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}

    # ------------------------------------------------------------------ steps
    def train_step(self, micro_batches: list[dict], lr: float, objective: str, **kwargs: Any) -> dict:
        """One optimizer step over this rank's micro-batches (gradient accumulation)."""
        self._resident("train_step")
        from engine.objectives import get_objective

        from align.algos.rollout_correction import merge_stats

        fn = get_objective(objective)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.engine.train()
        parts = []
        t0 = time.perf_counter()
        for mb in micro_batches:
            loss, metrics = fn(self.engine, mb, top_k=self.top_k, **kwargs)
            self.engine.backward(loss)
            self.engine.step()
            parts.append(metrics)
        totals = merge_stats(parts)  # sums, except *_min / *_max
        totals["grad_norm"] = float(self.engine.get_global_grad_norm() or 0.0)
        totals["step_seconds"] = time.perf_counter() - t0
        totals["rss_peak_mb"] = device.peak_rss_mb()
        return totals

    def eval_step(self, micro_batches: list[dict], objective: str, **kwargs: Any) -> dict:
        self._resident("eval_step")
        import torch

        from engine.objectives import get_objective

        fn = get_objective(objective)
        self.engine.eval()
        totals: dict[str, float] = {}
        with torch.no_grad():
            for mb in micro_batches:
                _, metrics = fn(self.engine, mb, top_k=self.top_k, **kwargs)
                for k, v in metrics.items():
                    totals[k] = totals.get(k, 0.0) + v
        return totals

    def logprobs(self, micro_batches: list[dict], temperature: float = 1.0, chunk_tokens: int = 1024,
                 record_routes: bool = False, without_replay: bool = False, adapters: bool = True) -> list:
        """Log-probs of each micro-batch's tokens under its loss_mask, from logits / temperature: [B, T-1] each.

        A micro-batch with `routes` ([L, B*T, k], the rollout engine's: R3) is scored with those experts
        replayed (engine.routing). With `record_routes` each item is (log-probs, the routes used, int16: R2
        keeps them for the updates); with `without_replay` it is (log-probs, log-probs of a second forward
        without the replay), to measure what the replay changes. `adapters=False` (LoRA): the base model with
        the adapters disabled, i.e. the starting model, which serves as the KL reference without a second copy.
        """
        self._resident("logprobs")
        import torch

        from engine.objectives import sequence_logprobs
        from engine.routing import routing

        self.engine.eval()
        out = []
        off = self.engine.module.disable_adapter() if not adapters and self.lora else _null()
        with torch.no_grad(), off:
            for mb in micro_batches:
                with routing(self.engine, replay=mb.get("routes")) as seen:
                    lp = sequence_logprobs(self.engine, mb, temperature, chunk_tokens).cpu()
                if record_routes:
                    out.append((lp, seen.tensor().to(torch.int16).cpu()))
                elif without_replay:
                    free = {k: v for k, v in mb.items() if k != "routes"}
                    out.append((lp, sequence_logprobs(self.engine, free, temperature, chunk_tokens).cpu()))
                else:
                    out.append(lp)
        return out

    def rewards(self, micro_batches: list[dict]) -> list:
        """Reward-model scores of each micro-batch's sequences: list of [B] tensors."""
        self._resident("rewards")
        import torch

        from engine.objectives import reward_scores

        self.engine.eval()
        with torch.no_grad():
            return [reward_scores(self.engine, mb).float().cpu() for mb in micro_batches]

    # ------------------------------------------------------------------ swap (colocated placement)
    def offload(self) -> dict:
        """Free the accelerator: parameters, gradients and optimizer states to host memory (DeepSpeed's
        `offload_states`), or on CPU spilled to a file (engine.offload.Spill). Until `reload`, every call that
        reads them is refused."""
        if self.offloaded:
            raise RuntimeError("TrainWorker.offload: the states are offloaded already (the swap order is wrong)")
        self.offloaded = True
        if device.has_cuda():
            return _swap(self.engine, "offload_states")
        from engine.offload import Spill, tensors_of

        if self.spill is not None:
            self.spill.close()
        # built anew each time: the optimizer's states appear at the first step, after the first offload
        self.spill = Spill(tensors_of(self.engine.module, self.engine.optimizer))
        rss = device.rss_mb()
        out = self.spill.offload()
        return {**out, "rss_freed_mb": rss - device.rss_mb()}

    def reload(self) -> dict:
        if not self.offloaded:
            raise RuntimeError("TrainWorker.reload: the states are not offloaded (the swap order is wrong)")
        self.offloaded = False
        return _swap(self.engine, "reload_states") if device.has_cuda() else self.spill.reload()

    def _resident(self, what: str) -> None:
        if self.offloaded:
            raise RuntimeError(f"TrainWorker.{what}: the parameters and optimizer states are offloaded (colocated "
                               f"swap); the scheduler must reload the trainer first. This is a wrong swap order.")

    # ------------------------------------------------------------------ state
    def save_checkpoint(self, folder: str, tag: str, client_state: dict) -> None:
        self._resident("save_checkpoint")
        self.engine.save_checkpoint(folder, tag=tag, client_state=client_state)

    def load_checkpoint(self, folder: str, tag: str) -> dict:
        self._resident("load_checkpoint")
        _, client_state = self.engine.load_checkpoint(folder, tag=tag)
        return client_state

    def save_hf(self, folder: str, tokenizer_src: str) -> None:
        """Write a standard HF folder (rank 0; all ranks join the ZeRO-3 gather)."""
        self._resident("save_hf")
        import deepspeed
        import transformers

        module = self.engine.module
        params = list(module.parameters())
        zero3 = self.engine.zero_optimization_stage() == 3
        ctx = deepspeed.zero.GatheredParameters(params, modifier_rank=None) if zero3 else _null()
        with ctx:
            if self.rank == 0:
                tmp = Path(folder + ".tmp")
                if self.lora:  # the merged model (loads without peft), and the adapters beside it
                    from engine import lora

                    merged = {n: t.detach().clone() for n, t in lora.merged_tensors(module)}
                    lora.base_model(module).save_pretrained(str(tmp), state_dict=merged, safe_serialization=True)
                    module.save_pretrained(str(tmp / "adapter"))
                else:
                    module.save_pretrained(str(tmp), safe_serialization=True)
                transformers.AutoTokenizer.from_pretrained(tokenizer_src).save_pretrained(str(tmp))
                _copy_generation_config(tokenizer_src, tmp)
                tmp.rename(folder)

    def weight_buckets(self, bucket_mb: float = 256.0) -> Iterator[list]:
        """The full model weights (in-memory layout, LoRA merged), `bucket_mb` at a time: (name, tensor) views on
        rank 0, empty lists elsewhere. Iterate it on every rank, to the end: under ZeRO-3 the parameters are
        partitioned and gathered collectively, one bucket at a time (a LoRA model at once, since merging needs
        base and adapters together), so no rank holds more than a bucket of gathered weights beyond its
        partition. A bucket's tensors are valid until the next one is asked for."""
        self._resident("weight_buckets")
        import deepspeed

        module, bucket_bytes = self.engine.module, int(bucket_mb * 2**20)
        zero3 = self.engine.zero_optimization_stage() == 3
        if zero3 and not self.lora:
            for chunk in _chunks(list(module.named_parameters()), bucket_bytes):
                with deepspeed.zero.GatheredParameters([p for _, p in chunk], modifier_rank=None):
                    yield [(n, p.detach()) for n, p in chunk] if self.rank == 0 else []
            yield [(n, b.detach()) for n, b in ws.persistent_buffers(module)] if self.rank == 0 else []
            return
        ctx = deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None) if zero3 else _null()
        with ctx:
            if self.rank == 0:
                yield from ws.iter_buckets(self._full_weights(module), bucket_bytes)

    def _full_weights(self, module) -> Iterator:
        if self.lora:  # W + scale * B A where adapted, under the base model's names
            from engine.lora import merged_tensors

            yield from ((n, t.detach()) for n, t in merged_tensors(module))
        else:
            yield from ((n, p.detach()) for n, p in [*module.named_parameters(), *ws.persistent_buffers(module)])

    def named_tensors(self, bucket_mb: float = 256.0) -> list:
        """All of `weight_buckets` as CPU copies (rank 0; [] elsewhere; call it on every rank): the weights
        through Ray (RolloutEngine.update_weights). Copies, since ZeRO keeps parameters as views of flat
        buffers (pickling a view ships the whole buffer) and frees gathered storage."""
        self._resident("named_tensors")
        return [(n, t.to("cpu", copy=True)) for bucket in self.weight_buckets(bucket_mb) for n, t in bucket]

    # ------------------------------------------------------------------ the sync group (engine.sync_group)
    def free_address(self) -> tuple[str, int]:
        """This worker's node IP and a port free there: where rank 0 hosts the rendezvous and the weight-sync group."""
        import ray

        from engine.cluster import free_port

        return ray.util.get_node_ip_address(), free_port()

    def join_sync_group(self, host: str, port: int, world_size: int, timeout_s: float, backend: str = "gloo") -> int:
        """Rank 0 hosts the weight-sync group as its rank 0 (the rollout workers join at the same time)."""
        from engine.sync_group import SyncGroup

        if self.rank == 0:
            self.sync_group = SyncGroup(host, port, world_size, 0, timeout_s, backend)
        return self.rank

    def send_weights(self, bucket_mb: float = 256.0) -> dict:
        """Broadcast the weights over the sync group, bucket by bucket (every rank calls it: ZeRO-3 gathers
        collectively; rank 0 sends). Rank 0 returns {'seconds', 'bytes', 'buckets', 'rss_extra_mb'}."""
        self._resident("send_weights")
        from engine import sync_group

        with device.RssWatch() as rss:
            buckets = self.weight_buckets(bucket_mb)
            if self.rank != 0:
                for _ in buckets:
                    pass
                return {}
            stats = sync_group.send(self.sync_group, buckets)
        return {**stats, "rss_extra_mb": rss.extra_mb}

    def send_plain(self, nbytes: int, bucket_mb: float) -> float:
        """Benchmark baseline: raw bytes through the same group (engine.sync_group.plain); seconds."""
        from engine import sync_group

        return sync_group.plain(self.sync_group, nbytes, int(bucket_mb * 2**20))

    def parameter_fingerprint(self) -> dict[str, float]:
        """Per-parameter sum of |w|: cheap evidence that parameters changed."""
        self._resident("parameter_fingerprint")
        return {n: float(p.detach().abs().sum()) for n, p in self.engine.module.named_parameters()}


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"


def freeze_routers(model) -> list[str]:
    """requires_grad=False on every router parameter; returns their names (empty for dense models)."""
    from engine.routing import router_modules

    ids = {id(p) for m in router_modules(model) for p in m.parameters()}
    frozen = [(n, p) for n, p in model.named_parameters() if id(p) in ids]
    for _, p in frozen:
        p.requires_grad_(False)
    return [n for n, _ in frozen]


def _chunks(named: list, max_bytes: float) -> list[list]:
    """Consecutive groups of (name, parameter) of at most `max_bytes` full (ZeRO-3: unpartitioned) size each."""
    out, cur, size = [], [], 0
    for name, p in named:
        b = getattr(p, "ds_numel", p.numel()) * p.element_size()
        if cur and size + b > max_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append((name, p))
        size += b
    return out + ([cur] if cur else [])


def _swap(ds_engine, method: str) -> dict:
    if not device.has_cuda():
        return {"noop": True, "reason": "cpu"}
    before = device.memory_allocated()
    t0 = time.perf_counter()
    getattr(ds_engine, method)()
    return {"seconds": time.perf_counter() - t0, "bytes_before": before, "bytes_after": device.memory_allocated()}


def _quiet() -> None:
    """Workers print through Ray: keep their logs to warnings that matter."""
    import warnings

    import transformers

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _copy_generation_config(src: str, dst: Path) -> None:
    gen = Path(src) / "generation_config.json"
    if gen.exists() and not (dst / "generation_config.json").exists():
        (dst / "generation_config.json").write_text(gen.read_text())
