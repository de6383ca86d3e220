"""`builtin:smollm2-moe`: SmolLM2-135M-Instruct upcycled into a DeepSeekMoE, exact at initialisation.

Every MoE layer keeps the dense model's function. The dense FFN's I = 1,536 neurons are split in
half: neurons [0, I/2) become the always-on shared expert, and each of E routed experts is a
copy of neurons [I/2, I). A token goes to k of the E copies with gate weights normalised to sum
to 1, so

    shared(x) + sum_j g_j * routed_j(x) = shared(x) + routed(x) = dense FFN(x).

Layer 0 stays dense (DeepSeek's `first_k_dense_replace = 1`). RL then trains real routed experts
on a model that already knows things: the copies drift apart as they see different tokens, and
the router learns once they differ (at initialisation its gradient is zero, since every choice
gives the same output).

Architecture: `Glm4MoeForCausalLM`, DeepSeek-V3's MoE block (sigmoid router with a
score-correction bias, group-limited top-k, shared experts) with SmolLM2's GQA attention; both
transformers and vLLM implement it. Defaults: E = 8 routed experts of width 768, top-2, one
shared expert of width 768; 432 M parameters in all, 1.5x the dense FFN's compute per token.

Departures, each for a measured reason:
- The output head is untied from the embedding (SmolLM2 ties them). vLLM 0.32's
  `Glm4MoeForCausalLM` ignores `tie_word_embeddings`: with a tied checkpoint its `lm_head`
  stays zero, the logits are flat, and greedy decoding emits token 0 forever (this was the
  "empty completions" of the first attempt). The head starts as a copy of the embedding.
- The score-correction bias (DeepSeek-V3's auxiliary-loss-free balancing) stays at zero and is
  not updated: the bias-update rule is not implemented; it is synced as a buffer like any other.
- Router weights start at N(0, 0.02^2) (seeded), so that tokens spread over the experts from the
  first step; a zero router would tie every score and send all tokens to the same two copies.

Converted once from `builtin:smollm2-135m` into `$ALIGN_CACHE/models/smollm2-moe-<key>`, the
key hashing the dense model's key and this module.
"""
from __future__ import annotations

import functools
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from align.models import smollm2
from align.models.builtin import build_lock, cache_root

NAME = "smollm2-moe"


@dataclass(frozen=True)
class Upcycle:
    routed_experts: int = 8
    top_k: int = 2
    router_std: float = 0.02
    seed: int = 0
    layers: int | None = None  # keep only the first `layers` decoder layers (tests); None: all 30


@functools.lru_cache(maxsize=1)
def _content_key() -> str:
    return hashlib.sha1(smollm2._content_key().encode() + Path(__file__).read_bytes()).hexdigest()[:10]


def path() -> Path:
    """The upcycled HF folder (built on first use from the dense model, ~1 minute; then cached)."""
    folder = cache_root() / "models" / f"{NAME}-{_content_key()}"
    if (folder / "config.json").exists():
        return folder
    dense = smollm2.path()
    with build_lock(folder.parent / f".{folder.name}"):
        if not (folder / "config.json").exists():
            build(dense, folder)
    return folder


def moe_config(dense_config, spec: Upcycle):
    """The Glm4MoeConfig of the upcycle of a dense Llama config."""
    import transformers

    c = dense_config
    return transformers.Glm4MoeConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
        num_hidden_layers=spec.layers or c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_key_value_heads, head_dim=getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
        max_position_embeddings=c.max_position_embeddings, rms_norm_eps=c.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": c.rope_parameters["rope_theta"], "partial_rotary_factor": 1.0},
        tie_word_embeddings=False,  # vLLM's Glm4Moe would leave a tied lm_head at zero (module docstring)
        attention_bias=False, use_qk_norm=False, hidden_act=c.hidden_act,
        moe_intermediate_size=c.intermediate_size // 2, n_shared_experts=1, n_routed_experts=spec.routed_experts,
        num_experts_per_tok=spec.top_k, norm_topk_prob=True, routed_scaling_factor=1.0, n_group=1, topk_group=1,
        first_k_dense_replace=1, num_mtp_layers=0,
        bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id,
        architectures=["Glm4MoeForCausalLM"])


