"""The built-in default model: a ~12 M-parameter DeepSeek-V2 (MLA + DeepSeekMoE).

Its shape lives in `configs/models/tiny_v2.yaml`. This module trains the tokenizer
on the built-in corpus and writes a randomly initialised HF folder; the base model
is then produced by a short pretraining recipe (`recipes/tiny_base.yaml`, see
`align.workflows.models`). Both are cached under `$ALIGN_CACHE` (default
`~/.cache/align`) in a folder keyed by a hash of everything that shapes them, so
they are built once and rebuilt when the config, recipe or data change.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MODEL_YAML = REPO / "configs" / "models" / "tiny_v2.yaml"
BASE_RECIPE = REPO / "recipes" / "tiny_base.yaml"
BUILTIN_NAME = "tiny-v2"


def cache_root() -> Path:
    return Path(os.environ.get("ALIGN_CACHE", Path.home() / ".cache" / "align"))


def builtin_dir() -> Path:
    """Cache folder for the built-in model, keyed by what shapes it."""
    return cache_root() / "models" / f"{BUILTIN_NAME}-{_content_key()}"


@functools.lru_cache(maxsize=1)
def _content_key() -> str:
    """Hash of the model shape, the base recipe's settings (its comments do not count),
    this module, the tokenizer code and the corpus text itself (about a second to build):
    any change to what the base learns from names a new cache folder."""
    from align.data.builtin import load_builtin

    h = hashlib.sha1()
    for path in (MODEL_YAML, BASE_RECIPE):
        h.update(json.dumps(yaml.safe_load(path.read_text()), sort_keys=True).encode())
    for path in (Path(__file__), REPO / "align" / "models" / "tokenizer.py"):
        h.update(path.read_bytes())
    for split in ("train", "test"):
        for row in load_builtin("pretrain_corpus", split):
            h.update(row["text"].encode() + b"\0")
    return h.hexdigest()[:10]


@contextlib.contextmanager
def build_lock(folder: Path):
    """Serialise concurrent builds of the same cached artefact across processes."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def model_config(tokenizer):
    """The DeepseekV2Config of the built-in model, with the tokenizer's special ids."""
    from transformers import DeepseekV2Config

    spec = yaml.safe_load(MODEL_YAML.read_text())
    arch = spec.pop("architecture")
    return DeepseekV2Config(
        **spec,
        architectures=[arch],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def corpus_texts() -> list[str]:
    from align.data.builtin import load_builtin

    return [row["text"] for row in load_builtin("pretrain_corpus", "train")]


def build_init(out_dir: Path, seed: int = 0) -> Path:
    """Tokenizer + randomly initialised model, saved as a standard HF folder."""
    import torch
    from transformers import DeepseekV2ForCausalLM, GenerationConfig

    from align.models.tokenizer import train_tokenizer

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tok = train_tokenizer(corpus_texts(), tmp)
    torch.manual_seed(seed)
    model = DeepseekV2ForCausalLM(model_config(tok))
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    model.save_pretrained(str(tmp))
    tmp.rename(out_dir)
    return out_dir


def init_path() -> Path:
    """The randomly initialised built-in model (seconds to build)."""
    folder = builtin_dir()
    out = folder / "init"
    if not (out / "config.json").exists():
        with build_lock(folder):
            if not (out / "config.json").exists():
                print(f"[align] building the built-in tokenizer and initial model in {out}", flush=True)
                build_init(out)
    return out


def count_parameters(model) -> dict[str, int]:
    """Total and per-token activated parameters of a DeepSeek-V2 model."""
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    routed = sum(p.numel() for n, p in model.named_parameters() if ".mlp.experts." in n)
    k, e = cfg.num_experts_per_tok or 0, cfg.n_routed_experts or 1
    return {"total": total, "activated": total - routed + routed * k // e}