def upcycled_state(dense_state: dict, config, spec: Upcycle) -> dict:
    """The MoE state dict (transformers' in-memory layout) from the dense one.

    Per MoE layer l (H hidden, I = dense width, J = I/2, E experts):
      shared_experts.{gate,up}_proj.weight [J, H] = dense {gate,up}[:J];  down [H, J] = dense down[:, :J]
      experts.gate_up_proj [E, 2J, H] = E copies of cat(gate[J:], up[J:]);  experts.down_proj [E, H, J] = copies of down[:, J:]
      gate.weight [E, H] ~ N(0, router_std^2);  gate.e_score_correction_bias [E] = 0
    """
    import torch

    gen = torch.Generator().manual_seed(spec.seed)
    layers, j, e = config.num_hidden_layers, config.moe_intermediate_size, config.n_routed_experts
    out = {k: v for k, v in dense_state.items() if ".mlp." not in k and not _beyond(k, layers)}
    out["lm_head.weight"] = dense_state.get("lm_head.weight", dense_state["model.embed_tokens.weight"]).clone()
    for layer in range(layers):
        p = f"model.layers.{layer}.mlp."
        gate, up, down = (dense_state[p + f"{w}_proj.weight"] for w in ("gate", "up", "down"))
        if layer < config.first_k_dense_replace:
            out.update({p + f"{w}_proj.weight": t for w, t in (("gate", gate), ("up", up), ("down", down))})
            continue
        out[p + "shared_experts.gate_proj.weight"] = gate[:j].clone()
        out[p + "shared_experts.up_proj.weight"] = up[:j].clone()
        out[p + "shared_experts.down_proj.weight"] = down[:, :j].clone()
        out[p + "experts.gate_up_proj"] = torch.cat([gate[j:], up[j:]]).unsqueeze(0).repeat(e, 1, 1)
        out[p + "experts.down_proj"] = down[:, j:].unsqueeze(0).repeat(e, 1, 1)
        out[p + "gate.weight"] = torch.randn(e, config.hidden_size, generator=gen) * spec.router_std
        out[p + "gate.e_score_correction_bias"] = torch.zeros(e)
    return out


def _beyond(name: str, layers: int) -> bool:
    parts = name.split(".")
    return len(parts) > 2 and parts[1] == "layers" and int(parts[2]) >= layers


def upcycle(dense, spec: Upcycle = Upcycle()):
    """A Glm4MoeForCausalLM equal in function to the dense model `dense` (first `spec.layers` layers)."""
    import torch
    import transformers

    config = moe_config(dense.config, spec)
    with torch.device("meta"):
        moe = transformers.Glm4MoeForCausalLM(config)
    state = upcycled_state(dense.state_dict(), config, spec)
    result = moe.load_state_dict(state, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys, result
    moe.model.rotary_emb = type(moe.model.rotary_emb)(config)  # a buffer computed at init, not in the state dict
    return moe.eval()


def build(dense_folder: Path, folder: Path, spec: Upcycle = Upcycle()) -> None:
    import torch
    import transformers

    print(f"[align] upcycling SmolLM2-135M-Instruct into a DeepSeekMoE ({spec.routed_experts} routed experts, "
          f"top-{spec.top_k}, 1 shared) into {folder} (once)", flush=True)
    dense = transformers.AutoModelForCausalLM.from_pretrained(dense_folder, dtype=torch.float32)
    moe = upcycle(dense, spec)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    moe.save_pretrained(tmp)
    transformers.AutoTokenizer.from_pretrained(dense_folder).save_pretrained(tmp)
    tmp.rename(folder)
